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
  datacenter:
    description: The datacenter of the cluster, needed only when the cluster name is not unique.
    type: str
  cluster:
    description: The cluster whose hosts must reach the port group.
    type: str
    required: true
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

from ansible.module_utils.basic import AnsibleModule

from ..module_utils._cluster_reads import locate_cluster
from ..module_utils._errors import BackendError, failing_cleanly
from ..module_utils._host_reads import read_dv_portgroups, read_host_networks, read_switches
from ..module_utils._portgroup import BINDINGS, plan_distributed, plan_standard
from ..module_utils._vcenter import managed_object_types, vcenter_argument_spec, vcenter_session

ARGUMENT_SPEC = dict(
    datacenter=dict(type="str"),
    cluster=dict(type="str", required=True),
    name=dict(type="str", required=True),
    switch_type=dict(type="str", choices=["standard", "distributed"], default="standard"),
    switch=dict(type="str"),
    vlan_id=dict(type="int", default=0),
    port_binding=dict(type="str", choices=["static", "ephemeral"], default="static"),
    state=dict(type="str", choices=["present", "absent"], default="present"),
)


def apply_standard(client, params, plan):
    vim = managed_object_types()
    name = params["name"]
    spec = vim.host.PortGroup.Specification(name=name, vlanId=params["vlan_id"], vswitchName=params["switch"],
                                            policy=vim.host.NetworkPolicy())
    for item in plan["actions"]:
        host, action = item["host"], item["action"]
        network = client.ref(vim.host.NetworkSystem, host["manager"])
        what = "%s port group %s on %s" % (action, name, host["name"])
        if action == "add":
            client.invoke(what, network.AddPortGroup, spec)
        elif action == "update":
            client.invoke(what, network.UpdatePortGroup, name, spec)
        else:
            client.invoke(what, network.RemovePortGroup, name)


def apply_distributed(client, params, plan):
    vim = managed_object_types()
    name, changes = params["name"], plan["changes"]
    what = "%s distributed port group %s" % (plan["action"], name)
    if plan["action"] == "destroy":
        portgroup = client.ref(vim.dvs.DistributedVirtualPortgroup, plan["portgroup"]["moid"])
        client.wait_for_task(client.invoke(what, portgroup.Destroy_Task), what=what)
        return
    spec = vim.dvs.DistributedVirtualPortgroup.ConfigSpec()
    if "vlan_id" in changes:
        spec.defaultPortConfig = vim.dvs.VmwareDistributedVirtualSwitch.VmwarePortConfigPolicy(
            vlan=vim.dvs.VmwareDistributedVirtualSwitch.VlanIdSpec(vlanId=changes["vlan_id"], inherited=False))
    if "port_binding" in changes:
        spec.type = BINDINGS[changes["port_binding"]]
    if plan["action"] == "create":
        spec.name = name
        switch = client.ref(plan["switch"]["type"], plan["switch"]["moid"])
        task = client.invoke(what, switch.AddDVPortgroup_Task, [spec])
    else:
        # vCenter rejects a reconfiguration based on a stale configVersion instead of losing a concurrent change.
        spec.configVersion = plan["portgroup"]["config_version"]
        portgroup = client.ref(vim.dvs.DistributedVirtualPortgroup, plan["portgroup"]["moid"])
        task = client.invoke(what, portgroup.ReconfigureDVPortgroup_Task, spec)
    client.wait_for_task(task, what=what)


def main():
    module = AnsibleModule(argument_spec=vcenter_argument_spec(**ARGUMENT_SPEC), supports_check_mode=True,
                           required_if=[("switch_type", "distributed", ["switch"])])
    params = module.params
    distributed = params["switch_type"] == "distributed"
    if not distributed:
        params["switch"] = params["switch"] or "vSwitch0"
    # 4095 on a standard port group passes every VLAN to the guest; a distributed one has trunk specs for that.
    highest = 4094 if distributed else 4095
    if not 0 <= params["vlan_id"] <= highest:
        module.fail_json(msg="vlan_id must be between 0 and %d, not %d." % (highest, params["vlan_id"]))
    with failing_cleanly(module), vcenter_session(params) as client:
        cluster = locate_cluster(client, params["cluster"], params["datacenter"])
        hosts = read_host_networks(client, cluster["moid"])
        if distributed:
            plan = plan_distributed(read_switches(client, cluster["datacenter_moid"]),
                                    read_dv_portgroups(client, cluster["datacenter_moid"]), hosts, params["name"],
                                    params["switch"], params["vlan_id"], params["port_binding"], params["state"])
            changed = plan["action"] is not None
        else:
            plan = plan_standard(hosts, params["name"], params["switch"], params["vlan_id"], params["state"])
            changed = bool(plan["actions"])
        if plan["problems"]:
            raise BackendError(" ".join(plan["problems"]))
        if changed and not module.check_mode:
            (apply_distributed if distributed else apply_standard)(client, params, plan)
        if plan["skipped"]:
            module.warn("Not connected, so not configured: %s." % ", ".join(plan["skipped"]))
        result = {key: params[key] for key in ("name", "switch_type", "switch", "state", "vlan_id")}
        if distributed:
            result["port_binding"] = params["port_binding"]
        result["hosts"] = sorted(host["name"] for host in hosts if host["connection_state"] == "connected")
        result["skipped_hosts"] = plan["skipped"]
        module.exit_json(changed=changed, diff={"before": plan["before"] or {}, "after": plan["after"] or {}}, portgroup=result)


if __name__ == "__main__":
    main()
