package main

import (
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// extensionManager is vCenter's registry of solutions (extensions). 0.24
// lists an ExtensionManager in ServiceContent but implements none of its
// methods (MethodNotFound). Nova's VMware driver registers the extension
// org.openstack.compute at start (FindExtension, then RegisterExtension)
// and names it in the managedBy of every VM it creates; it does not start
// when the calls fail.
//
// As in vCenter: FindExtension returns nothing for an unknown key;
// RegisterExtension refuses a key already registered with InvalidArgument
// (nova's driver takes that as "already there"), UpdateExtension and
// UnregisterExtension an unknown key with NotFound; the registered
// extensions are the manager's extensionList property.
type extensionManager struct {
	mo.ExtensionManager
}

// installExtensionManager replaces the simulator's inert ExtensionManager.
func installExtensionManager() {
	si := simulator.Map.Get(vim25.ServiceInstance).(*simulator.ServiceInstance)
	ref := si.Content.ExtensionManager
	if ref == nil {
		return
	}
	m := &extensionManager{}
	if existing, ok := simulator.Map.Get(*ref).(*mo.ExtensionManager); ok {
		m.ExtensionManager = *existing
	}
	m.Self = *ref
	simulator.Map.Put(m)
}

func (m *extensionManager) index(key string) int {
	for i := range m.ExtensionList {
		if m.ExtensionList[i].Key == key {
			return i
		}
	}
	return -1
}

func (m *extensionManager) FindExtension(req *types.FindExtension) soap.HasFault {
	body := &methods.FindExtensionBody{Res: &types.FindExtensionResponse{}}
	if i := m.index(req.ExtensionKey); i >= 0 {
		extension := m.ExtensionList[i]
		body.Res.Returnval = &extension
	}
	return body
}

func (m *extensionManager) RegisterExtension(req *types.RegisterExtension) soap.HasFault {
	body := &methods.RegisterExtensionBody{}
	if req.Extension.Key == "" || m.index(req.Extension.Key) >= 0 {
		body.Fault_ = simulator.Fault("", &types.InvalidArgument{InvalidProperty: "extension.key"})
		return body
	}
	m.ExtensionList = append(m.ExtensionList, req.Extension)
	body.Res = &types.RegisterExtensionResponse{}
	return body
}

func (m *extensionManager) UpdateExtension(req *types.UpdateExtension) soap.HasFault {
	body := &methods.UpdateExtensionBody{}
	i := m.index(req.Extension.Key)
	if i < 0 {
		body.Fault_ = simulator.Fault("", &types.NotFound{})
		return body
	}
	m.ExtensionList[i] = req.Extension
	body.Res = &types.UpdateExtensionResponse{}
	return body
}

func (m *extensionManager) UnregisterExtension(req *types.UnregisterExtension) soap.HasFault {
	body := &methods.UnregisterExtensionBody{}
	i := m.index(req.ExtensionKey)
	if i < 0 {
		body.Fault_ = simulator.Fault("", &types.NotFound{})
		return body
	}
	m.ExtensionList = append(m.ExtensionList[:i], m.ExtensionList[i+1:]...)
	body.Res = &types.UnregisterExtensionResponse{}
	return body
}
