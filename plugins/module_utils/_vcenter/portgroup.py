# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The port group instances attach to: on a standard switch of every host, or on a distributed switch.

Pure planning over plain dicts. Nova's VMware driver attaches a VM's NIC to the port group
named after the network (nova-network's flat_network_bridge, or what the neutron plugin
expects), so it must exist on every host DRS may place the VM on.
"""

from __future__ import annotations

# The API's binding types; "lateBinding" is deprecated and not offered.
BINDINGS = {"static": "earlyBinding", "ephemeral": "ephemeral"}
BINDING_NAMES = {"earlyBinding": "static", "ephemeral": "ephemeral", "lateBinding": "dynamic"}


def _connected(hosts):
    return sorted((host for host in hosts if host["connection_state"] == "connected"), key=lambda h: h["name"])


def _skipped(hosts):
    return sorted(host["name"] for host in hosts if host["connection_state"] != "connected")


def plan_standard(hosts, name, vswitch, vlan_id, state):
    """Which hosts need the port group added, updated or removed on their standard switch.

    ``hosts``: dicts with name, moid, connection_state, ``vswitches`` (names) and
    ``portgroups`` (name -> {vlan_id, vswitch}).
    """
    plan = {"problems": [], "actions": [], "before": {}, "after": {}, "skipped": _skipped(hosts)}
    wanted = {"vlan_id": vlan_id, "vswitch": vswitch} if state == "present" else None
    lacking = [host["name"] for host in _connected(hosts) if vswitch not in host["vswitches"]]
    if state == "present" and lacking:
        plan["problems"].append("Standard switch %s does not exist on %s: create it (with its uplinks) first." % (
            vswitch, ", ".join(lacking)))
    for host in _connected(hosts):
        current = host["portgroups"].get(name)
        plan["before"][host["name"]] = current
        plan["after"][host["name"]] = wanted
        if current == wanted:
            continue
        action = "remove" if wanted is None else "add" if current is None else "update"
        plan["actions"].append({"action": action, "host": host})
    return plan


def plan_distributed(switches, portgroups, hosts, name, switch, vlan_id, binding, state):
    """Whether the distributed port group must be created, reconfigured or destroyed.

    ``switches``: dicts with moid, name, members (host moids). ``portgroups``: dicts with
    moid, name, switch (moid), vlan_id (None unless a single VLAN), binding (API type),
    config_version. Returns problems, the action (None, "create", "reconfigure",
    "destroy") with the changed settings, and before/after.
    """
    plan = {"problems": [], "action": None, "changes": {}, "portgroup": None, "switch": None,
            "before": None, "after": None, "skipped": _skipped(hosts)}
    found = [item for item in switches if item["name"] == switch]
    if not found:
        plan["problems"].append("Distributed switch %s not found in the datacenter; it has: %s." % (
            switch, ", ".join(sorted(item["name"] for item in switches)) or "none"))
        return plan
    dvs = plan["switch"] = found[0]
    names = {item["moid"]: item["name"] for item in switches}
    existing = [item for item in portgroups if item["name"] == name]
    current = existing[0] if existing else None
    if current is not None and current["switch"] != dvs["moid"]:
        plan["problems"].append("Port group %s already exists on distributed switch %s, not on %s." % (
            name, names.get(current["switch"], current["switch"]), switch))
        return plan
    if state == "present":
        outside = [host["name"] for host in _connected(hosts) if host["moid"] not in dvs["members"]]
        if outside:
            plan["problems"].append("Distributed switch %s does not span %s: add those hosts (and their uplinks) "
                                    "to the switch first." % (switch, ", ".join(outside)))
    view = None if current is None else {"switch": switch, "vlan_id": current["vlan_id"],
                                         "port_binding": BINDING_NAMES.get(current["binding"], current["binding"])}
    wanted = {"switch": switch, "vlan_id": vlan_id, "port_binding": binding} if state == "present" else None
    plan.update(portgroup=current, before=view, after=wanted)
    if wanted is None:
        plan["action"] = "destroy" if current is not None else None
    elif current is None:
        plan["action"], plan["changes"] = "create", {"vlan_id": vlan_id, "port_binding": binding}
    else:
        plan["changes"] = {key: wanted[key] for key in ("vlan_id", "port_binding") if view[key] != wanted[key]}
        plan["action"] = "reconfigure" if plan["changes"] else None
    return plan
