package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

const (
	mib = int64(1) << 20
	gib = int64(1) << 30
)

// buildInventory creates inv inside the running simulator model.
//
// Objects are created through the vSphere API (an in-process client), so they
// get the same morefs, parents and side effects a real client would cause.
// The facts the API cannot set (hardware sizes, usage, capacity) and the
// multi-host relations the 0.24 simulator gets wrong are then written
// directly into the registry's managed objects.
func buildInventory(ctx context.Context, svc *simulator.Service, inv *Inventory, datastoreDir string) error {
	client, err := vim25.NewClient(ctx, svc)
	if err != nil {
		return err
	}
	root := object.NewRootFolder(client)

	for i := range inv.Datacenters {
		b := &dcBuilder{
			ctx:          ctx,
			client:       client,
			spec:         &inv.Datacenters[i],
			datastoreDir: datastoreDir,
			hosts:        map[string]*simulator.HostSystem{},
		}
		if err := b.build(root); err != nil {
			return fmt.Errorf("datacenter %s: %w", b.spec.Name, err)
		}
	}
	// The inventory's usage figures include its powered-on VMs (capacity.go).
	resetHostUsage()
	refreshSummaries()
	// Client-facing fix-ups go in last: the builder relies on 0.24's own
	// datastore and network systems.
	extendHosts(datastoreDir)
	installPropertyCollector()
	installExtensionManager()
	installVirtualDiskManager()
	installSearchIndex()
	materializeAllDisks(nil) // the inventory's VMs' disks (vm_disks.go)
	return nil
}

type dcBuilder struct {
	ctx          context.Context
	client       *vim25.Client
	spec         *Datacenter
	datastoreDir string

	folders *object.DatacenterFolders
	dc      *simulator.Datacenter
	hosts   map[string]*simulator.HostSystem
}

func (b *dcBuilder) build(root *object.Folder) error {
	dc, err := root.CreateDatacenter(b.ctx, b.spec.Name)
	if err != nil {
		return err
	}
	if b.folders, err = dc.Folders(b.ctx); err != nil {
		return err
	}
	b.dc = simulator.Map.Get(dc.Reference()).(*simulator.Datacenter)

	steps := []func() error{
		b.addClusters, b.addStandaloneHosts, b.addNetworks, b.addSwitches, b.addDatastores, b.addVMs,
		b.addFirewallRulesets,
	}
	for _, step := range steps {
		if err := step(); err != nil {
			return err
		}
	}
	return nil
}

func (b *dcBuilder) addClusters() error {
	for _, spec := range b.spec.Clusters {
		cluster, err := b.folders.HostFolder.CreateCluster(b.ctx, spec.Name, types.ClusterConfigSpecEx{})
		if err != nil {
			return fmt.Errorf("cluster %s: %w", spec.Name, err)
		}
		// CreateCluster ignores its spec in 0.24, so the initial DRS/HA
		// state goes through the same code path as a later reconfigure.
		// The other values are those vCenter gives a new cluster.
		config := &types.ClusterConfigSpecEx{
			DrsConfig: &types.ClusterDrsConfigInfo{
				Enabled:                   types.NewBool(spec.DRSEnabled),
				EnableVmBehaviorOverrides: types.NewBool(true),
				DefaultVmBehavior:         types.DrsBehaviorFullyAutomated,
				VmotionRate:               3,
			},
			DasConfig: &types.ClusterDasConfigInfo{
				Enabled:                 types.NewBool(spec.HAEnabled),
				HostMonitoring:          string(types.ClusterDasConfigInfoServiceStateEnabled),
				VmMonitoring:            string(types.ClusterDasConfigInfoVmMonitoringStateVmMonitoringDisabled),
				AdmissionControlEnabled: types.NewBool(true),
				FailoverLevel:           1,
			},
		}
		applyClusterConfig(simulator.Map.Get(cluster.Reference()).(*simulator.ClusterComputeResource), config, true)

		for _, h := range spec.Hosts {
			connect := types.HostConnectSpec{HostName: h.Name}
			task, err := cluster.AddHost(b.ctx, connect, true, nil, nil)
			if err := b.addHost(h, task, err); err != nil {
				return err
			}
		}
	}
	return nil
}

func (b *dcBuilder) addStandaloneHosts() error {
	for _, h := range b.spec.StandaloneHosts {
		connect := types.HostConnectSpec{HostName: h.Name}
		task, err := b.folders.HostFolder.AddStandaloneHost(b.ctx, connect, true, nil, nil)
		if err := b.addHost(h, task, err); err != nil {
			return err
		}
	}
	return nil
}

