package main

import (
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"
)

// scaleInventory writes what inventories/scale.py generates for clusters x hosts.
func scaleInventory(t *testing.T, args ...string) string {
	t.Helper()
	out, err := exec.Command("python3", append([]string{"inventories/scale.py"}, args...)...).Output()
	if err != nil {
		t.Fatalf("scale.py: %v", err)
	}
	path := filepath.Join(t.TempDir(), "scale.json")
	if err := os.WriteFile(path, out, 0o600); err != nil {
		t.Fatal(err)
	}
	return path
}

// The generated inventory builds, with per cluster what the scale benchmark prepares: its NFS datastore
// on every host, the vnc ruleset disabled on every host, DRS/HA off on the odd clusters.
func TestScaleInventoryBuildsClustersOfHosts(t *testing.T) {
	_, _, hosts, _ := labModelOf(t, scaleInventory(t, "--clusters", "2", "--hosts", "3"))
	if len(hosts) != 6 {
		t.Fatalf("%d hosts", len(hosts))
	}
	for _, e := range simulator.Map.All("ClusterComputeResource") {
		cluster := e.(*simulator.ClusterComputeResource)
		config := cluster.ConfigurationEx.(*types.ClusterConfigInfoEx)
		on := cluster.Name == "Cluster-02"
		if len(cluster.Host) != 3 || *config.DrsConfig.Enabled != on || *config.DasConfig.Enabled != on {
			t.Errorf("%s: %d hosts, DRS %v, HA %v", cluster.Name, len(cluster.Host), *config.DrsConfig.Enabled,
				*config.DasConfig.Enabled)
		}
		for _, ref := range cluster.Host {
			host := simulator.Map.Get(ref).(*simulator.HostSystem)
			var nfs []string
			for _, ds := range host.Datastore {
				nfs = append(nfs, simulator.Map.Get(ds).(*simulator.Datastore).Name)
			}
			want := "nfs-" + cluster.Name[len("Cluster-"):]
			if len(nfs) != 1 || nfs[0] != want {
				t.Errorf("%s mounts %v, not only %s", host.Name, nfs, want)
			}
			if enabled, found := rulesetEnabled(host, "vnc"); !found || enabled {
				t.Errorf("%s: vnc ruleset found %v, enabled %v", host.Name, found, enabled)
			}
		}
	}
}

func rulesetEnabled(host *simulator.HostSystem, key string) (enabled, found bool) {
	for _, rs := range host.Config.Firewall.Ruleset {
		if rs.Key == key {
			return rs.Enabled, true
		}
	}
	return false, false
}

// vcenter_host_firewall reads one ruleset of each host by its key (property_paths.go): that ruleset, and
// nothing for a key the host does not have.
func TestOneFirewallRulesetByKey(t *testing.T) {
	_, _, _, model := labModelOf(t, scaleInventory(t, "--clusters", "1", "--hosts", "1"))
	ctx, client, _ := serveLab(t, model)
	host := named("HostSystem", "esx-01-001.scale.local").Reference()
	req := types.RetrievePropertiesEx{This: client.ServiceContent.PropertyCollector, SpecSet: []types.PropertyFilterSpec{{
		ObjectSet: []types.ObjectSpec{{Obj: host}},
		PropSet: []types.PropertySpec{{Type: "HostSystem",
			PathSet: []string{`config.firewall.ruleset["vnc"]`, `config.firewall.ruleset["no-such"]`}}},
	}}}
	res, err := methods.RetrievePropertiesEx(ctx, client, &req)
	if err != nil {
		t.Fatal(err)
	}
	props := res.Returnval.Objects[0].PropSet
	if len(props) != 1 || props[0].Name != `config.firewall.ruleset["vnc"]` {
		t.Fatalf("properties %+v", props)
	}
	if rs, ok := props[0].Val.(types.HostFirewallRuleset); !ok || rs.Key != "vnc" || rs.Rule[0].Port != 5900 {
		t.Fatalf("value %#v", props[0].Val)
	}
}
