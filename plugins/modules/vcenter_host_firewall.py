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
      - O(required_ports.begin) and O(required_ports.end) are ports from V(1) to V(65535),
        O(required_ports.begin) not after O(required_ports.end); anything else is refused
        before connecting.
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
  - nova_vsphere.mixed_cloud.vcenter.cluster_scope
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

import functools

from ..module_utils._common.argspec import compose
from ..module_utils._common.runner import run_module
from ..module_utils._vcenter.client import VCENTER_ARGUMENT_SPEC
from ..module_utils._vcenter.cluster_scope import CLUSTER_SCOPE_SPEC, checked_session, on_cluster_hosts
from ..module_utils._vcenter.firewall import check_required_ports, plan_ruleset
from ..module_utils._vcenter.host_reads import read_host_firewalls
from ..module_utils._vcenter.writes import switch_ruleset

ARGUMENT_SPEC = compose(
    VCENTER_ARGUMENT_SPEC,
    CLUSTER_SCOPE_SPEC,
    ruleset=dict(type="str", required=True),
    enabled=dict(type="bool", default=True),
    required_ports=dict(type="dict", options=dict(
        begin=dict(type="int", required=True),
        end=dict(type="int", required=True),
        protocol=dict(type="str", choices=["tcp", "udp"], default="tcp"),
    )),
)


def check_options(params):
    check_required_ports(params["required_ports"])


def plan_hosts(client, cluster, params):
    key, enabled = params["ruleset"], params["enabled"]
    plan = plan_ruleset(read_host_firewalls(client, cluster["moid"], key), key, enabled, params["required_ports"])
    changes = [functools.partial(switch_ruleset, client, host, key, enabled) for host in plan["changes"]]
    return plan, changes, {"ruleset": key, "hosts": plan["hosts"]}


def main():
    run_module(ARGUMENT_SPEC, checked_session(check_options), on_cluster_hosts("firewall", plan_hosts))


if __name__ == "__main__":
    main()
