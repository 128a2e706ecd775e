package main

import (
	"bytes"
	_ "embed"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"strings"
)

// The default inventory is kept as JSON rather than Go literals so the lab
// controller, the docs and --dump-default-inventory all share one source.
//
//go:embed default_inventory.json
var defaultInventoryJSON []byte

// Inventory is the lab's description of a vCenter. Sizes follow vSphere's
// convention: "MB" and "GB" are binary units (MiB, GiB).
type Inventory struct {
	Datacenters []Datacenter `json:"datacenters"`
}

type Datacenter struct {
	Name            string      `json:"name"`
	Clusters        []Cluster   `json:"clusters"`
	StandaloneHosts []Host      `json:"standalone_hosts"`
	Networks        []Network   `json:"networks"`
	Datastores      []Datastore `json:"datastores"`
	VMs             []VM        `json:"vms"`
	// Custom firewall rulesets, as an ESXi VIB installs them: the vSphere
	// API can enable a ruleset but has no way to define one.
	FirewallRulesets []FirewallRuleset `json:"firewall_rulesets"`
	Switches         []Switch          `json:"distributed_switches"`
}

type Cluster struct {
	Name       string `json:"name"`
	DRSEnabled bool   `json:"drs_enabled"`
	HAEnabled  bool   `json:"ha_enabled"`
	Hosts      []Host `json:"hosts"`
}

type Host struct {
	Name            string `json:"name"`
	MemoryMB        int64  `json:"memory_mb"`
	MemoryUsedMB    int64  `json:"memory_used_mb"`
	CPUSockets      int16  `json:"cpu_sockets"`
	CPUCores        int16  `json:"cpu_cores"`
	CPUThreads      int16  `json:"cpu_threads"`
	CPUMhz          int32  `json:"cpu_mhz"`
	CPUUsedMhz      int32  `json:"cpu_used_mhz"`
	ConnectionState string `json:"connection_state"`
	MaintenanceMode bool   `json:"maintenance_mode"`
}

// HostSelector names the hosts an object is attached to: the listed hosts
// plus every host of the listed clusters.
type HostSelector struct {
	Hosts    []string `json:"hosts"`
	Clusters []string `json:"clusters"`
}

func (s HostSelector) empty() bool { return len(s.Hosts) == 0 && len(s.Clusters) == 0 }

// Network is a standard port group on vSwitch0. With an empty selector it
// is present on every host of the datacenter.
type Network struct {
	Name string `json:"name"`
	VLAN int32  `json:"vlan"`
	HostSelector
}

// FirewallRuleset is one inbound or outbound port range, named by key.
type FirewallRuleset struct {
	Key       string  `json:"key"`
	Label     string  `json:"label"`
	Ports     []int32 `json:"ports"` // [begin, end]
	Protocol  string  `json:"protocol"`
	Direction string  `json:"direction"`
	Enabled   bool    `json:"enabled"`
	HostSelector
}

// Switch is a distributed virtual switch whose members are the selected hosts.
type Switch struct {
	Name string `json:"name"`
	HostSelector
}

type Datastore struct {
	Name       string `json:"name"`
	Type       string `json:"type"`
	CapacityGB int64  `json:"capacity_gb"`
	FreeGB     int64  `json:"free_gb"`
	RemoteHost string `json:"remote_host"`
	RemotePath string `json:"remote_path"`
	HostSelector
}

type VM struct {
	Name        string            `json:"name"`
	Host        string            `json:"host"`
	Datastore   string            `json:"datastore"`
	MemoryMB    int64             `json:"memory_mb"`
	CPUs        int32             `json:"cpus"`
	PowerState  string            `json:"power_state"`
	Annotation  string            `json:"annotation"`
	ExtraConfig map[string]string `json:"extra_config"`
	DisksMB     []int64           `json:"disks_mb"`
}

const (
	datastoreLocal = "local"
	datastoreNFS   = "nfs"

	stateConnected    = "connected"
	stateDisconnected = "disconnected"

	powerOn  = "poweredOn"
	powerOff = "poweredOff"
)

