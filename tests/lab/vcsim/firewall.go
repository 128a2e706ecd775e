package main

import (
	"fmt"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// ownFirewall gives host a firewall of its own, seen the same way through
// HostSystem config.firewall and HostFirewallSystem firewallInfo.
//
// In 0.24 every HostFirewallSystem copies the ESX template's struct, so the
// rulesets of all hosts share one array: enabling a ruleset on one host
// enables it everywhere. The host's config.firewall is a separate deep copy
// that Enable/DisableRuleset never touch. Sharing the host's own copy fixes
// both, as applyHostFacts does for the network configuration.
func ownFirewall(host *simulator.HostSystem) {
	fs := simulator.Map.Get(*host.ConfigManager.FirewallSystem).(*simulator.HostFirewallSystem)
	fs.FirewallInfo = host.Config.Firewall
}

// addRuleset defines a custom ruleset on host, as installing a VIB with a
// firewall XML file does on ESXi. The API has no call that can do this.
func addRuleset(host *simulator.HostSystem, spec FirewallRuleset) error {
	info := host.Config.Firewall
	for _, rs := range info.Ruleset {
		if rs.Key == spec.Key {
			return fmt.Errorf("firewall ruleset %q: host %s already has a ruleset of that key", spec.Key, host.Name)
		}
	}
	info.Ruleset = append(info.Ruleset, types.HostFirewallRuleset{
		Key:      spec.Key,
		Label:    spec.Label,
		Required: false,
		Rule: []types.HostFirewallRule{{
			Port:      spec.Ports[0],
			EndPort:   spec.Ports[1],
			Direction: types.HostFirewallRuleDirection(spec.Direction),
			PortType:  types.HostFirewallRulePortTypeDst,
			Protocol:  spec.Protocol,
		}},
		Enabled:      spec.Enabled,
		AllowedHosts: &types.HostFirewallRulesetIpList{AllIp: true},
	})
	return nil
}
