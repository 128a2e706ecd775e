package main

import (
	"fmt"
	"reflect"
	"strconv"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

func (b *dcBuilder) addSwitches() error {
	for _, spec := range b.spec.Switches {
		task, err := b.folders.NetworkFolder.CreateDVS(b.ctx, types.DVSCreateSpec{
			ConfigSpec: &types.VMwareDVSConfigSpec{DVSConfigSpec: types.DVSConfigSpec{Name: spec.Name}},
		})
		ref, err := taskResult(b.ctx, task, err)
		if err != nil {
			return fmt.Errorf("distributed switch %s: %w", spec.Name, err)
		}
		dvs := simulator.Map.Get(ref).(*simulator.DistributedVirtualSwitch)
		for _, host := range b.selectHosts(spec.HostSelector) {
			joinSwitch(dvs, host)
		}
		rememberPortgroups(dvs)
	}
	return nil
}

// joinSwitch makes host a member of dvs, as ReconfigureDvs_Task would; that
// call's plain appends could write into reference lists sharing an array
// (see addRef).
func joinSwitch(dvs *simulator.DistributedVirtualSwitch, host *simulator.HostSystem) {
	addRef(&dvs.Summary.HostMember, host.Self)
	for _, ref := range dvs.Portgroup {
		pg := simulator.Map.Get(ref).(*simulator.DistributedVirtualPortgroup)
		addRef(&pg.Host, host.Self)
		addRef(&host.Network, ref)
		addRef(&computeResourceOf(host).Network, ref)
	}
}

// portgroupConfigs keeps each distributed port group's configuration as
// vCenter would hold it. 0.24's ReconfigureDVPortgroup_Task overwrites every
// field with the spec's, so a spec that sets only the VLAN wipes the
// binding type, port count and policies; the hook below redoes the change
// from this copy, changing only what the spec sets, as vCenter does.
var portgroupConfigs = map[types.ManagedObjectReference]types.DVPortgroupConfigInfo{}

func rememberPortgroups(dvs *simulator.DistributedVirtualSwitch) {
	for _, ref := range dvs.Portgroup {
		if _, known := portgroupConfigs[ref]; known {
			continue
		}
		pg := simulator.Map.Get(ref).(*simulator.DistributedVirtualPortgroup)
		if pg.Config.ConfigVersion == "" {
			pg.Config.ConfigVersion = "1"
		}
		portgroupConfigs[ref] = pg.Config
	}
}

func addedPortgroups(m *simulator.Method) {
	req := m.Body.(*types.AddDVPortgroup_Task)
	if dvs, ok := simulator.Map.Get(req.This).(*simulator.DistributedVirtualSwitch); ok {
		simulator.Map.WithLock(dvs, func() { rememberPortgroups(dvs) })
	}
}

func reconfiguredPortgroup(m *simulator.Method) {
	req := m.Body.(*types.ReconfigureDVPortgroup_Task)
	pg, ok := simulator.Map.Get(req.This).(*simulator.DistributedVirtualPortgroup)
	config, known := portgroupConfigs[req.This]
	if !ok || !known {
		return
	}
	simulator.Map.WithLock(pg, func() {
		overlay(reflect.ValueOf(&config).Elem(), reflect.ValueOf(req.Spec), "ConfigVersion", "Name")
		if spec, ok := req.Spec.DefaultPortConfig.(*types.VMwareDVSPortSetting); ok {
			if current, ok := portgroupConfigs[req.This].DefaultPortConfig.(*types.VMwareDVSPortSetting); ok {
				merged := *current
				overlay(reflect.ValueOf(&merged).Elem(), reflect.ValueOf(*spec))
				config.DefaultPortConfig = &merged
			}
		}
		version, _ := strconv.Atoi(config.ConfigVersion)
		config.ConfigVersion = strconv.Itoa(version + 1)
		portgroupConfigs[req.This] = config
		pg.Config = config
		simulator.Map.Update(pg, []types.PropertyChange{{Name: "config", Val: pg.Config}})
	})
}

// overlay sets each field of dst that src, a struct of possibly another
// type, sets (is non-zero) under the same name and type, looking into
// embedded structs; fields named in skip are left alone.
func overlay(dst, src reflect.Value, skip ...string) {
	for i := 0; i < src.NumField(); i++ {
		field, value := src.Type().Field(i), src.Field(i)
		if field.Anonymous && value.Kind() == reflect.Struct {
			overlay(dst, value, skip...)
			continue
		}
		if value.IsZero() || contains(skip, field.Name) {
			continue
		}
		if target := dst.FieldByName(field.Name); target.IsValid() && target.Type() == value.Type() {
			target.Set(value)
		}
	}
}

func contains(list []string, s string) bool {
	for _, item := range list {
		if item == s {
			return true
		}
	}
	return false
}

// destroyedPortgroup drops a destroyed distributed port group from the
// hosts' and compute resources' network lists, which 0.24 leaves as is.
func destroyedPortgroup(m *simulator.Method) {
	req := m.Body.(*types.Destroy_Task)
	if req.This.Type != "DistributedVirtualPortgroup" {
		return
	}
	delete(portgroupConfigs, req.This)
	for _, e := range simulator.Map.All("HostSystem") {
		host := e.(*simulator.HostSystem)
		simulator.Map.WithLock(host, func() { removeRef(&host.Network, req.This) })
	}
	for _, e := range simulator.Map.All("ClusterComputeResource") {
		cr := &e.(*simulator.ClusterComputeResource).ComputeResource
		simulator.Map.WithLock(e, func() { removeRef(&cr.Network, req.This) })
	}
	for _, e := range simulator.Map.All("ComputeResource") {
		cr := e.(*mo.ComputeResource)
		simulator.Map.WithLock(cr, func() { removeRef(&cr.Network, req.This) })
	}
}