// addHost waits for the task that adds spec's host and applies its facts.
func (b *dcBuilder) addHost(spec Host, task *object.Task, err error) error {
	ref, err := taskResult(b.ctx, task, err)
	if err != nil {
		return fmt.Errorf("host %s: %w", spec.Name, err)
	}
	host := simulator.Map.Get(ref).(*simulator.HostSystem)
	applyHostFacts(host, spec)
	b.hosts[spec.Name] = host
	return nil
}

func applyHostFacts(host *simulator.HostSystem, spec Host) {
	memory := spec.MemoryMB * mib

	hw := host.Summary.Hardware
	hw.MemorySize = memory
	hw.CpuMhz = spec.CPUMhz
	hw.NumCpuPkgs = spec.CPUSockets
	hw.NumCpuCores = spec.CPUCores
	hw.NumCpuThreads = spec.CPUThreads

	host.Hardware.MemorySize = memory
	host.Hardware.CpuInfo.NumCpuPackages = spec.CPUSockets
	host.Hardware.CpuInfo.NumCpuCores = spec.CPUCores
	host.Hardware.CpuInfo.NumCpuThreads = spec.CPUThreads
	host.Hardware.CpuInfo.Hz = int64(spec.CPUMhz) * 1000 * 1000

	host.Summary.QuickStats.OverallMemoryUsage = int32(spec.MemoryUsedMB)
	host.Summary.QuickStats.OverallCpuUsage = spec.CPUUsedMhz

	// Summary.Runtime points at Runtime, so both property paths agree.
	host.Runtime.ConnectionState = types.HostSystemConnectionState(spec.ConnectionState)
	host.Runtime.InMaintenanceMode = spec.MaintenanceMode

	// The simulator keeps two copies of the host's network configuration
	// (HostSystem config.network and HostNetworkSystem networkInfo); share
	// one so port groups added later show up in both.
	ns := simulator.Map.Get(*host.ConfigManager.NetworkSystem).(*simulator.HostNetworkSystem)
	ns.NetworkInfo = host.Config.Network
	ownFirewall(host)
}

func (b *dcBuilder) addFirewallRulesets() error {
	for _, spec := range b.spec.FirewallRulesets {
		for _, host := range b.selectHosts(spec.HostSelector) {
			if err := addRuleset(host, spec); err != nil {
				return err
			}
		}
	}
	return nil
}

func (b *dcBuilder) addNetworks() error {
	for _, spec := range b.spec.Networks {
		hosts := b.selectHosts(spec.HostSelector)
		network, err := b.network(spec, hosts[0])
		if err != nil {
			return fmt.Errorf("network %s: %w", spec.Name, err)
		}
		for _, host := range hosts {
			attachPortgroup(host, network, types.HostPortGroupSpec{Name: spec.Name, VlanId: spec.VLAN, VswitchName: vSwitch})
		}
	}
	return nil
}

// network returns the datacenter's Network called spec.Name, creating it
// through a port group on host when needed: the API has no other way to
// create a standard network.
func (b *dcBuilder) network(spec Network, host *simulator.HostSystem) (*mo.Network, error) {
	if network := networkNamed(b.dc, spec.Name); network != nil {
		return network, nil
	}
	ns := object.NewHostNetworkSystem(b.client, *host.ConfigManager.NetworkSystem)
	err := ns.AddPortGroup(b.ctx, types.HostPortGroupSpec{
		Name:        spec.Name,
		VlanId:      spec.VLAN,
		VswitchName: vSwitch,
		Policy:      types.HostNetworkPolicy{},
	})
	if err != nil {
		return nil, err
	}
	return networkNamed(b.dc, spec.Name), nil
}

func (b *dcBuilder) addDatastores() error {
	for _, spec := range b.spec.Datastores {
		hosts := b.selectHosts(spec.HostSelector)
		ds, err := b.createDatastore(spec, hosts[0])
		if err != nil {
			return fmt.Errorf("datastore %s: %w", spec.Name, err)
		}
		for _, host := range hosts {
			mountDatastore(ds, host)
		}
		applyDatastoreFacts(ds, spec, len(hosts))
	}
	return nil
}

