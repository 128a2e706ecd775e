package main

import (
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// networkSystem gives a host's HostNetworkSystem the standard port group
// behaviour of ESXi and vCenter, which 0.24 lacks:
//
//   - AddPortGroup is per host: a name another host already uses joins that
//     host's Network (0.24 fails with DuplicateName), a name this host
//     already has is AlreadyExists, and host.network, network.host and the
//     compute resource's network list are kept up to date. A distributed
//     port group of the same name does not stop it: vCenter cannot refuse a
//     port group defined on a host.
//   - UpdatePortGroup, absent in 0.24, changes a port group's VLAN, policy
//     or switch on this host.
//   - RemovePortGroup removes the port group from this host only; the
//     Network leaves the inventory when no host has it any more (0.24
//     removed it for every host).
type networkSystem struct {
	simulator.HostNetworkSystem
}

func (n *networkSystem) host() *simulator.HostSystem {
	return simulator.Map.Get(n.Host.Self).(*simulator.HostSystem)
}

func (n *networkSystem) AddPortGroup(req *types.AddPortGroup) soap.HasFault {
	body := &methods.AddPortGroupBody{}
	spec := req.Portgrp
	if fault := checkPortgroupSpec(n.NetworkInfo, spec); fault != nil {
		body.Fault_ = fault
		return body
	}
	if findPortgroup(n.NetworkInfo, spec.Name) != nil {
		body.Fault_ = simulator.Fault("", &types.AlreadyExists{Name: spec.Name})
		return body
	}
	host := n.host()
	dc := datacenterOf(host.Self)
	network := networkNamed(dc, spec.Name)
	if network == nil {
		network = newNetwork(dc, spec.Name)
	}
	attachPortgroup(host, network, spec)
	body.Res = &types.AddPortGroupResponse{}
	return body
}

func (n *networkSystem) UpdatePortGroup(req *types.UpdatePortGroup) soap.HasFault {
	body := &methods.UpdatePortGroupBody{}
	pg := findPortgroup(n.NetworkInfo, req.PgName)
	switch {
	case pg == nil:
		body.Fault_ = simulator.Fault("", &types.NotFound{})
	case req.Portgrp.Name != req.PgName:
		// ESXi can rename a port group; nothing here needs it.
		body.Fault_ = simulator.Fault("renaming a port group is not simulated", &types.NotSupported{})
	default:
		if fault := checkPortgroupSpec(n.NetworkInfo, req.Portgrp); fault != nil {
			body.Fault_ = fault
			return body
		}
		network := networkNamed(datacenterOf(n.Host.Self), req.PgName)
		detachFromSwitch(n.NetworkInfo, pg.Key)
		attachPortgroup(n.host(), network, req.Portgrp)
		body.Res = &types.UpdatePortGroupResponse{}
	}
	return body
}

func (n *networkSystem) RemovePortGroup(req *types.RemovePortGroup) soap.HasFault {
	body := &methods.RemovePortGroupBody{}
	pg := findPortgroup(n.NetworkInfo, req.PgName)
	if pg == nil {
		body.Fault_ = simulator.Fault("", &types.NotFound{})
		return body
	}
	host := n.host()
	dc := datacenterOf(host.Self)
	network := networkNamed(dc, req.PgName)
	for _, ref := range host.Vm {
		if vm, ok := simulator.Map.Get(ref).(*simulator.VirtualMachine); ok && simulator.FindReference(vm.Network, network.Self) != nil {
			body.Fault_ = simulator.Fault("", &types.ResourceInUse{Type: "Network", Name: req.PgName})
			return body
		}
	}

	detachFromSwitch(n.NetworkInfo, pg.Key)
	var kept []types.HostPortGroup
	for _, p := range n.NetworkInfo.Portgroup {
		if p.Key != pg.Key {
			kept = append(kept, p)
		}
	}
	n.NetworkInfo.Portgroup = kept

	removeRef(&host.Network, network.Self)
	removeRef(&network.Host, host.Self)
	cr := computeResourceOf(host)
	if !anyHostOn(network, cr.Host) {
		removeRef(&cr.Network, network.Self)
	}
	if len(network.Host) == 0 {
		folder := simulator.Map.Get(*network.Parent).(*simulator.Folder)
		removeRef(&folder.ChildEntity, network.Self)
		removeRef(&dc.Network, network.Self)
		simulator.Map.Remove(network.Self)
	}
	body.Res = &types.RemovePortGroupResponse{}
	return body
}

func checkPortgroupSpec(info *types.HostNetworkInfo, spec types.HostPortGroupSpec) *soap.Fault {
	switch {
	case spec.Name == "":
		return simulator.Fault("", &types.InvalidArgument{InvalidProperty: "portgrp.name"})
	case spec.VlanId < 0 || spec.VlanId > 4095:
		return simulator.Fault("", &types.InvalidArgument{InvalidProperty: "portgrp.vlanId"})
	case vswitchNamed(info, spec.VswitchName) == nil:
		return simulator.Fault("", &types.NotFound{})
	}
	return nil
}

func findPortgroup(info *types.HostNetworkInfo, name string) *types.HostPortGroup {
	for i := range info.Portgroup {
		if info.Portgroup[i].Spec.Name == name {
			return &info.Portgroup[i]
		}
	}
	return nil
}

// detachFromSwitch removes a port group's key (or, as 0.24 writes it, its
// bare name) from the switch that lists it.
func detachFromSwitch(info *types.HostNetworkInfo, key string) {
	name := key[len(portgroupKeyPrefix):]
	for i := range info.Vswitch {
		var kept []string
		for _, pg := range info.Vswitch[i].Portgroup {
			if pg != key && pg != name {
				kept = append(kept, pg)
			}
		}
		info.Vswitch[i].Portgroup = kept
	}
}

func anyHostOn(network *mo.Network, hosts []types.ManagedObjectReference) bool {
	for _, h := range hosts {
		if simulator.FindReference(network.Host, h) != nil {
			return true
		}
	}
	return false
}

// networkNamed returns the datacenter's standard network (not a
// distributed port group) called name.
func networkNamed(dc *simulator.Datacenter, name string) *mo.Network {
	for _, ref := range dc.Network {
		if network, ok := simulator.Map.Get(ref).(*mo.Network); ok && network.Name == name {
			return network
		}
	}
	return nil
}

// newNetwork adds the datacenter's Network for a new standard port group.
// It is registered before it joins the folder, so a ContainerView open at
// that instant misses it; views here live for one read.
func newNetwork(dc *simulator.Datacenter, name string) *mo.Network {
	folder := simulator.Map.Get(dc.NetworkFolder).(*simulator.Folder)
	network := &mo.Network{}
	network.Name = name
	network.Self.Type = "Network"
	simulator.Map.PutEntity(folder, network)
	network.Summary = &types.NetworkSummary{Network: &network.Self, Name: name, Accessible: true}
	addRef(&folder.ChildEntity, network.Self)
	addRef(&dc.Network, network.Self)
	return network
}
