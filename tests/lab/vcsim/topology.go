package main

import (
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// vSwitch is the standard switch every simulated host is born with; the
// lab's port groups all live on it.
const vSwitch = "vSwitch0"

// attachPortgroup makes network a port group of host, in the host's network
// configuration and in the reference lists clients read (host.network,
// network.host, computeResource.network). Repeating it is harmless.
func attachPortgroup(host *simulator.HostSystem, network *mo.Network, vlan int32) {
	ensureHostPortgroup(host.Config.Network, network.Name, vlan)
	addRef(&host.Network, network.Self)
	addRef(&network.Host, host.Self)
	addRef(&computeResourceOf(host).Network, network.Self)
}

func ensureHostPortgroup(info *types.HostNetworkInfo, name string, vlan int32) {
	key := "key-vim.host.PortGroup-" + name
	sw := findVswitch(info, vSwitch)

	// ESX lists port group keys on the switch; the simulator's AddPortGroup
	// adds the bare name instead.
	listed := false
	for i, pg := range sw.Portgroup {
		if pg == name {
			sw.Portgroup[i] = key
		}
		listed = listed || sw.Portgroup[i] == key
	}
	if !listed {
		sw.Portgroup = append(sw.Portgroup, key)
	}

	for i := range info.Portgroup {
		if pg := &info.Portgroup[i]; pg.Key == key {
			pg.Vswitch = sw.Key
			pg.Spec.VlanId = vlan
			return
		}
	}

	var policy types.HostNetworkPolicy
	if sw.Spec.Policy != nil {
		policy = *sw.Spec.Policy
	}
	info.Portgroup = append(info.Portgroup, types.HostPortGroup{
		Key:            key,
		Vswitch:        sw.Key,
		ComputedPolicy: policy,
		Spec: types.HostPortGroupSpec{
			Name:        name,
			VlanId:      vlan,
			VswitchName: sw.Name,
		},
	})
}

func findVswitch(info *types.HostNetworkInfo, name string) *types.HostVirtualSwitch {
	for i := range info.Vswitch {
		if info.Vswitch[i].Name == name {
			return &info.Vswitch[i]
		}
	}
	// Every host is cloned from the simulator's ESX template, which has it.
	panic("host has no " + name)
}

// mountDatastore mounts ds on host, keeping the datastore's mount list, the
// host's datastore list and its compute resource's list consistent.
func mountDatastore(ds *simulator.Datastore, host *simulator.HostSystem) {
	mounted := false
	for _, m := range ds.Host {
		mounted = mounted || m.Key == host.Self
	}
	if !mounted {
		ds.Host = append(ds.Host, types.DatastoreHostMount{
			Key: host.Self,
			MountInfo: types.HostMountInfo{
				Path:       ds.Info.GetDatastoreInfo().Url,
				AccessMode: string(types.HostMountModeReadWrite),
				Mounted:    types.NewBool(true),
				Accessible: types.NewBool(true),
			},
		})
	}

	// The simulator expects the host and its datastore system to share
	// one list; datastores created later through the API rely on it.
	dss := simulator.Map.Get(*host.ConfigManager.DatastoreSystem).(*simulator.HostDatastoreSystem)
	addRef(&dss.Datastore, ds.Self)
	host.Datastore = dss.Datastore

	addRef(&computeResourceOf(host).Datastore, ds.Self)
}

// renumberDatastore replaces the moref 0.24 derives from a datastore's
// backing path ("/tmp/.../local-esx-a1@folder-5") with a vCenter-style
// "datastore-N", so that morefs are stable between runs and leak no local
// paths. It must run straight after creation, while the references that
// creation made (listed in the simulator's HostDatastoreSystem.add) are the
// only ones.
func renumberDatastore(ds *simulator.Datastore, host *simulator.HostSystem, dc *simulator.Datacenter) {
	old := ds.Self
	simulator.Map.Remove(old)
	ds.Self.Value = ""
	simulator.Map.Put(ds) // assigns the next free "datastore-N"

	folder := simulator.Map.Get(*ds.Parent).(*simulator.Folder)
	dss := simulator.Map.Get(*host.ConfigManager.DatastoreSystem).(*simulator.HostDatastoreSystem)
	browser := simulator.Map.Get(ds.Browser).(*simulator.HostDatastoreBrowser)
	lists := []*[]types.ManagedObjectReference{
		&folder.ChildEntity, &dc.Datastore, &dss.Datastore, &host.Datastore,
		&browser.Datastore, &computeResourceOf(host).Datastore,
	}
	for _, list := range lists {
		for i := range *list {
			if (*list)[i] == old {
				(*list)[i] = ds.Self
			}
		}
	}
}

// computeResourceOf returns the cluster or standalone compute resource that
// owns host.
func computeResourceOf(host *simulator.HostSystem) *mo.ComputeResource {
	switch parent := simulator.Map.Get(*host.Parent).(type) {
	case *simulator.ClusterComputeResource:
		return &parent.ComputeResource
	case *mo.ComputeResource:
		return parent
	}
	panic("host " + host.Name + " has no compute resource parent")
}

// addRef appends ref to list unless it is already there. It always appends
// to a fresh array: the simulator hands out sub-slices of shared arrays (a
// new cluster's network list is a prefix of its datacenter's), and a plain
// append would silently write into the other owner's list.
func addRef(list *[]types.ManagedObjectReference, ref types.ManagedObjectReference) {
	if simulator.FindReference(*list, ref) != nil {
		return
	}
	l := *list
	*list = append(l[:len(l):len(l)], ref)
}