// loadInventory reads the inventory at path, or the default one when path is
// empty, fills in defaults and rejects anything the builder cannot honour.
func loadInventory(path string) (*Inventory, error) {
	data := defaultInventoryJSON
	if path != "" {
		var err error
		if data, err = os.ReadFile(path); err != nil {
			return nil, err
		}
	}
	inv, err := parseInventory(bytes.NewReader(data))
	if err != nil {
		if path == "" {
			path = "default inventory"
		}
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	return inv, nil
}

func parseInventory(r io.Reader) (*Inventory, error) {
	dec := json.NewDecoder(r)
	// A misspelt key would otherwise silently fall back to a default.
	dec.DisallowUnknownFields()

	var inv Inventory
	if err := dec.Decode(&inv); err != nil {
		return nil, err
	}
	inv.applyDefaults()
	if problems := inv.validate(); len(problems) > 0 {
		return nil, fmt.Errorf("invalid inventory:\n  %s", strings.Join(problems, "\n  "))
	}
	return &inv, nil
}

func (inv *Inventory) applyDefaults() {
	for i := range inv.Datacenters {
		dc := &inv.Datacenters[i]
		for _, h := range dc.allHosts() {
			if h.CPUSockets == 0 {
				h.CPUSockets = 1
			}
			if h.CPUThreads == 0 {
				h.CPUThreads = h.CPUCores
			}
			if h.ConnectionState == "" {
				h.ConnectionState = stateConnected
			}
		}
		for j := range dc.Datastores {
			ds := &dc.Datastores[j]
			if ds.Type == datastoreNFS && ds.RemoteHost == "" {
				ds.RemoteHost = "nfs.lab.local"
			}
			if ds.Type == datastoreNFS && ds.RemotePath == "" {
				ds.RemotePath = "/exports/" + ds.Name
			}
		}
		for j := range dc.FirewallRulesets {
			rs := &dc.FirewallRulesets[j]
			if rs.Label == "" {
				rs.Label = rs.Key
			}
			if rs.Protocol == "" {
				rs.Protocol = "tcp"
			}
			if rs.Direction == "" {
				rs.Direction = "inbound"
			}
		}
		for j := range dc.VMs {
			vm := &dc.VMs[j]
			if vm.CPUs == 0 {
				vm.CPUs = 1
			}
			if vm.PowerState == "" {
				vm.PowerState = powerOn
			}
		}
	}
}

// allHosts returns pointers to every host of the datacenter, clustered first.
func (dc *Datacenter) allHosts() []*Host {
	var hosts []*Host
	for i := range dc.Clusters {
		for j := range dc.Clusters[i].Hosts {
			hosts = append(hosts, &dc.Clusters[i].Hosts[j])
		}
	}
	for i := range dc.StandaloneHosts {
		hosts = append(hosts, &dc.StandaloneHosts[i])
	}
	return hosts
}

// validate returns every problem found rather than the first, so one run
// is enough to fix a hand-written inventory.
func (inv *Inventory) validate() []string {
	var v validator
	if len(inv.Datacenters) == 0 {
		v.addf("at least one datacenter is required")
	}
	hostNames := map[string]bool{}
	dcNames := map[string]bool{}
	for i := range inv.Datacenters {
		dc := &inv.Datacenters[i]
		v.name("datacenter", dc.Name, dcNames)
		v.datacenter(dc, hostNames)
	}
	return v.problems
}

type validator struct{ problems []string }

func (v *validator) addf(format string, args ...interface{}) {
	v.problems = append(v.problems, fmt.Sprintf(format, args...))
}

// name checks that an object has a usable name unique within seen. Names
// end up as datastore directory names too, hence no slashes.
func (v *validator) name(kind, name string, seen map[string]bool) {
	switch {
	case strings.TrimSpace(name) == "":
		v.addf("%s with an empty name", kind)
	case strings.ContainsAny(name, "/\\"):
		v.addf("%s %q: name must not contain slashes", kind, name)
	case seen[name]:
		v.addf("%s %q is defined twice", kind, name)
	}
	seen[name] = true
}

func (v *validator) datacenter(dc *Datacenter, hostNames map[string]bool) {
	clusters := map[string]bool{}
	for _, c := range dc.Clusters {
		v.name("cluster", c.Name, clusters)
		for _, h := range c.Hosts {
			v.host(h, hostNames)
		}
	}
	for _, h := range dc.StandaloneHosts {
		v.host(h, hostNames)
	}

	dcHosts := map[string]bool{}
	for _, h := range dc.allHosts() {
		dcHosts[h.Name] = true
	}

	networks := map[string]bool{}
	for _, n := range dc.Networks {
		v.name("network", n.Name, networks)
		if n.VLAN < 0 || n.VLAN > 4095 {
			v.addf("network %q: vlan must be 0-4095", n.Name)
		}
		v.selector(dc, fmt.Sprintf("network %q", n.Name), n.HostSelector, dcHosts, clusters)
	}

	datastores := map[string]bool{}
	for _, ds := range dc.Datastores {
		v.name("datastore", ds.Name, datastores)
		v.datastore(ds)
		if ds.empty() {
			v.addf("datastore %q: set hosts or clusters to mount it", ds.Name)
		} else {
			v.selector(dc, fmt.Sprintf("datastore %q", ds.Name), ds.HostSelector, dcHosts, clusters)
		}
	}

	rulesets := map[string]bool{}
	for _, rs := range dc.FirewallRulesets {
		v.name("firewall ruleset", rs.Key, rulesets)
		v.ruleset(rs)
		v.selector(dc, fmt.Sprintf("firewall ruleset %q", rs.Key), rs.HostSelector, dcHosts, clusters)
	}

	for _, sw := range dc.Switches {
		// Switches share the network folder with port groups, as in vCenter.
		v.name("distributed switch", sw.Name, networks)
		v.selector(dc, fmt.Sprintf("distributed switch %q", sw.Name), sw.HostSelector, dcHosts, clusters)
	}

	vms := map[string]bool{}
	for _, vm := range dc.VMs {
		v.name("vm", vm.Name, vms)
		v.vm(vm, dc, dcHosts)
	}
}

func (v *validator) host(h Host, seen map[string]bool) {
	v.name("host", h.Name, seen)
	if h.MemoryMB <= 0 {
		v.addf("host %q: memory_mb must be positive", h.Name)
	}
	if h.MemoryUsedMB < 0 || h.MemoryUsedMB > h.MemoryMB {
		v.addf("host %q: memory_used_mb must be between 0 and memory_mb", h.Name)
	}
	if h.CPUCores <= 0 || h.CPUMhz <= 0 {
		v.addf("host %q: cpu_cores and cpu_mhz must be positive", h.Name)
	}
	if h.CPUSockets <= 0 || h.CPUCores%h.CPUSockets != 0 {
		v.addf("host %q: cpu_cores must be a positive multiple of cpu_sockets", h.Name)
	}
	if h.CPUThreads < h.CPUCores {
		v.addf("host %q: cpu_threads must be at least cpu_cores", h.Name)
	}
	if h.CPUUsedMhz < 0 || int64(h.CPUUsedMhz) > int64(h.CPUMhz)*int64(h.CPUCores) {
		v.addf("host %q: cpu_used_mhz must be between 0 and cpu_mhz * cpu_cores", h.Name)
	}
	if h.ConnectionState != stateConnected && h.ConnectionState != stateDisconnected {
		v.addf("host %q: connection_state must be %q or %q", h.Name, stateConnected, stateDisconnected)
	}
}

func (v *validator) selector(dc *Datacenter, owner string, s HostSelector, hosts, clusters map[string]bool) {
	for _, h := range s.Hosts {
		if !hosts[h] {
			v.addf("%s: unknown host %q", owner, h)
		}
	}
	for _, c := range s.Clusters {
		if !clusters[c] {
			v.addf("%s: unknown cluster %q", owner, c)
		}
	}
	if len(dc.selectHosts(s)) == 0 {
		v.addf("%s: selects no host", owner)
	}
}

func (v *validator) datastore(ds Datastore) {
	if ds.Type != datastoreLocal && ds.Type != datastoreNFS {
		v.addf("datastore %q: type must be %q or %q", ds.Name, datastoreLocal, datastoreNFS)
	}
	if ds.CapacityGB <= 0 || ds.FreeGB < 0 || ds.FreeGB > ds.CapacityGB {
		v.addf("datastore %q: need capacity_gb > 0 and 0 <= free_gb <= capacity_gb", ds.Name)
	}
}

func (v *validator) ruleset(rs FirewallRuleset) {
	if len(rs.Ports) != 2 || rs.Ports[0] <= 0 || rs.Ports[0] > rs.Ports[1] || rs.Ports[1] > 65535 {
		v.addf("firewall ruleset %q: ports must be [begin, end] with 0 < begin <= end <= 65535", rs.Key)
	}
	if rs.Protocol != "tcp" && rs.Protocol != "udp" {
		v.addf("firewall ruleset %q: protocol must be \"tcp\" or \"udp\"", rs.Key)
	}
	if rs.Direction != "inbound" && rs.Direction != "outbound" {
		v.addf("firewall ruleset %q: direction must be \"inbound\" or \"outbound\"", rs.Key)
	}
}

func (v *validator) vm(vm VM, dc *Datacenter, hosts map[string]bool) {
	if !hosts[vm.Host] {
		v.addf("vm %q: unknown host %q", vm.Name, vm.Host)
	}
	if vm.MemoryMB <= 0 || vm.CPUs <= 0 {
		v.addf("vm %q: memory_mb and cpus must be positive", vm.Name)
	}
	if vm.PowerState != powerOn && vm.PowerState != powerOff {
		v.addf("vm %q: power_state must be %q or %q", vm.Name, powerOn, powerOff)
	}
	for _, size := range vm.DisksMB {
		if size <= 0 {
			v.addf("vm %q: disks_mb must be positive sizes", vm.Name)
			break
		}
	}
	if vm.Datastore != "" && !dc.mounts(vm.Datastore, vm.Host) {
		v.addf("vm %q: datastore %q is not mounted on host %q", vm.Name, vm.Datastore, vm.Host)
	}
	if vm.Datastore == "" && len(dc.datastoresOf(vm.Host)) == 0 {
		v.addf("vm %q: host %q mounts no datastore", vm.Name, vm.Host)
	}
}

// selectHosts resolves a selector to host names in inventory order; an
// empty selector selects every host of the datacenter.
func (dc *Datacenter) selectHosts(s HostSelector) []string {
	wanted := map[string]bool{}
	for _, h := range s.Hosts {
		wanted[h] = true
	}
	for _, c := range dc.Clusters {
		for _, name := range s.Clusters {
			if c.Name != name {
				continue
			}
			for _, h := range c.Hosts {
				wanted[h.Name] = true
			}
		}
	}

	var names []string
	for _, h := range dc.allHosts() {
		if s.empty() || wanted[h.Name] {
			names = append(names, h.Name)
		}
	}
	return names
}

// datastoresOf lists, in inventory order, the datastores mounted on host.
func (dc *Datacenter) datastoresOf(host string) []string {
	var names []string
	for _, ds := range dc.Datastores {
		if dc.mounts(ds.Name, host) {
			names = append(names, ds.Name)
		}
	}
	return names
}

func (dc *Datacenter) mounts(datastore, host string) bool {
	for _, ds := range dc.Datastores {
		if ds.Name != datastore {
			continue
		}
		for _, h := range dc.selectHosts(ds.HostSelector) {
			if h == host {
				return true
			}
		}
	}
	return false
}
