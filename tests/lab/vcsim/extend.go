package main

import (
	"github.com/vmware/govmomi/simulator"
)

// labDatastoreDir is where datastores created through the API get their
// backing directories; set once the inventory is built.
var labDatastoreDir string

// extendHosts gives every host that lacks them the lab's fixes for host
// configuration calls (host_storage.go, host_network.go, firewall.go). It
// runs after the inventory is built, since the builder itself relies on
// 0.24's own behaviour, and again after hosts are added through the API.
func extendHosts(datastoreDir string) {
	if datastoreDir != "" {
		labDatastoreDir = datastoreDir
	}
	for _, e := range simulator.Map.All("HostSystem") {
		host := e.(*simulator.HostSystem)
		simulator.Map.WithLock(host, func() {
			ownFirewall(host)
			if dss, ok := simulator.Map.Get(*host.ConfigManager.DatastoreSystem).(*simulator.HostDatastoreSystem); ok {
				simulator.Map.Put(&datastoreSystem{HostDatastoreSystem: *dss, dir: labDatastoreDir})
			}
			if ns, ok := simulator.Map.Get(*host.ConfigManager.NetworkSystem).(*simulator.HostNetworkSystem); ok {
				ns.NetworkInfo = host.Config.Network
				simulator.Map.Put(&networkSystem{HostNetworkSystem: *ns})
			}
		})
	}
}

func hostsAdded(*simulator.Method) {
	refreshSummaries()
	extendHosts("")
}
