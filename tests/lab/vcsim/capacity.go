package main

import (
	"bytes"
	"fmt"
	"io"
	"net/http"
	"sync"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// Powered-on VMs use their host's memory and CPU, DRS places a VM at power-on
// on the host of its cluster with the most free memory, and a power-on that no
// host can hold fails with vCenter's insufficient-resources fault. 0.24 keeps
// host quick stats as built and powers a VM on wherever it was registered.
//
// A host's usage is its own (what the inventory gave it, less the inventory's
// powered-on VMs on it) plus, for every powered-on VM whose runtime.host it
// is, the VM's configured memory and a tenth of its vCPUs' MHz (the lab's VMs
// have no guest: an idle one). Memory is counted as reserved, as in a cluster
// whose VMs reserve all their memory: a VM fits a host when its memoryMB is at
// most the host's memorySize less overallMemoryUsage.
//
// The VirtualMachine type cannot be wrapped (0.24 asserts *VirtualMachine in
// too many places), so this works at the HTTP level: the placement runs before
// the simulator's PowerOnVM_Task, and the usage is recomputed after every call
// that can change which VMs run where.

// idleCPUShare is the share (1/idleCPUShare) of its vCPUs' MHz a powered-on VM uses.
const idleCPUShare = 10

type usage struct{ memoryMB, cpuMhz int64 }

// hostUsage holds each host's own usage, without its VMs.
var hostUsage = struct {
	sync.Mutex
	own map[types.ManagedObjectReference]usage
}{own: map[types.ManagedObjectReference]usage{}}

// placementLock serialises power-ons, so that two concurrent ones cannot both
// take the last free memory of a host.
var placementLock sync.Mutex

// usageMethods are the calls after which the hosts' usage is recomputed.
var usageMethods = []string{
	"PowerOnVM_Task", "PowerOffVM_Task", "SuspendVM_Task", "ResetVM_Task", "ShutdownGuest",
	"PowerOnMultiVM_Task", "Destroy_Task", "UnregisterVM", "RegisterVM_Task", "CreateVM_Task",
	"CloneVM_Task", "RelocateVM_Task", "MigrateVM_Task", "ReconfigVM_Task", "MarkAsTemplate",
	"RevertToSnapshot_Task", "RevertToCurrentSnapshot_Task", "ImportVApp", "HttpNfcLeaseComplete",
	"AddHost_Task", "AddStandaloneHost_Task",
}

// resetHostUsage takes each host's current usage, less its powered-on VMs, as
// its own usage: run once the inventory is built.
func resetHostUsage() {
	hostUsage.Lock()
	hostUsage.own = map[types.ManagedObjectReference]usage{}
	hostUsage.Unlock()
	refreshHostUsage()
}

// refreshHostUsage recomputes every host's quick stats from its own usage and
// its powered-on VMs. A host seen for the first time (added through the API)
// keeps its current figures as its own usage. It reports whether any changed.
func refreshHostUsage() bool {
	hostUsage.Lock()
	defer hostUsage.Unlock()

	vms := vmUsageByHost()
	changed := false
	for _, e := range simulator.Map.All("HostSystem") {
		host := e.(*simulator.HostSystem)
		stats := host.Summary.QuickStats
		running := vms[host.Self]
		own, known := hostUsage.own[host.Self]
		if !known {
			own = usage{
				memoryMB: max64(int64(stats.OverallMemoryUsage)-running.memoryMB, 0),
				cpuMhz:   max64(int64(stats.OverallCpuUsage)-running.cpuMhz, 0),
			}
			hostUsage.own[host.Self] = own
		}
		hw := host.Summary.Hardware
		memory := own.memoryMB + running.memoryMB
		cpu := min64(own.cpuMhz+running.cpuMhz, int64(hw.CpuMhz)*int64(hw.NumCpuCores))
		if int64(stats.OverallMemoryUsage) == memory && int64(stats.OverallCpuUsage) == cpu {
			continue
		}
		changed = true
		simulator.Map.WithLock(host, func() {
			simulator.Map.Update(host, []types.PropertyChange{
				{Name: "summary.quickStats.overallMemoryUsage", Val: int32(memory)},
				{Name: "summary.quickStats.overallCpuUsage", Val: int32(cpu)},
			})
		})
	}
	return changed
}

// vmUsageByHost sums the usage of the powered-on VMs by runtime.host. The
// registry's VMs are read rather than each host's vm list, which 0.24's
// RelocateVM_Task does not maintain.
func vmUsageByHost() map[types.ManagedObjectReference]usage {
	sums := map[types.ManagedObjectReference]usage{}
	for _, e := range simulator.Map.All("VirtualMachine") {
		vm, ok := e.(*simulator.VirtualMachine)
		if !ok || vm.Runtime.Host == nil || vm.Config == nil ||
			vm.Runtime.PowerState != types.VirtualMachinePowerStatePoweredOn {
			continue
		}
		host, ok := simulator.Map.Get(*vm.Runtime.Host).(*simulator.HostSystem)
		if !ok {
			continue
		}
		sum := sums[host.Self]
		sum.memoryMB += int64(vm.Config.Hardware.MemoryMB)
		sum.cpuMhz += int64(vm.Config.Hardware.NumCPU) * int64(host.Summary.Hardware.CpuMhz) / idleCPUShare
		sums[host.Self] = sum
	}
	return sums
}

// freeMemoryMB is what a VM can still reserve on host.
func freeMemoryMB(host *simulator.HostSystem) int64 {
	return host.Summary.Hardware.MemorySize/mib - int64(host.Summary.QuickStats.OverallMemoryUsage)
}

// withCapacity runs the power-on placement before next (the simulator's SOAP
// handler) and recomputes the hosts' usage after the calls in usageMethods.
func withCapacity(next http.Handler) http.Handler {
	return onSOAPCall(next, func(w http.ResponseWriter, r *http.Request, body []byte) {
		r.Body = io.NopCloser(bytes.NewReader(body))
		method := usageMethod(body)
		if method == nil {
			next.ServeHTTP(w, r)
			return
		}
		// Without a session the simulator answers NotAuthenticated: nothing is placed.
		if req, ok := method.Body.(*types.PowerOnVM_Task); ok && sessionAccepted(next, r) {
			placementLock.Lock()
			defer placementLock.Unlock()
			if vm, fault := placeForPowerOn(req); fault != nil {
				writeTask(w, "PowerOnVM_TaskResponse", failedTask(vm, "powerOn", fault))
				return
			}
		}
		res := newBufferedResponse()
		next.ServeHTTP(res, r)
		if refreshHostUsage() {
			refreshSummaries() // usageSummary follows the hosts' usage
		}
		res.copyTo(w)
	})
}

// usageMethod decodes the call when it may be one of usageMethods.
func usageMethod(body []byte) *simulator.Method {
	for _, name := range usageMethods {
		if !bytes.Contains(body, []byte(name)) {
			continue
		}
		method, err := simulator.UnmarshalBody(types.TypeFunc(), body)
		if err != nil {
			return nil
		}
		for _, known := range usageMethods {
			if method.Name == known {
				return method
			}
		}
		return nil
	}
	return nil
}

// sessionAccepted reports whether the simulator accepts r's session.
func sessionAccepted(next http.Handler, r *http.Request) bool {
	return checkSession(next, r).status == http.StatusOK
}

// placementFault is a power-on refused for lack of memory.
type placementFault struct {
	fault   types.BaseMethodFault
	message string
}

// placeForPowerOn chooses the host a power-on runs on and moves the VM there
// (runtime.host and the hosts' vm lists; its resource pool stays), or returns
// the fault vCenter would fail the task with. The candidates are, as vCenter:
// the host the call names; else, in a DRS-enabled cluster, its connected
// hosts not in maintenance mode that mount all the VM's datastores, the one
// with the most free memory winning (ties: the cluster's host order); else the
// VM's current host. Calls the simulator refuses anyway (unknown VM, a
// template, a VM already on) are left to it.
func placeForPowerOn(req *types.PowerOnVM_Task) (*simulator.VirtualMachine, *placementFault) {
	vm, ok := simulator.Map.Get(req.This).(*simulator.VirtualMachine)
	if !ok || vm.Config == nil || vm.Config.Template || vm.Runtime.Host == nil ||
		vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOn {
		return vm, nil
	}
	current, ok := simulator.Map.Get(*vm.Runtime.Host).(*simulator.HostSystem)
	if !ok {
		return vm, nil
	}
	refreshHostUsage()

	candidates := []*simulator.HostSystem{current}
	cluster, drs := drsCluster(current)
	if req.Host != nil {
		if named, ok := simulator.Map.Get(*req.Host).(*simulator.HostSystem); ok && *named.Parent == *current.Parent {
			candidates = []*simulator.HostSystem{named}
		}
	} else if drs {
		candidates = drsCandidates(cluster, vm)
	}

	needed := int64(vm.Config.Hardware.MemoryMB)
	var best *simulator.HostSystem
	for _, host := range candidates {
		if best == nil || freeMemoryMB(host) > freeMemoryMB(best) {
			best = host
		}
	}
	if best != nil && freeMemoryMB(best) >= needed {
		moveVM(vm, best)
		return vm, nil
	}
	return vm, insufficientMemory(vm, candidates, best, cluster)
}

// drsCluster is host's cluster and whether DRS is enabled on it.
func drsCluster(host *simulator.HostSystem) (*simulator.ClusterComputeResource, bool) {
	cluster, ok := simulator.Map.Get(*host.Parent).(*simulator.ClusterComputeResource)
	if !ok {
		return nil, false
	}
	config, ok := cluster.ConfigurationEx.(*types.ClusterConfigInfoEx)
	drs := ok && config.DrsConfig.Enabled != nil && *config.DrsConfig.Enabled
	return cluster, drs
}

// drsCandidates are the hosts of cluster DRS may start vm on.
func drsCandidates(cluster *simulator.ClusterComputeResource, vm *simulator.VirtualMachine) []*simulator.HostSystem {
	var hosts []*simulator.HostSystem
	for _, ref := range cluster.Host {
		host, ok := simulator.Map.Get(ref).(*simulator.HostSystem)
		if ok && effective(host) && mountsAll(host, vm.Datastore) {
			hosts = append(hosts, host)
		}
	}
	return hosts
}

func mountsAll(host *simulator.HostSystem, datastores []types.ManagedObjectReference) bool {
	for _, ds := range datastores {
		if simulator.FindReference(host.Datastore, ds) == nil {
			return false
		}
	}
	return true
}

// moveVM registers vm on host, as DRS's initial placement does.
func moveVM(vm *simulator.VirtualMachine, host *simulator.HostSystem) {
	from := *vm.Runtime.Host
	if from == host.Self {
		return
	}
	if old, ok := simulator.Map.Get(from).(*simulator.HostSystem); ok {
		simulator.Map.RemoveReference(old, &old.Vm, vm.Self)
	}
	simulator.Map.AddReference(host, &host.Vm, vm.Self)
	simulator.Map.WithLock(vm, func() {
		to := host.Self
		simulator.Map.Update(vm, []types.PropertyChange{
			{Name: "runtime.host", Val: &to},
			{Name: "summary.runtime.host", Val: &to},
		})
	})
}

// insufficientMemory is vCenter's fault for a power-on no candidate host can
// hold: InsufficientMemoryResourcesFault (admission control of the cluster's
// resources) when DRS's candidates together have too little free memory, else
// InsufficientHostMemoryCapacityFault naming the host with the most (enough
// in total but no one host has it, or the one host the VM can run on lacks
// it). Both are InsufficientResourcesFault.
func insufficientMemory(vm *simulator.VirtualMachine, candidates []*simulator.HostSystem,
	best *simulator.HostSystem, cluster *simulator.ClusterComputeResource) *placementFault {
	needed := int64(vm.Config.Hardware.MemoryMB)
	prefix := fmt.Sprintf("Insufficient resources to power on %s: it needs %d MB of memory", vm.Name, needed)
	if best == nil {
		return &placementFault{
			fault: &types.InsufficientMemoryResourcesFault{Requested: needed * mib},
			message: fmt.Sprintf("%s, and cluster %s has no connected host outside maintenance mode "+
				"that mounts its datastores", prefix, cluster.Name),
		}
	}
	var total int64
	for _, host := range candidates {
		total += max64(freeMemoryMB(host), 0)
	}
	largest := max64(freeMemoryMB(best), 0)
	if len(candidates) > 1 && total < needed {
		return &placementFault{
			fault: &types.InsufficientMemoryResourcesFault{Unreserved: total * mib, Requested: needed * mib},
			message: fmt.Sprintf("%s; the available memory resources of cluster %s, %d MB, are insufficient "+
				"for the operation", prefix, cluster.Name, total),
		}
	}
	ref := best.Self
	fault := &types.InsufficientHostMemoryCapacityFault{Unreserved: largest * mib, Requested: needed * mib}
	fault.Host = &ref
	message := fmt.Sprintf("%s, and %s, the only host it can run on, has %d MB free", prefix, best.Name, largest)
	if len(candidates) > 1 {
		message = fmt.Sprintf("%s, and no host of cluster %s has that much free (the most is %d MB, on %s)",
			prefix, cluster.Name, largest, best.Name)
	}
	return &placementFault{fault: fault, message: message}
}

// failedTask is a finished task of obj that failed with f, its error a
// LocalizedMethodFault with f's message (0.24's tasks give the Go type's name).
func failedTask(obj mo.Reference, name string, f *placementFault) types.ManagedObjectReference {
	task := simulator.CreateTask(obj, name, func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		return nil, f.fault
	})
	ref := task.Run()
	simulator.Map.WithLock(task, func() {
		simulator.Map.Update(task, []types.PropertyChange{
			{Name: "info.error", Val: &types.LocalizedMethodFault{Fault: f.fault, LocalizedMessage: f.message}},
		})
	})
	return ref
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

func min64(a, b int64) int64 {
	if a < b {
		return a
	}
	return b
}