// createDatastore creates the datastore once, through host. Creating it on
// every host, as a real client would, makes 0.24 replace the Datastore
// object each time, keeping only the last host's mount; further hosts are
// therefore mounted by mountDatastore.
func (b *dcBuilder) createDatastore(spec Datastore, host *simulator.HostSystem) (*simulator.Datastore, error) {
	// Both kinds of datastore are backed by a local directory: the simulator
	// stats it and keeps VM files in it.
	dir := filepath.Join(b.datastoreDir, b.spec.Name, spec.Name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, err
	}

	dss := object.NewHostDatastoreSystem(b.client, *host.ConfigManager.DatastoreSystem)
	var (
		ds  *object.Datastore
		err error
	)
	switch spec.Type {
	case datastoreNFS:
		// The simulator names a NAS datastore after its local path's base.
		ds, err = dss.CreateNasDatastore(b.ctx, types.HostNasVolumeSpec{
			RemoteHost: spec.RemoteHost,
			RemotePath: spec.RemotePath,
			LocalPath:  dir,
			AccessMode: string(types.HostMountModeReadWrite),
			Type:       string(types.HostFileSystemVolumeFileSystemTypeNFS),
		})
	default:
		ds, err = dss.CreateLocalDatastore(b.ctx, spec.Name, dir)
	}
	if err != nil {
		return nil, err
	}
	created := simulator.Map.Get(ds.Reference()).(*simulator.Datastore)
	renumberDatastore(created, host, b.dc)
	return created, nil
}

func applyDatastoreFacts(ds *simulator.Datastore, spec Datastore, mounts int) {
	capacity, free := spec.CapacityGB*gib, spec.FreeGB*gib

	ds.Summary.Capacity = capacity
	ds.Summary.FreeSpace = free
	ds.Summary.Accessible = true
	ds.Summary.MultipleHostAccess = types.NewBool(mounts > 1)
	ds.Summary.Type = string(types.HostFileSystemVolumeFileSystemTypeNFS)
	if spec.Type == datastoreLocal {
		ds.Summary.Type = string(types.HostFileSystemVolumeFileSystemTypeVMFS)
	}

	info := ds.Info.GetDatastoreInfo()
	info.FreeSpace = free
	info.MaxFileSize = free
	info.MaxMemoryFileSize = free
}

func (b *dcBuilder) addVMs() error {
	for _, spec := range b.spec.VMs {
		if err := b.addVM(spec); err != nil {
			return fmt.Errorf("vm %s: %w", spec.Name, err)
		}
	}
	return nil
}

func (b *dcBuilder) addVM(spec VM) error {
	host := b.hosts[spec.Host]
	datastore := spec.Datastore
	if datastore == "" {
		datastore = b.spec.datastoresOf(spec.Host)[0]
	}

	var extra []types.BaseOptionValue
	for key, value := range spec.ExtraConfig {
		extra = append(extra, &types.OptionValue{Key: key, Value: value})
	}
	config := types.VirtualMachineConfigSpec{
		Name:        spec.Name,
		GuestId:     string(types.VirtualMachineGuestOsIdentifierOtherGuest64),
		NumCPUs:     spec.CPUs,
		MemoryMB:    spec.MemoryMB,
		Annotation:  spec.Annotation,
		ExtraConfig: extra,
		Files:       &types.VirtualMachineFileInfo{VmPathName: fmt.Sprintf("[%s]", datastore)},
	}
	if len(spec.DisksMB) > 0 {
		config.DeviceChange = diskDeviceChanges(datastore, spec.DisksMB)
	}

	hostObj := object.NewHostSystem(b.client, host.Self)
	pool, err := hostObj.ResourcePool(b.ctx)
	if err != nil {
		return err
	}
	task, err := b.folders.VmFolder.CreateVM(b.ctx, config, pool, hostObj)
	ref, err := taskResult(b.ctx, task, err)
	if err != nil {
		return err
	}

	vm := simulator.Map.Get(ref).(*simulator.VirtualMachine)
	// The simulator sets config.annotation but not its summary copy.
	vm.Summary.Config.Annotation = spec.Annotation

	if spec.PowerState == powerOn {
		task, err := object.NewVirtualMachine(b.client, ref).PowerOn(b.ctx)
		if _, err := taskResult(b.ctx, task, err); err != nil {
			return err
		}
	}
	return nil
}

func (b *dcBuilder) selectHosts(s HostSelector) []*simulator.HostSystem {
	var hosts []*simulator.HostSystem
	for _, name := range b.spec.selectHosts(s) {
		hosts = append(hosts, b.hosts[name])
	}
	return hosts
}

// taskResult waits for a task started by a call that returned (task, err)
// and returns the moref it produced, if any.
func taskResult(ctx context.Context, task *object.Task, err error) (types.ManagedObjectReference, error) {
	if err != nil {
		return types.ManagedObjectReference{}, err
	}
	info, err := task.WaitForResult(ctx, nil)
	if err != nil {
		return types.ManagedObjectReference{}, err
	}
	ref, _ := info.Result.(types.ManagedObjectReference)
	return ref, nil
}
