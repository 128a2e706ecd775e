package main

import (
	"reflect"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// applyClusterConfig applies the DRS, HA (das) and DPM sections of spec,
// which the 0.24 simulator's ReconfigureComputeResource_Task ignores (it
// only handles rules, groups and per-VM overrides).
//
// With modify set, only the properties present in a section change, as in
// vCenter. Without it a present section replaces the current one; vCenter
// would also reset absent sections to defaults, which is not simulated.
// List-valued properties such as option are replaced, not merged by key.
func applyClusterConfig(cluster *simulator.ClusterComputeResource, spec *types.ClusterConfigSpecEx, modify bool) {
	config := cluster.ConfigurationEx.(*types.ClusterConfigInfoEx)

	if spec.DrsConfig != nil {
		updateSection(&config.DrsConfig, spec.DrsConfig, modify)
	}
	if spec.DasConfig != nil {
		updateSection(&config.DasConfig, spec.DasConfig, modify)
	}
	if spec.DpmConfig != nil {
		if config.DpmConfigInfo == nil {
			config.DpmConfigInfo = new(types.ClusterDpmConfigInfo)
		}
		updateSection(config.DpmConfigInfo, spec.DpmConfig, modify)
	}

	// The deprecated "configuration" property is still read by older tools.
	cluster.Configuration.DrsConfig = config.DrsConfig
	cluster.Configuration.DasConfig = config.DasConfig

	simulator.Map.Update(cluster, []types.PropertyChange{
		{Name: "configurationEx", Val: config},
		{Name: "configuration", Val: cluster.Configuration},
	})
}

// updateSection copies src onto dst, both pointers to the same struct type.
// When merging, fields left at their zero value are skipped: that is how
// govmomi decodes a property the client did not send.
func updateSection(dst, src interface{}, merge bool) {
	d, s := reflect.ValueOf(dst).Elem(), reflect.ValueOf(src).Elem()
	if !merge {
		d.Set(s)
		return
	}
	for i := 0; i < s.NumField(); i++ {
		if field := s.Field(i); !field.IsZero() {
			d.Field(i).Set(field)
		}
	}
}
