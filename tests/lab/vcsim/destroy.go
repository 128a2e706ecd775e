package main

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"io"
	"net/http"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// Destroy_Task of a cluster or a datacenter, as vCenter does it: the entity
// goes with its contents. 0.24 has no DestroyTask for a cluster, and the
// datacenter's refuses one whose host or VM folder holds anything (and
// leaves its folders, datastores and networks in the registry).
//
// What leaves the inventory with a cluster: its hosts (each unmounts its
// datastores, which go with their last host as with RemoveDatastore, and
// leaves its networks and distributed switches, which stay), the
// VMs registered on those hosts (unregistered: vCenter keeps no VM of a
// host it no longer manages), its resource pools, and the cluster. With a
// datacenter: every cluster and standalone host in it, then everything
// else below its folders, then the datacenter itself.
//
// Neither can be a wrapper of the managed object, as the other extensions
// are: the simulator and this program assert *simulator.ClusterComputeResource
// and *simulator.Datacenter in many places. So the call is answered here,
// at the HTTP level, once the simulator has accepted the caller's session.

// sessionCheck is a call that needs a logged-in session and changes nothing.
const sessionCheck = `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">` +
	`<soapenv:Body><CurrentTime xmlns="urn:vim25"><_this type="ServiceInstance">ServiceInstance</_this></CurrentTime></soapenv:Body></soapenv:Envelope>`

// withEntityDestroy answers Destroy_Task of a ClusterComputeResource or a
// Datacenter, and gives every other call to next.
func withEntityDestroy(next http.Handler) http.Handler {
	return onSOAPCall(next, func(w http.ResponseWriter, r *http.Request, body []byte) {
		target, ok := destroyTarget(body)
		if !ok {
			r.Body = io.NopCloser(bytes.NewReader(body))
			next.ServeHTTP(w, r)
			return
		}
		if res := checkSession(next, r); res.status != http.StatusOK {
			res.copyTo(w) // the simulator's NotAuthenticated fault
			return
		}
		writeTask(w, "Destroy_TaskResponse", destroyEntity(target))
	})
}

// checkSession is the simulator's answer (next's) to sessionCheck in r's session.
func checkSession(next http.Handler, r *http.Request) *bufferedResponse {
	check := r.Clone(r.Context())
	check.Body = io.NopCloser(strings.NewReader(sessionCheck))
	check.ContentLength = int64(len(sessionCheck))
	res := newBufferedResponse()
	next.ServeHTTP(res, check)
	return res
}

// destroyTarget is the cluster or datacenter a Destroy_Task call names.
func destroyTarget(body []byte) (mo.Reference, bool) {
	if !bytes.Contains(body, []byte("Destroy_Task")) {
		return nil, false
	}
	method, err := simulator.UnmarshalBody(types.TypeFunc(), body)
	if err != nil || method.Name != "Destroy_Task" {
		return nil, false
	}
	switch obj := simulator.Map.Get(method.This).(type) {
	case *simulator.ClusterComputeResource:
		return obj, true
	case *simulator.Datacenter:
		return obj, true
	}
	return nil, false
}

// destroyEntity runs the destroy task of a cluster or datacenter and
// returns the finished task.
func destroyEntity(obj mo.Reference) types.ManagedObjectReference {
	return simulator.CreateTask(obj, "destroy", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		simulator.Map.WithLock(simulator.Map.Get(*obj.(mo.Entity).Entity().Parent), func() {
			switch entity := obj.(type) {
			case *simulator.ClusterComputeResource:
				destroyComputeResource(&entity.ComputeResource)
			case *simulator.Datacenter:
				destroyDatacenter(entity)
			}
		})
		return nil, nil
	}).Run()
}

// destroyComputeResource removes a cluster or standalone compute resource
// with its hosts, their VMs and its resource pools.
func destroyComputeResource(cr *mo.ComputeResource) {
	for _, ref := range cr.Host {
		if host, ok := simulator.Map.Get(ref).(*simulator.HostSystem); ok {
			removeHost(host)
		}
	}
	if cr.ResourcePool != nil {
		removeTree(*cr.ResourcePool)
	}
	removeChild(cr.Self, *cr.Parent)
}

