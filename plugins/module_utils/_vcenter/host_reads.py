# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bulk reads of host configuration (firewall, port groups, NFS mounts) and distributed switches.

One PropertyCollector call each: a walk from the cluster to its hosts, or from the
datacenter to its datastores (``client.collect``, no ContainerView); a ContainerView rooted
at the datacenter for switches and port groups. Plain dicts out.
"""

from __future__ import annotations

from .client import managed_object_types
from .reads import moid_of


def _cluster_hosts(client, cluster_moid, properties):
    vim = managed_object_types()
    return client.collect(client.ref(vim.ClusterComputeResource, cluster_moid), [(vim.ClusterComputeResource, "host")],
                          {vim.HostSystem: ("name", "runtime.connectionState") + tuple(properties)})


def _host_with_system(row, system):
    """A host of the cluster with the moid of its configuration system ``system`` (a property path)."""
    return {
        "moid": row["moid"],
        "name": row["name"],
        "connection_state": str(row.get("runtime.connectionState") or "unknown"),
        "manager": moid_of(row.get(system)),
    }


def read_host_firewalls(client, cluster_moid, key):
    """Each host of the cluster with its firewall system and the ruleset ``key`` (None if not defined).

    The indexed path reads that one ruleset of each host, not its whole firewall (dozens of
    rulesets: most of the answer's size at 50 hosts).
    """
    path = 'config.firewall.ruleset["%s"]' % key
    rows = _cluster_hosts(client, cluster_moid, (path, "configManager.firewallSystem"))
    return [dict(_host_with_system(row, "configManager.firewallSystem"),
                 ruleset=_ruleset(row[path]) if row.get(path) is not None else None) for row in rows]


def _ruleset(ruleset):
    allowed = ruleset.allowedHosts
    return {
        "enabled": bool(ruleset.enabled),
        "rules": [{"port": rule.port, "end_port": rule.endPort, "direction": str(rule.direction),
                   "protocol": rule.protocol} for rule in ruleset.rule or ()],
        "allowed_ip": "all" if allowed is None or allowed.allIp else sorted(
            list(allowed.ipAddress or ()) + ["%s/%s" % (net.network, net.prefixLength) for net in allowed.ipNetwork or ()]),
    }


def read_host_networks(client, cluster_moid):
    """Each host of the cluster with its network system, standard switch names and port groups."""
    rows = _cluster_hosts(client, cluster_moid, (
        "config.network.vswitch", "config.network.portgroup", "configManager.networkSystem"))
    return [dict(
        _host_with_system(row, "configManager.networkSystem"),
        vswitches=sorted(item.name for item in row.get("config.network.vswitch") or ()),
        portgroups={item.spec.name: {"vlan_id": item.spec.vlanId, "vswitch": item.spec.vswitchName}
                    for item in row.get("config.network.portgroup") or ()},
    ) for row in rows]


def read_host_storage(client, cluster_moid):
    """Each host of the cluster with its datastore system and the datastores it mounts."""
    rows = _cluster_hosts(client, cluster_moid, ("datastore", "configManager.datastoreSystem"))
    return [dict(_host_with_system(row, "configManager.datastoreSystem"), datastores=sorted(moid_of(ref) for ref in row.get("datastore") or ()))
            for row in rows]


def read_datacenter_datastores(client, datacenter_moid):
    """The datacenter's datastores with their type and, for NFS, the export."""
    vim = managed_object_types()
    rows = client.collect(client.ref(vim.Datacenter, datacenter_moid), [(vim.Datacenter, "datastore")],
                          {vim.Datastore: ("name", "summary.type", "info")})
    datastores = []
    for row in rows:
        nas = getattr(row.get("info"), "nas", None)
        datastores.append({
            "moid": row["moid"],
            "name": row["name"],
            "type": row.get("summary.type"),
            "remote_host": getattr(nas, "remoteHost", None),
            "remote_path": getattr(nas, "remotePath", None),
        })
    return datastores


def read_switches(client, datacenter_moid):
    """The datacenter's distributed switches with their member hosts."""
    vim = managed_object_types()
    rows = client.retrieve(vim.DistributedVirtualSwitch, ("name", "summary.hostMember"),
                           root=client.ref(vim.Datacenter, datacenter_moid))
    return [{"moid": row["moid"], "type": row["obj"]._wsdlName, "name": row["name"],
             "members": sorted(moid_of(ref) for ref in row.get("summary.hostMember") or ())} for row in rows]


def read_dv_portgroups(client, datacenter_moid):
    """The datacenter's distributed port groups: switch, binding, VLAN (None unless one VLAN id) and config version."""
    vim = managed_object_types()
    rows = client.retrieve(vim.dvs.DistributedVirtualPortgroup, ("name", "config"),
                           root=client.ref(vim.Datacenter, datacenter_moid))
    portgroups = []
    for row in rows:
        config = row["config"]
        vlan = getattr(config.defaultPortConfig, "vlan", None)
        portgroups.append({
            "moid": row["moid"],
            "name": row["name"],
            "switch": moid_of(config.distributedVirtualSwitch),
            "binding": config.type,
            "vlan_id": vlan.vlanId if isinstance(vlan, vim.dvs.VmwareDistributedVirtualSwitch.VlanIdSpec) else None,
            "config_version": config.configVersion,
        })
    return portgroups
