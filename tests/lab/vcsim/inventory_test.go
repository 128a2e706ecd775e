package main

import (
	"reflect"
	"strings"
	"testing"
)

func TestDefaultInventoryIsValid(t *testing.T) {
	inv, err := loadInventory("")
	if err != nil {
		t.Fatal(err)
	}
	dc := inv.Datacenters[0]
	got := dc.selectHosts(HostSelector{Hosts: []string{"esx-a1.lab.local", "esx-a2.lab.local"}})
	if len(got) != 2 {
		t.Errorf("nfs-a-partial style selector chose %v", got)
	}
	if all := dc.selectHosts(HostSelector{}); len(all) != 7 {
		t.Errorf("empty selector chose %d hosts, want all 7", len(all))
	}
}

func TestRulesetDefaults(t *testing.T) {
	inv, err := parseInventory(strings.NewReader(`{"datacenters": [{"name": "DC",
		"standalone_hosts": [{"name": "h", "memory_mb": 1, "cpu_cores": 1, "cpu_mhz": 1}],
		"firewall_rulesets": [{"key": "vnc", "ports": [5900, 9999]}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	rs := inv.Datacenters[0].FirewallRulesets[0]
	if rs.Label != "vnc" || rs.Protocol != "tcp" || rs.Direction != "inbound" || rs.Enabled {
		t.Errorf("ruleset defaults not applied: %+v", rs)
	}
}

func TestSelectHostsKeepsInventoryOrder(t *testing.T) {
	dc := Datacenter{
		Clusters:        []Cluster{{Name: "C", Hosts: []Host{{Name: "c1"}, {Name: "c2"}}}},
		StandaloneHosts: []Host{{Name: "s1"}},
	}
	got := dc.selectHosts(HostSelector{Hosts: []string{"s1", "c2"}, Clusters: []string{"C"}})
	if want := []string{"c1", "c2", "s1"}; !reflect.DeepEqual(got, want) {
		t.Errorf("got %v, want %v", got, want)
	}
}

func TestParseInventoryDefaults(t *testing.T) {
	inv, err := parseInventory(strings.NewReader(`{"datacenters": [{"name": "DC",
		"standalone_hosts": [{"name": "h", "memory_mb": 1024, "cpu_cores": 4, "cpu_mhz": 2000}],
		"datastores": [{"name": "ds", "type": "nfs", "capacity_gb": 10, "free_gb": 1, "hosts": ["h"]}],
		"vms": [{"name": "vm", "host": "h", "memory_mb": 64}]}]}`))
	if err != nil {
		t.Fatal(err)
	}
	dc := inv.Datacenters[0]
	host := dc.StandaloneHosts[0]
	if host.CPUSockets != 1 || host.CPUThreads != 4 || host.ConnectionState != stateConnected {
		t.Errorf("host defaults not applied: %+v", host)
	}
	if ds := dc.Datastores[0]; ds.RemotePath != "/exports/ds" || ds.RemoteHost == "" {
		t.Errorf("NFS defaults not applied: %+v", ds)
	}
	if rs := dc.FirewallRulesets; len(rs) != 0 {
		t.Errorf("no ruleset expected: %+v", rs)
	}
	if vm := dc.VMs[0]; vm.CPUs != 1 || vm.PowerState != powerOn {
		t.Errorf("vm defaults not applied: %+v", vm)
	}
}

func TestParseInventoryRejects(t *testing.T) {
	cases := map[string]struct{ json, want string }{
		"unknown field": {
			`{"datacenters": [{"name": "DC", "clustres": []}]}`,
			`unknown field "clustres"`,
		},
		"used memory above size": {
			`{"datacenters": [{"name": "DC", "standalone_hosts": [
				{"name": "h", "memory_mb": 1, "memory_used_mb": 2, "cpu_cores": 1, "cpu_mhz": 1}]}]}`,
			`memory_used_mb must be between 0 and memory_mb`,
		},
		"duplicate host across datacenters": {
			`{"datacenters": [
				{"name": "A", "standalone_hosts": [{"name": "h", "memory_mb": 1, "cpu_cores": 1, "cpu_mhz": 1}]},
				{"name": "B", "standalone_hosts": [{"name": "h", "memory_mb": 1, "cpu_cores": 1, "cpu_mhz": 1}]}]}`,
			`host "h" is defined twice`,
		},
		"datastore on unknown cluster": {
			`{"datacenters": [{"name": "DC", "standalone_hosts": [{"name": "h", "memory_mb": 1, "cpu_cores": 1, "cpu_mhz": 1}],
				"datastores": [{"name": "ds", "type": "local", "capacity_gb": 1, "clusters": ["nope"]}]}]}`,
			`datastore "ds": unknown cluster "nope"`,
		},
		"firewall ruleset with a backwards port range": {
			`{"datacenters": [{"name": "DC", "standalone_hosts": [{"name": "h", "memory_mb": 1, "cpu_cores": 1, "cpu_mhz": 1}],
				"firewall_rulesets": [{"key": "vnc", "ports": [6000, 5900]}]}]}`,
			`firewall ruleset "vnc": ports must be [begin, end]`,
		},
		"distributed switch named like a network": {
			`{"datacenters": [{"name": "DC", "standalone_hosts": [{"name": "h", "memory_mb": 1, "cpu_cores": 1, "cpu_mhz": 1}],
				"networks": [{"name": "n"}], "distributed_switches": [{"name": "n"}]}]}`,
			`distributed switch "n" is defined twice`,
		},
		"vm with a disk of no size": {
			`{"datacenters": [{"name": "DC", "standalone_hosts": [{"name": "h", "memory_mb": 1, "cpu_cores": 1, "cpu_mhz": 1}],
				"datastores": [{"name": "ds", "type": "local", "capacity_gb": 1, "hosts": ["h"]}],
				"vms": [{"name": "vm", "host": "h", "memory_mb": 1, "disks_mb": [1, 0]}]}]}`,
			`vm "vm": disks_mb must be positive sizes`,
		},
		"vm on unmounted datastore": {
			`{"datacenters": [{"name": "DC", "standalone_hosts": [
				{"name": "h", "memory_mb": 1, "cpu_cores": 1, "cpu_mhz": 1},
				{"name": "g", "memory_mb": 1, "cpu_cores": 1, "cpu_mhz": 1}],
				"datastores": [{"name": "ds", "type": "local", "capacity_gb": 1, "hosts": ["g"]}],
				"vms": [{"name": "vm", "host": "h", "datastore": "ds", "memory_mb": 1}]}]}`,
			`datastore "ds" is not mounted on host "h"`,
		},
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := parseInventory(strings.NewReader(c.json))
			if err == nil || !strings.Contains(err.Error(), c.want) {
				t.Errorf("got error %v, want one containing %q", err, c.want)
			}
		})
	}
}
