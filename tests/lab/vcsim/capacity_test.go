package main

import (
	"context"
	"io"
	"net/http"
	"reflect"
	"strings"
	"testing"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/task"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// hostStats reads every host's memory use, CPU use and VMs through the property collector.
func hostStats(ctx context.Context, t *testing.T, client *vim25.Client) map[string]mo.HostSystem {
	t.Helper()
	var refs []types.ManagedObjectReference
	for _, e := range simulator.Map.All("HostSystem") {
		refs = append(refs, e.Reference())
	}
	var hosts []mo.HostSystem
	err := property.DefaultCollector(client).Retrieve(ctx, refs, []string{"name", "summary.quickStats", "vm"}, &hosts)
	if err != nil {
		t.Fatal(err)
	}
	byName := map[string]mo.HostSystem{}
	for _, h := range hosts {
		byName[h.Name] = h
	}
	return byName
}

func memoryUsed(h mo.HostSystem) int32 { return h.Summary.QuickStats.OverallMemoryUsage }

// newVM creates a powered-off VM in cluster's root pool on datastore, on
// host if given, else where the simulator registers it.
func newVM(ctx context.Context, t *testing.T, client *vim25.Client, name, cluster, datastore string,
	memoryMB int64, cpus int32, host *object.HostSystem) *object.VirtualMachine {
	t.Helper()
	cr := named("ClusterComputeResource", cluster).(*simulator.ClusterComputeResource)
	dc := datacenterOf(cr.Self)
	folder := object.NewFolder(client, dc.VmFolder)
	spec := types.VirtualMachineConfigSpec{
		Name: name, GuestId: string(types.VirtualMachineGuestOsIdentifierOtherGuest64),
		MemoryMB: memoryMB, NumCPUs: cpus,
		Files: &types.VirtualMachineFileInfo{VmPathName: "[" + datastore + "]"},
	}
	created, err := folder.CreateVM(ctx, spec, object.NewResourcePool(client, *cr.ResourcePool), host)
	ref, err := taskResult(ctx, created, err)
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return object.NewVirtualMachine(client, ref)
}

// startVM powers vm on and returns the task's error.
func startVM(ctx context.Context, vm *object.VirtualMachine) error {
	started, err := vm.PowerOn(ctx)
	if err != nil {
		return err
	}
	return started.Wait(ctx)
}

func must(t *testing.T, err error) {
	t.Helper()
	if err != nil {
		t.Fatal(err)
	}
}

func runtimeHost(ctx context.Context, t *testing.T, vm *object.VirtualMachine) string {
	t.Helper()
	var got mo.VirtualMachine
	must(t, vm.Properties(ctx, vm.Reference(), []string{"runtime.host", "summary.runtime.host"}, &got))
	if *got.Runtime.Host != *got.Summary.Runtime.Host {
		t.Errorf("runtime.host %v, summary.runtime.host %v", got.Runtime.Host, got.Summary.Runtime.Host)
	}
	return simulator.Map.Get(*got.Runtime.Host).(*simulator.HostSystem).Name
}

func TestPoweredOnVMsUseTheirHostsMemoryAndCPU(t *testing.T) {
	ctx, client, _ := labServer(t)
	start := hostStats(ctx, t, client)
	// The inventory's figures stand at start: legacy-db01 (8 GiB, on) is part of esx-b1's 12 GiB.
	if memoryUsed(start["esx-b1.lab.local"]) != 12288 || start["esx-b1.lab.local"].Summary.QuickStats.OverallCpuUsage != 2500 {
		t.Fatalf("esx-b1 at start: %+v", start["esx-b1.lab.local"].Summary.QuickStats)
	}
	legacy := object.NewVirtualMachine(client, named("VirtualMachine", "legacy-db01").Reference())
	off, err := legacy.PowerOff(ctx)
	must(t, err)
	must(t, off.Wait(ctx))
	if got := memoryUsed(hostStats(ctx, t, client)["esx-b1.lab.local"]); got != 12288-8192 {
		t.Errorf("esx-b1 with legacy-db01 off uses %d MB", got)
	}

	// Cluster-B has no DRS: a VM runs where it is registered.
	b2 := object.NewHostSystem(client, named("HostSystem", "esx-b2.lab.local").Reference())
	vm := newVM(ctx, t, client, "capacity-b", "Cluster-B", "nfs-b", 4096, 4, b2)
	before := hostStats(ctx, t, client)["esx-b2.lab.local"]
	if memoryUsed(before) != memoryUsed(start["esx-b2.lab.local"]) {
		t.Errorf("a powered-off VM uses memory: %d", memoryUsed(before))
	}
	must(t, startVM(ctx, vm))
	on := hostStats(ctx, t, client)["esx-b2.lab.local"]
	if memoryUsed(on) != memoryUsed(before)+4096 {
		t.Errorf("esx-b2 uses %d MB with a 4096 MB VM on, %d before", memoryUsed(on), memoryUsed(before))
	}
	// 4 vCPUs of esx-b2's 2300 MHz, idle: a tenth.
	if cpu := on.Summary.QuickStats.OverallCpuUsage - before.Summary.QuickStats.OverallCpuUsage; cpu != 4*2300/10 {
		t.Errorf("the VM adds %d MHz", cpu)
	}
	if runtimeHost(ctx, t, vm) != "esx-b2.lab.local" {
		t.Error("a VM of a cluster without DRS moved")
	}

	off, err = vm.PowerOff(ctx)
	must(t, err)
	must(t, off.Wait(ctx))
	if got := hostStats(ctx, t, client)["esx-b2.lab.local"]; !reflect.DeepEqual(got.Summary.QuickStats, before.Summary.QuickStats) {
		t.Errorf("after power off: %+v, before: %+v", got.Summary.QuickStats, before.Summary.QuickStats)
	}
	must(t, startVM(ctx, vm))
	off, err = vm.PowerOff(ctx)
	must(t, err)
	must(t, off.Wait(ctx))
	destroyed, err := vm.Destroy(ctx)
	must(t, err)
	must(t, destroyed.Wait(ctx))
	if got := memoryUsed(hostStats(ctx, t, client)["esx-b2.lab.local"]); got != memoryUsed(before) {
		t.Errorf("after destroy esx-b2 uses %d MB", got)
	}
	cluster := named("ClusterComputeResource", "Cluster-B").(*simulator.ClusterComputeResource)
	if demand := cluster.Summary.(*types.ClusterComputeResourceSummary).UsageSummary.MemDemandMB; demand != 12288-8192+8192+30720 {
		t.Errorf("Cluster-B's usageSummary.memDemandMB %d does not follow its hosts", demand)
	}
}

func TestDRSPlacesAPowerOnOnTheHostWithTheMostFreeMemory(t *testing.T) {
	ctx, client, _ := labServer(t)
	// Cluster-A free: esx-a1 40, esx-a2 88, esx-a3 80 GiB.
	a1 := object.NewHostSystem(client, named("HostSystem", "esx-a1.lab.local").Reference())
	first := newVM(ctx, t, client, "drs-1", "Cluster-A", "nfs-a", 16384, 2, a1)
	second := newVM(ctx, t, client, "drs-2", "Cluster-A", "nfs-a", 16384, 2, a1)
	pool := func(vm *object.VirtualMachine) types.ManagedObjectReference {
		var got mo.VirtualMachine
		must(t, vm.Properties(ctx, vm.Reference(), []string{"resourcePool"}, &got))
		return *got.ResourcePool
	}
	poolBefore := pool(first)

	must(t, startVM(ctx, first))
	if host := runtimeHost(ctx, t, first); host != "esx-a2.lab.local" {
		t.Errorf("the first VM went to %s", host)
	}
	must(t, startVM(ctx, second)) // esx-a2 now has 72 GiB free, esx-a3 80
	if host := runtimeHost(ctx, t, second); host != "esx-a3.lab.local" {
		t.Errorf("the second VM went to %s", host)
	}
	stats := hostStats(ctx, t, client)
	if memoryUsed(stats["esx-a2.lab.local"]) != 40960+16384 || memoryUsed(stats["esx-a3.lab.local"]) != 16384+16384 ||
		memoryUsed(stats["esx-a1.lab.local"]) != 24576 {
		t.Errorf("usage a1 %d, a2 %d, a3 %d", memoryUsed(stats["esx-a1.lab.local"]),
			memoryUsed(stats["esx-a2.lab.local"]), memoryUsed(stats["esx-a3.lab.local"]))
	}
	lists := func(host string, vm *object.VirtualMachine) bool {
		return simulator.FindReference(stats[host].Vm, vm.Reference()) != nil
	}
	if lists("esx-a1.lab.local", first) || !lists("esx-a2.lab.local", first) || !lists("esx-a3.lab.local", second) {
		t.Error("the hosts' vm lists do not follow the placement")
	}
	if pool(first) != poolBefore {
		t.Error("the VM changed resource pool")
	}

	// A host in maintenance mode is not a candidate, nor one that lacks the VM's datastore.
	a2 := named("HostSystem", "esx-a2.lab.local").(*simulator.HostSystem)
	a2.Runtime.InMaintenanceMode = true
	third := newVM(ctx, t, client, "drs-3", "Cluster-A", "nfs-a", 1024, 1, a1)
	must(t, startVM(ctx, third))
	if host := runtimeHost(ctx, t, third); host != "esx-a3.lab.local" {
		t.Errorf("with esx-a2 in maintenance the VM went to %s", host)
	}
	a2.Runtime.InMaintenanceMode = false
	local := newVM(ctx, t, client, "drs-local", "Cluster-A", "local-esx-a1", 1024, 1, a1)
	must(t, startVM(ctx, local))
	if host := runtimeHost(ctx, t, local); host != "esx-a1.lab.local" {
		t.Errorf("a VM on esx-a1's local datastore went to %s", host)
	}
}

func TestPowerOnWithoutRoomFailsWithInsufficientResources(t *testing.T) {
	ctx, client, _ := labServer(t)
	a1 := object.NewHostSystem(client, named("HostSystem", "esx-a1.lab.local").Reference())
	before := hostStats(ctx, t, client)

	cases := []struct {
		memoryMB int64
		check    func(types.BaseMethodFault) bool
	}{
		// 208 GiB free in the cluster, 88 at most on one host.
		{100 * 1024, func(f types.BaseMethodFault) bool {
			fault, ok := f.(*types.InsufficientHostMemoryCapacityFault)
			return ok && fault.Requested == 100*gib && fault.Unreserved == 88*gib &&
				*fault.Host == named("HostSystem", "esx-a2.lab.local").Reference()
		}},
		{300 * 1024, func(f types.BaseMethodFault) bool {
			fault, ok := f.(*types.InsufficientMemoryResourcesFault)
			return ok && fault.Requested == 300*gib && fault.Unreserved == 208*gib
		}},
	}
	for _, c := range cases {
		vm := newVM(ctx, t, client, "too-big", "Cluster-A", "nfs-a", c.memoryMB, 2, a1)
		err := startVM(ctx, vm)
		taskErr, ok := err.(task.Error)
		if !ok {
			t.Fatalf("%d MB: power-on returned %v", c.memoryMB, err)
		}
		if !c.check(taskErr.Fault()) {
			t.Errorf("%d MB: fault %#v", c.memoryMB, taskErr.Fault())
		}
		if _, ok := taskErr.Fault().(types.BaseInsufficientResourcesFault); !ok {
			t.Errorf("%T is not an InsufficientResourcesFault", taskErr.Fault())
		}
		if msg := taskErr.LocalizedMethodFault.LocalizedMessage; !strings.HasPrefix(msg, "Insufficient resources to power on too-big") {
			t.Errorf("message %q", msg)
		}
		var got mo.VirtualMachine
		must(t, vm.Properties(ctx, vm.Reference(), []string{"runtime.powerState"}, &got))
		if got.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOff {
			t.Errorf("the VM is %s", got.Runtime.PowerState)
		}
		destroyed, err := vm.Destroy(ctx)
		must(t, err)
		must(t, destroyed.Wait(ctx))
	}
	after := hostStats(ctx, t, client)
	for name, h := range before {
		if memoryUsed(after[name]) != memoryUsed(h) {
			t.Errorf("%s: %d MB used, %d before", name, memoryUsed(after[name]), memoryUsed(h))
		}
	}

	// Without DRS only the VM's own host counts: esx-b1 has 20 GiB free, esx-b2 40.
	b1 := object.NewHostSystem(client, named("HostSystem", "esx-b1.lab.local").Reference())
	vm := newVM(ctx, t, client, "no-drs", "Cluster-B", "nfs-b", 30*1024, 2, b1)
	err, ok := startVM(ctx, vm).(task.Error)
	if !ok {
		t.Fatal("a 30 GiB VM powered on on esx-b1")
	}
	fault, ok := err.Fault().(*types.InsufficientHostMemoryCapacityFault)
	if !ok || *fault.Host != b1.Reference() || fault.Unreserved != 20*gib ||
		!strings.Contains(err.LocalizedMethodFault.LocalizedMessage, "esx-b1.lab.local, the only host it can run on, has 20480 MB free") {
		t.Errorf("fault %#v: %s", err.Fault(), err.LocalizedMethodFault.LocalizedMessage)
	}
}

func TestHAAdmissionControlPolicyRoundTrip(t *testing.T) {
	ctx, client, _ := labServer(t)
	ref := named("ClusterComputeResource", "Cluster-A").Reference()
	cluster := object.NewClusterComputeResource(client, ref)
	a3 := named("HostSystem", "esx-a3.lab.local").Reference()

	policies := []types.BaseClusterDasAdmissionControlPolicy{
		&types.ClusterFailoverLevelAdmissionControlPolicy{FailoverLevel: 2},
		&types.ClusterFailoverResourcesAdmissionControlPolicy{CpuFailoverResourcesPercent: 25, MemoryFailoverResourcesPercent: 30},
		&types.ClusterFailoverHostAdmissionControlPolicy{FailoverHosts: []types.ManagedObjectReference{a3}},
	}
	for _, enabled := range []bool{true, false} {
		for _, policy := range policies {
			spec := &types.ClusterConfigSpecEx{DasConfig: &types.ClusterDasConfigInfo{
				AdmissionControlEnabled: types.NewBool(enabled),
				AdmissionControlPolicy:  policy,
			}}
			reconfigured, err := cluster.Reconfigure(ctx, spec, true)
			must(t, err)
			must(t, reconfigured.Wait(ctx))

			var got mo.ClusterComputeResource
			must(t, cluster.Properties(ctx, ref, []string{"configurationEx"}, &got))
			das := got.ConfigurationEx.(*types.ClusterConfigInfoEx).DasConfig
			if das.AdmissionControlEnabled == nil || *das.AdmissionControlEnabled != enabled {
				t.Errorf("admissionControlEnabled %v, sent %v", das.AdmissionControlEnabled, enabled)
			}
			if !reflect.DeepEqual(das.AdmissionControlPolicy, policy) {
				t.Errorf("read back %#v, sent %#v", das.AdmissionControlPolicy, policy)
			}
			// modify=true keeps what was not sent.
			if das.Enabled == nil || !*das.Enabled || das.HostMonitoring != "enabled" {
				t.Errorf("the rest of dasConfig changed: %+v", das)
			}
		}
	}
}

// The capacity inventory: Cluster-A's three hosts have 6 GiB free each (seed
// 001's first case: 18 GiB in total, no room for 10), Cluster-B's differ in size.
func TestCapacityInventoryHasHeterogeneousHosts(t *testing.T) {
	_, _, _, model := labModelOf(t, "inventories/capacity.json")
	ctx, client, _ := serveLab(t, model)
	stats := hostStats(ctx, t, client)
	free := map[string]int64{}
	threads := map[string]int16{}
	for name := range stats {
		host := named("HostSystem", name).(*simulator.HostSystem)
		free[name] = freeMemoryMB(host)
		threads[name] = host.Summary.Hardware.NumCpuThreads
	}
	want := map[string]int64{"esx-a1.lab.local": 6144, "esx-a2.lab.local": 6144, "esx-a3.lab.local": 6144,
		"esx-b1.lab.local": 53248, "esx-b2.lab.local": 28672, "esx-b3.lab.local": 14336}
	if !reflect.DeepEqual(free, want) {
		t.Errorf("free memory %v", free)
	}
	if threads["esx-b1.lab.local"] != 32 || threads["esx-b3.lab.local"] != 8 {
		t.Errorf("threads %v", threads)
	}

	a1 := object.NewHostSystem(client, named("HostSystem", "esx-a1.lab.local").Reference())
	big := newVM(ctx, t, client, "ten-gb", "Cluster-A", "nfs-a", 10240, 2, a1)
	if err, ok := startVM(ctx, big).(task.Error); !ok {
		t.Errorf("a 10 GiB VM powered on in Cluster-A: %v", err)
	} else if _, ok := err.Fault().(*types.InsufficientHostMemoryCapacityFault); !ok {
		t.Errorf("fault %T", err.Fault())
	}
	b3 := object.NewHostSystem(client, named("HostSystem", "esx-b3.lab.local").Reference())
	small := newVM(ctx, t, client, "four-gb", "Cluster-B", "nfs-b", 4096, 1, b3)
	must(t, startVM(ctx, small))
	if host := runtimeHost(ctx, t, small); host != "esx-b1.lab.local" {
		t.Errorf("the 4 GiB VM went to %s", host)
	}
}

func TestPowerOnNeedsASession(t *testing.T) {
	_, _, base := labServer(t)
	vm := named("VirtualMachine", "legacy-app01").(*simulator.VirtualMachine) // off, on esx-b3
	before := *vm.Runtime.Host
	cluster := named("ClusterComputeResource", "Cluster-B").(*simulator.ClusterComputeResource)
	// With DRS on, a placement would move it to esx-b2, the freest host.
	cluster.ConfigurationEx.(*types.ClusterConfigInfoEx).DrsConfig.Enabled = types.NewBool(true)
	body := `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">` +
		`<soapenv:Body><PowerOnVM_Task xmlns="urn:vim25"><_this type="VirtualMachine">` + vm.Self.Value +
		`</_this></PowerOnVM_Task></soapenv:Body></soapenv:Envelope>`
	res, err := http.Post(base+"/sdk", "text/xml", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var answer strings.Builder
	_, _ = io.Copy(&answer, res.Body)
	if res.StatusCode != http.StatusInternalServerError || !strings.Contains(answer.String(), "NotAuthenticated") {
		t.Errorf("without a session: %d %s", res.StatusCode, answer.String())
	}
	if *vm.Runtime.Host != before || vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOff {
		t.Errorf("the VM moved to %v or powered on (%s) without a session", vm.Runtime.Host, vm.Runtime.PowerState)
	}
}