// removeHost takes a host out of the inventory the way RemoveDatastore and
// RemovePortGroup take out one of its mounts or port groups.
func removeHost(host *simulator.HostSystem) {
	for _, ref := range host.Vm {
		if vm, ok := simulator.Map.Get(ref).(*simulator.VirtualMachine); ok {
			unregisterVM(vm)
		}
	}
	for _, ref := range append([]types.ManagedObjectReference(nil), host.Datastore...) {
		if ds, ok := simulator.Map.Get(ref).(*simulator.Datastore); ok {
			unmountDatastore(ds, host)
		}
	}
	// Networks stay, without the host: 0.24 gives every new cluster its
	// datacenter's first network, and vCenter keeps a network VMs still name.
	for _, ref := range host.Network {
		switch network := simulator.Map.Get(ref).(type) {
		case *mo.Network:
			removeRef(&network.Host, host.Self)
		case *simulator.DistributedVirtualPortgroup:
			removeRef(&network.Host, host.Self)
		}
	}
	for _, e := range simulator.Map.All("VmwareDistributedVirtualSwitch") {
		dvs := e.(*simulator.DistributedVirtualSwitch)
		removeRef(&dvs.Summary.HostMember, host.Self)
	}
	simulator.Map.Remove(host.Self)
}

// unregisterVM removes a VM from the inventory, leaving its files.
func unregisterVM(vm *simulator.VirtualMachine) {
	for _, ref := range vm.Datastore {
		if ds, ok := simulator.Map.Get(ref).(*simulator.Datastore); ok {
			removeRef(&ds.Vm, vm.Self)
		}
	}
	for _, ref := range vm.Network {
		if network, ok := simulator.Map.Get(ref).(*mo.Network); ok {
			removeRef(&network.Vm, vm.Self)
		}
	}
	if vm.ResourcePool != nil {
		if pool, ok := simulator.Map.Get(*vm.ResourcePool).(*simulator.ResourcePool); ok {
			removeRef(&pool.Vm, vm.Self)
		}
	}
	removeChild(vm.Self, *vm.Parent)
}

// destroyDatacenter removes every compute resource of the datacenter, then
// everything left below its folders, then the datacenter.
func destroyDatacenter(dc *simulator.Datacenter) {
	for _, kind := range []string{"ClusterComputeResource", "ComputeResource"} {
		for _, e := range simulator.Map.All(kind) {
			cr := computeResource(e)
			if datacenterOf(cr.Self) == dc {
				destroyComputeResource(cr)
			}
		}
	}
	for _, folder := range []types.ManagedObjectReference{dc.VmFolder, dc.HostFolder, dc.DatastoreFolder, dc.NetworkFolder} {
		removeTree(folder)
	}
	removeChild(dc.Self, *dc.Parent)
}

func computeResource(e mo.Reference) *mo.ComputeResource {
	if cluster, ok := e.(*simulator.ClusterComputeResource); ok {
		return &cluster.ComputeResource
	}
	return e.(*mo.ComputeResource)
}

// removeTree removes ref and everything below it: a folder's children, a
// resource pool's child pools.
func removeTree(ref types.ManagedObjectReference) {
	switch obj := simulator.Map.Get(ref).(type) {
	case *simulator.Folder:
		for _, child := range obj.ChildEntity {
			removeTree(child)
		}
	case *simulator.ResourcePool:
		for _, child := range obj.ResourcePool.ResourcePool {
			removeTree(child)
		}
	}
	simulator.Map.Remove(ref)
}

// removeChild removes ref from the registry and from its parent's list of
// children (a folder's childEntity; a compute resource's or pool's parent
// needs no list: the caller removes the whole tree).
func removeChild(ref, parent types.ManagedObjectReference) {
	if folder, ok := simulator.Map.Get(parent).(*simulator.Folder); ok {
		removeRef(&folder.ChildEntity, ref)
	}
	simulator.Map.Remove(ref)
}

// writeTask answers a method that returns a task, as the simulator would.
func writeTask(w http.ResponseWriter, response string, task types.ManagedObjectReference) {
	var out bytes.Buffer
	out.WriteString(xml.Header)
	fmt.Fprintf(&out, `<soapenv:Envelope xmlns:soapenc="http://schemas.xmlsoap.org/soap/encoding/" `+
		`xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/" xmlns:xsd="http://www.w3.org/2001/XMLSchema" `+
		`xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance"><soapenv:Body><%s xmlns="urn:vim25">`+
		`<returnval type="Task">%s</returnval></%s></soapenv:Body></soapenv:Envelope>`, response, task.Value, response)
	w.Header().Set("Content-Type", "text/xml; charset=utf-8")
	w.WriteHeader(http.StatusOK)
	_, _ = w.Write(out.Bytes())
}
