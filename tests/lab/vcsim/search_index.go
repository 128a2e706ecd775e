package main

import (
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// searchIndex adds FindAllByUuid, which 0.24 lacks (MethodNotFound). Nova's
// VMware driver finds an instance's VM with it (vm_util.get_vm_ref: the VM
// whose config.instanceUuid is the instance's UUID) whenever its cache does
// not hold the VM, for instance to power it off or destroy it after
// nova-compute restarted. As FindByUuid: VMs by instance or BIOS UUID
// (instanceUuid), hosts by hardware UUID; within a datacenter if one is given.
type searchIndex struct {
	*simulator.SearchIndex
}

func installSearchIndex() {
	si := simulator.Map.Get(vim25.ServiceInstance).(*simulator.ServiceInstance)
	if existing, ok := simulator.Map.Get(*si.Content.SearchIndex).(*simulator.SearchIndex); ok {
		simulator.Map.Put(&searchIndex{existing})
	}
}

func (s *searchIndex) FindAllByUuid(req *types.FindAllByUuid) soap.HasFault {
	body := &methods.FindAllByUuidBody{Res: &types.FindAllByUuidResponse{}}
	inDatacenter := func(ref types.ManagedObjectReference) bool {
		return req.Datacenter == nil || datacenterOf(ref).Self == *req.Datacenter
	}
	if req.VmSearch {
		for _, e := range simulator.Map.All("VirtualMachine") {
			vm := e.(*simulator.VirtualMachine)
			if vm.Config == nil || !inDatacenter(vm.Self) {
				continue
			}
			id := vm.Config.Uuid
			if isTrue(req.InstanceUuid) {
				id = vm.Config.InstanceUuid
			}
			if id == req.Uuid {
				body.Res.Returnval = append(body.Res.Returnval, vm.Self)
			}
		}
		return body
	}
	for _, e := range simulator.Map.All("HostSystem") {
		host := e.(*simulator.HostSystem)
		if host.Summary.Hardware != nil && host.Summary.Hardware.Uuid == req.Uuid && inDatacenter(host.Self) {
			body.Res.Returnval = append(body.Res.Returnval, host.Self)
		}
	}
	return body
}

// FindByUuid is the first of FindAllByUuid's answers. 0.24's walks every
// object of the map and panics on the lab's own managers that wrap its types
// (VirtualDiskManager: "does not have an embedded mo type"), so the client's
// connection dropped without an answer.
func (s *searchIndex) FindByUuid(req *types.FindByUuid) soap.HasFault {
	all := s.FindAllByUuid(&types.FindAllByUuid{Datacenter: req.Datacenter, Uuid: req.Uuid, VmSearch: req.VmSearch,
		InstanceUuid: req.InstanceUuid}).(*methods.FindAllByUuidBody)
	body := &methods.FindByUuidBody{Res: &types.FindByUuidResponse{}}
	if len(all.Res.Returnval) > 0 {
		body.Res.Returnval = &all.Res.Returnval[0]
	}
	return body
}
