#!/usr/bin/python
# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vcenter_portgroup
short_description: The port group instances attach to, on every host of a cluster or on a distributed switch
version_added: 0.1.0
description:
  - With O(switch_type=standard), makes the port group O(name) exist with VLAN O(vlan_id)
    on the standard switch O(switch) of every connected host of the cluster (or removes it
    from every host with O(state=absent)).
  - With O(switch_type=distributed), makes the port group exist on the distributed switch
    O(switch) with that VLAN and port binding, and checks that the switch spans every
    connected host of the cluster.
  - Nova attaches a VM's network card to the port group of the network's name, so it must
    exist on every host DRS may place the VM on.
  - Fails, and changes nothing, when the standard switch is missing on a host, the
    distributed switch does not exist or does not span the cluster, or the port group
    already exists on another distributed switch.
author:
  - nova_vsphere.mixed_cloud maintainers (@nova-vsphere)
options:
  name:
    description:
      - The port group's name. With nova-network it was C(flat_network_bridge) (C(br100) in
        old guides); with neutron, the name your plugin expects.
    type: str
    required: true
  switch_type:
    description: A standard switch on each host, or a distributed switch.
    type: str
    choices: [standard, distributed]
    default: standard
  switch:
    description:
      - The standard switch's name on each host, or the distributed switch's name.
      - Defaults to V(vSwitch0) for a standard switch; required for a distributed one.
    type: str
  vlan_id:
    description: The VLAN id; V(0) for none.
    type: int
    default: 0
  port_binding:
    description:
      - The port binding of a distributed port group. V(ephemeral) ports are created on
        demand, even when vCenter is down (old nova-network guides asked for it);
        V(static) ports are assigned at connection time.
      - Ignored for a standard switch.
    type: str
    choices: [static, ephemeral]
    default: static
  state:
    description: Whether the port group exists.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - nova_vsphere.mixed_cloud.vcenter
  - nova_vsphere.mixed_cloud.vcenter.cluster_scope
  - ansible.builtin.action_common_attributes
  - nova_vsphere.mixed_cloud.attributes.changes
notes:
  - A distributed port group is created with the given VLAN and binding only; the switch's
    defaults apply to everything else, and a reconfiguration sends only what changed.
"""

EXAMPLES = r"""
- name: The legacy nova-network bridge on every host's vSwitch0
  nova_vsphere.mixed_cloud.vcenter_portgroup:
    cluster: Cluster-A
    name: br100
    vlan_id: 100

- name: A distributed port group with ephemeral binding
  nova_vsphere.mixed_cloud.vcenter_portgroup:
    cluster: Cluster-A
    name: br100
    switch_type: distributed
    switch: dvs-lab
    vlan_id: 100
    port_binding: ephemeral
"""

RETURN = r"""
portgroup:
  description: The port group as it is after this task (in check mode, as it would be).
  returned: success
  type: dict
  contains:
    name:
      description: The port group's name.
      type: str
      sample: br100
    switch_type:
      description: V(standard) or V(distributed).
      type: str
      sample: standard
    switch:
      description: The switch's name.
      type: str
      sample: vSwitch0
    state:
      description: V(present) or V(absent).
      type: str
      sample: present
    vlan_id:
      description: The VLAN id.
      type: int
      sample: 100
    port_binding:
      description: For a distributed port group, V(static) or V(ephemeral).
      type: str
      returned: when O(switch_type=distributed)
    hosts:
      description: The connected hosts of the cluster the task configured or checked.
      type: list
      elements: str
    skipped_hosts:
      description: Hosts of the cluster that are not connected, left unconfigured.
      type: list
      elements: str
"""

import functools

from ..module_utils._common.argspec import compose
from ..module_utils._common.errors import BackendError
from ..module_utils._common.runner import run_module
from ..module_utils._vcenter.client import VCENTER_ARGUMENT_SPEC
from ..module_utils._vcenter.cluster_scope import CLUSTER_SCOPE_SPEC, checked_session, on_cluster_hosts
from ..module_utils._vcenter.host_reads import read_dv_portgroups, read_host_networks, read_switches
from ..module_utils._vcenter.portgroup import plan_distributed, plan_standard
from ..module_utils._vcenter.writes import change_distributed_portgroup, change_standard_portgroup

ARGUMENT_SPEC = compose(
    VCENTER_ARGUMENT_SPEC,
    CLUSTER_SCOPE_SPEC,
    name=dict(type="str", required=True),
    switch_type=dict(type="str", choices=["standard", "distributed"], default="standard"),
    switch=dict(type="str"),
    vlan_id=dict(type="int", default=0),
    port_binding=dict(type="str", choices=["static", "ephemeral"], default="static"),
    state=dict(type="str", choices=["present", "absent"], default="present"),
)


def settle_options(params):
    """Default the standard switch's name and refuse a VLAN id out of range, before connecting."""
    distributed = params["switch_type"] == "distributed"
    if not distributed:
        params["switch"] = params["switch"] or "vSwitch0"
    # 4095 on a standard port group passes every VLAN to the guest; a distributed one has trunk specs for that.
    highest = 4094 if distributed else 4095
    if not 0 <= params["vlan_id"] <= highest:
        raise BackendError("vlan_id must be between 0 and %d, not %d." % (highest, params["vlan_id"]))


def plan_hosts(client, cluster, params):
    name = params["name"]
    hosts = read_host_networks(client, cluster["moid"])
    result = {key: params[key] for key in ("name", "switch_type", "switch", "state", "vlan_id")}
    if params["switch_type"] == "distributed":
        plan = plan_distributed(read_switches(client, cluster["datacenter_moid"]),
                                read_dv_portgroups(client, cluster["datacenter_moid"]), hosts, name,
                                params["switch"], params["vlan_id"], params["port_binding"], params["state"])
        changes = [functools.partial(change_distributed_portgroup, client, plan, name)] if plan["action"] else []
        result["port_binding"] = params["port_binding"]
    else:
        plan = plan_standard(hosts, name, params["switch"], params["vlan_id"], params["state"])
        changes = [functools.partial(change_standard_portgroup, client, item["host"], item["action"], name,
                                     params["vlan_id"], params["switch"]) for item in plan["actions"]]
    result["hosts"] = sorted(host["name"] for host in hosts if host["connection_state"] == "connected")
    return plan, changes, result


def main():
    run_module(ARGUMENT_SPEC, checked_session(settle_options), on_cluster_hosts("portgroup", plan_hosts),
               required_if=[("switch_type", "distributed", ["switch"])])


if __name__ == "__main__":
    main()
