package main

import (
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// vSwitch is the standard switch every simulated host is born with; the
// lab's port groups all live on it.
const vSwitch = "vSwitch0"

// portgroupKeyPrefix starts the key ESX gives a standard port group.
const portgroupKeyPrefix = "key-vim.host.PortGroup-"

// attachPortgroup makes network a port group of host as spec describes it,
// in the host's network configuration and in the reference lists clients
// read (host.network, network.host, computeResource.network). Repeating it
// is harmless.
func attachPortgroup(host *simulator.HostSystem, network *mo.Network, spec types.HostPortGroupSpec) {
	ensureHostPortgroup(host.Config.Network, spec)
	addRef(&host.Network, network.Self)
	addRef(&network.Host, host.Self)
	addRef(&computeResourceOf(host).Network, network.Self)
}

// ensureHostPortgroup lists the port group on its switch and sets its spec.
// The switch must exist.
func ensureHostPortgroup(info *types.HostNetworkInfo, spec types.HostPortGroupSpec) {
	key := portgroupKeyPrefix + spec.Name
	sw := vswitchNamed(info, spec.VswitchName)

	// ESX lists port group keys on the switch; the simulator's AddPortGroup
	// adds the bare name instead.
	listed := false
	for i, pg := range sw.Portgroup {
		if pg == spec.Name {
			sw.Portgroup[i] = key
		}
		listed = listed || sw.Portgroup[i] == key
	}
	if !listed {
		sw.Portgroup = append(sw.Portgroup, key)
	}

	var policy types.HostNetworkPolicy
	if sw.Spec.Policy != nil {
		policy = *sw.Spec.Policy
	}
	for i := range info.Portgroup {
		if pg := &info.Portgroup[i]; pg.Key == key {
			pg.Vswitch = sw.Key
			pg.Spec = spec
			pg.ComputedPolicy = policy
			return
		}
	}
	info.Portgroup = append(info.Portgroup, types.HostPortGroup{
		Key:            key,
		Vswitch:        sw.Key,
		ComputedPolicy: policy,
		Spec:           spec,
	})
}

func vswitchNamed(info *types.HostNetworkInfo, name string) *types.HostVirtualSwitch {
	for i := range info.Vswitch {
		if info.Vswitch[i].Name == name {
			return &info.Vswitch[i]
		}
	}
	return nil
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
	dss := hostDatastoreSystem(host)
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
	dss := hostDatastoreSystem(host)
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

// removeRef removes ref from list, into a fresh array for the same reason
// as addRef.
func removeRef(list *[]types.ManagedObjectReference, ref types.ManagedObjectReference) {
	var kept []types.ManagedObjectReference
	for _, r := range *list {
		if r != ref {
			kept = append(kept, r)
		}
	}
	*list = kept
}

// datacenterOf walks up from ref to the datacenter that holds it.
func datacenterOf(ref types.ManagedObjectReference) *simulator.Datacenter {
	for {
		obj := simulator.Map.Get(ref)
		if dc, ok := obj.(*simulator.Datacenter); ok {
			return dc
		}
		entity, ok := obj.(mo.Entity)
		if !ok || entity.Entity().Parent == nil {
			panic("no datacenter above " + ref.String())
		}
		ref = *entity.Entity().Parent
	}
}
