#!/usr/bin/python
# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vcenter_host_firewall
short_description: Enable or disable an ESXi firewall ruleset on every host of a cluster
version_added: 0.1.0
description:
  - Enables (or disables) the firewall ruleset O(ruleset) on every connected host of a
    cluster, such as the one that lets nova's noVNC proxy reach the VNC consoles of its VMs.
  - With O(required_ports), also checks that the ruleset opens those inbound ports on
    every host.
  - Fails, and changes nothing, when a connected host does not define the ruleset (unless
    disabling it) or it does not open O(required_ports). The vSphere API can enable or
    disable a ruleset but not define one; a custom ruleset is installed on the host by a VIB.
  - Hosts that are not connected cannot be configured; they are listed in the result and
    reported in a warning.
author:
  - nova_vsphere.mixed_cloud maintainers (@nova-vsphere)
options:
  datacenter:
    description: The datacenter of the cluster, needed only when the cluster name is not unique.
    type: str
  cluster:
    description: The cluster whose hosts to configure.
    type: str
    required: true
  ruleset:
    description:
      - The ruleset's key, as C(esxcli network firewall ruleset list) shows it.
      - For nova's VNC consoles, V(vnc) is the ruleset of the OpenStack VNC VIB that nova's
        VMware documentation points to (TCP 5900-9999 inbound).
    type: str
    required: true
  enabled:
    description: Whether the ruleset is enabled.
    type: bool
    default: true
  required_ports:
    description:
      - Inbound ports the ruleset must open on every host, checked only when O(enabled=true).
      - Nova gives each VM a VNC port from C([vmware] vnc_port) on; its documentation asks for 5900-6105.
    type: dict
    suboptions:
      begin:
        description: First port.
        type: int
        required: true
      end:
        description: Last port, included.
        type: int
        required: true
      protocol:
        description: The protocol.
        type: str
        choices: [tcp, udp]
        default: tcp
extends_documentation_fragment:
  - nova_vsphere.mixed_cloud.vcenter
  - ansible.builtin.action_common_attributes
  - nova_vsphere.mixed_cloud.attributes.changes
"""

EXAMPLES = r"""
- name: Let nova's noVNC proxy reach the consoles on every host of Cluster-A
  nova_vsphere.mixed_cloud.vcenter_host_firewall:
    cluster: Cluster-A
    ruleset: vnc
    required_ports:
      begin: 5900
      end: 6105
"""

RETURN = r"""
firewall:
  description: The ruleset on each connected host, as it is after this task (in check mode, as it would be).
  returned: success
  type: dict
  contains:
    ruleset:
      description: The ruleset's key.
      type: str
      sample: vnc
    hosts:
      description: Each connected host with C(enabled), the C(inbound) ports the ruleset opens, and C(allowed_ip) (C(all) or a list).
      type: list
      elements: dict
      sample: [{"name": "esx-a1.lab.local", "enabled": true, "inbound": ["5900-9999/tcp"], "allowed_ip": "all"}]
    skipped_hosts:
      description: Hosts of the cluster that are not connected, left unconfigured.
      type: list
      elements: str
      sample: []
"""

from ansible.module_utils.basic import AnsibleModule

from ..module_utils._cluster_reads import locate_cluster
from ..module_utils._errors import BackendError, failing_cleanly
from ..module_utils._firewall import plan_ruleset
from ..module_utils._host_reads import read_host_firewalls
from ..module_utils._vcenter import managed_object_types, vcenter_argument_spec, vcenter_session

ARGUMENT_SPEC = dict(
    datacenter=dict(type="str"),
    cluster=dict(type="str", required=True),
    ruleset=dict(type="str", required=True),
    enabled=dict(type="bool", default=True),
    required_ports=dict(type="dict", options=dict(
        begin=dict(type="int", required=True),
        end=dict(type="int", required=True),
        protocol=dict(type="str", choices=["tcp", "udp"], default="tcp"),
    )),
)


def main():
    module = AnsibleModule(argument_spec=vcenter_argument_spec(**ARGUMENT_SPEC), supports_check_mode=True)
    params = module.params
    key = params["ruleset"]
    with failing_cleanly(module), vcenter_session(params) as client:
        cluster = locate_cluster(client, params["cluster"], params["datacenter"])
        plan = plan_ruleset(read_host_firewalls(client, cluster["moid"], key), key, params["enabled"], params["required_ports"])
        if plan["problems"]:
            raise BackendError(" ".join(plan["problems"]))
        if not module.check_mode:
            vim = managed_object_types()
            for host in plan["changes"]:
                firewall = client.ref(vim.host.FirewallSystem, host["manager"])
                method = firewall.EnableRuleset if params["enabled"] else firewall.DisableRuleset
                what = "%s firewall ruleset %s on %s" % ("enable" if params["enabled"] else "disable", key, host["name"])
                client.invoke(what, method, key)
        if plan["skipped"]:
            module.warn("Not connected, so not configured: %s." % ", ".join(plan["skipped"]))
        module.exit_json(changed=bool(plan["changes"]), diff={"before": plan["before"], "after": plan["after"]},
                         firewall={"ruleset": key, "hosts": plan["hosts"], "skipped_hosts": plan["skipped"]})


if __name__ == "__main__":
    main()
