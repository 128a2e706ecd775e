package main

import (
	"os"
	"path/filepath"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// datastoreSystem gives a host's HostDatastoreSystem vCenter's NFS
// behaviour, which 0.24 lacks:
//
//   - CreateNasDatastore names the datastore after spec.localPath, as ESXi
//     does, instead of requiring that path to exist on the simulator's own
//     filesystem; the backing directory is made under the lab's state.
//   - Mounting an export that another host of the datacenter already mounts
//     under the same name adds this host to that one Datastore object (0.24
//     replaced the object, keeping only the last host), and a name already
//     used for something else is a DuplicateName fault.
//   - The new datastore is mounted on the host (0.24 left datastore.host
//     empty) and gets a vCenter-style "datastore-N" moref.
//   - RemoveDatastore, absent in 0.24, unmounts from this host only; the
//     datastore leaves the inventory when no host mounts it any more.
type datastoreSystem struct {
	simulator.HostDatastoreSystem
	dir string // backing directories of NFS datastores created through the API
}

// hostDatastoreSystem returns the simulator's object behind host's
// datastore system, wrapped or not.
func hostDatastoreSystem(host *simulator.HostSystem) *simulator.HostDatastoreSystem {
	switch dss := simulator.Map.Get(*host.ConfigManager.DatastoreSystem).(type) {
	case *datastoreSystem:
		return &dss.HostDatastoreSystem
	case *simulator.HostDatastoreSystem:
		return dss
	}
	panic("host " + host.Name + " has no datastore system")
}

func (d *datastoreSystem) host() *simulator.HostSystem {
	return simulator.Map.Get(d.Host.Self).(*simulator.HostSystem)
}

func (d *datastoreSystem) CreateNasDatastore(ctx *simulator.Context, req *types.CreateNasDatastore) soap.HasFault {
	body := &methods.CreateNasDatastoreBody{}
	spec := req.Spec
	host := d.host()
	dc := datacenterOf(host.Self)
	name := spec.LocalPath

	if existing := datastoreNamed(dc, name); existing != nil {
		if !sameExport(existing, spec) || mountedOn(existing, host.Self) {
			body.Fault_ = simulator.Fault("", &types.DuplicateName{Name: name, Object: existing.Self})
			return body
		}
		mountDatastore(existing, host)
		setAccessMode(existing, host, spec.AccessMode)
		body.Res = &types.CreateNasDatastoreResponse{Returnval: existing.Self}
		return body
	}

	dir := filepath.Join(d.dir, dc.Name, name)
	if err := os.MkdirAll(dir, 0o700); err != nil {
		body.Fault_ = simulator.Fault(err.Error(), &types.HostConfigFault{})
		return body
	}
	backed := *req
	backed.Spec.LocalPath = dir
	created, ok := d.HostDatastoreSystem.CreateNasDatastore(ctx, &backed).(*methods.CreateNasDatastoreBody)
	if !ok || created.Fault_ != nil {
		return created
	}
	ds := simulator.Map.Get(created.Res.Returnval).(*simulator.Datastore)
	renumberDatastore(ds, host, dc)
	mountDatastore(ds, host)
	setAccessMode(ds, host, spec.AccessMode)
	ds.Summary.MultipleHostAccess = types.NewBool(true)
	created.Res.Returnval = ds.Self
	return created
}

// setAccessMode records the mount's access mode (readOnly or readWrite),
// which mountDatastore leaves at readWrite.
func setAccessMode(ds *simulator.Datastore, host *simulator.HostSystem, mode string) {
	for i := range ds.Host {
		if ds.Host[i].Key == host.Self && mode != "" {
			ds.Host[i].MountInfo.AccessMode = mode
		}
	}
}

func sameExport(ds *simulator.Datastore, spec types.HostNasVolumeSpec) bool {
	nas, ok := ds.Info.(*types.NasDatastoreInfo)
	return ok && nas.Nas != nil && nas.Nas.RemoteHost == spec.RemoteHost && nas.Nas.RemotePath == spec.RemotePath
}

func (d *datastoreSystem) RemoveDatastore(req *types.RemoveDatastore) soap.HasFault {
	body := &methods.RemoveDatastoreBody{}
	host := d.host()
	ds, ok := simulator.Map.Get(req.Datastore).(*simulator.Datastore)
	if !ok || !mountedOn(ds, host.Self) {
		body.Fault_ = simulator.Fault("", &types.NotFound{})
		return body
	}
	for _, ref := range host.Vm {
		if vm, ok := simulator.Map.Get(ref).(*simulator.VirtualMachine); ok && simulator.FindReference(vm.Datastore, ds.Self) != nil {
			body.Fault_ = simulator.Fault("", &types.ResourceInUse{Type: "Datastore", Name: ds.Name})
			return body
		}
	}
	unmountDatastore(ds, host)
	body.Res = &types.RemoveDatastoreResponse{}
	return body
}

func mountedOn(ds *simulator.Datastore, host types.ManagedObjectReference) bool {
	for _, m := range ds.Host {
		if m.Key == host {
			return true
		}
	}
	return false
}

// unmountDatastore undoes mountDatastore, and removes the datastore from
// the inventory once no host mounts it.
func unmountDatastore(ds *simulator.Datastore, host *simulator.HostSystem) {
	var mounts []types.DatastoreHostMount
	for _, m := range ds.Host {
		if m.Key != host.Self {
			mounts = append(mounts, m)
		}
	}
	ds.Host = mounts

	dss := hostDatastoreSystem(host)
	removeRef(&dss.Datastore, ds.Self)
	host.Datastore = dss.Datastore

	cr := computeResourceOf(host)
	if !anyHostMounts(ds, cr.Host) {
		removeRef(&cr.Datastore, ds.Self)
	}
	if len(ds.Host) > 0 {
		return
	}
	folder := simulator.Map.Get(*ds.Parent).(*simulator.Folder)
	removeRef(&folder.ChildEntity, ds.Self)
	dc := datacenterOf(host.Self)
	removeRef(&dc.Datastore, ds.Self)
	simulator.Map.Remove(ds.Self)
}

func anyHostMounts(ds *simulator.Datastore, hosts []types.ManagedObjectReference) bool {
	for _, h := range hosts {
		if mountedOn(ds, h) {
			return true
		}
	}
	return false
}

func datastoreNamed(dc *simulator.Datacenter, name string) *simulator.Datastore {
	for _, ref := range dc.Datastore {
		if ds, ok := simulator.Map.Get(ref).(*simulator.Datastore); ok && ds.Name == name {
			return ds
		}
	}
	return nil
}
