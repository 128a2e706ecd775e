#!/usr/bin/python
# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: compute_host_health
short_description: Which KVM compute hosts stopped reporting, and whether recovering one is safe
version_added: 0.2.0
description:
  - Reads nova's nova-compute services and hypervisors (compute API microversion 2.53, every
    page) and measures how long each KVM host's heartbeat (the service's C(updated_at)) lags
    the newest heartbeat of all compute services. A host is down when it lags by
    O(stale_after) seconds or more, or when it is forced down.
  - Measured against the fleet's newest heartbeat, not this host's clock, a stall of the whole
    control plane (database or message bus gone) makes no host look down.
  - With O(samples) above 1, reads again every O(interval) seconds and calls a host down only
    when every read found it down.
  - With O(host), also returns the verdict of the HA playbook's gates for that host - refused
    when it reports again, or when more than O(max_down_fraction) of the KVM hosts are down at
    once (a network or control-plane failure, not a host failure).
  - Needs admin credentials.
author:
  - nova_vsphere.mixed_cloud maintainers (@nova-vsphere)
options:
  host:
    description: A nova-compute service host to give the verdict for.
    type: str
  stale_after:
    description:
      - Seconds a heartbeat may lag the newest before its host is down. Keep it above nova's
        C(report_interval) (10 s by default) with margin for a busy database; nova itself waits
        C(service_down_time) (60 s).
    type: int
    default: 25
  samples:
    description: Reads to make; a host is down only if it is down in all of them.
    type: int
    default: 1
  interval:
    description: Seconds between two reads when O(samples) is above 1.
    type: float
    default: 5
  max_down_fraction:
    description:
      - The largest fraction of KVM hosts that may be down for a recovery to go ahead; more
        refuses it.
    type: float
    default: 0.5
extends_documentation_fragment:
  - nova_vsphere.mixed_cloud.openstack
  - ansible.builtin.action_common_attributes
  - nova_vsphere.mixed_cloud.attributes.read_only
"""

EXAMPLES = r"""
- name: Is it safe to recover kvm-compute-3?
  nova_vsphere.mixed_cloud.compute_host_health:
    host: kvm-compute-3
    samples: 3
    interval: 2
  register: health

- name: Fence it only then
  ansible.builtin.debug:
    msg: "{{ health.health.verdict.reason }}"
  when: health.health.verdict.recover
"""

RETURN = r"""
health:
  description: The KVM hosts' heartbeats and, with O(host), the verdict.
  returned: always
  type: dict
  contains:
    hosts:
      description: One row per KVM compute service.
      type: list
      elements: dict
      sample:
        - {host: kvm-compute-1, service_id: 3b0c..., status: enabled, forced_down: false, disabled_reason: null,
           nova_state: up, updated_at: "2026-12-01T15:00:00.000000", heartbeat: 1796137200.0, silent_for: 2.1,
           down: false}
    total:
      description: How many KVM hosts there are.
      type: int
    down:
      description: The hosts that are down.
      type: list
      elements: str
    down_fraction:
      description: Down hosts over all KVM hosts.
      type: float
    newest_heartbeat:
      description: The newest heartbeat of every compute service, which lags are measured against (epoch seconds).
      type: float
    samples:
      description: Reads made.
      type: int
    verdict:
      description: With O(host) only.
      type: dict
      sample: {host: kvm-compute-1, recover: true, reason: "kvm-compute-1 has not reported for 34.0 s",
               silent_for: 34.0, down: [kvm-compute-1], total: 2, down_fraction: 0.5}
"""

import time

from ..module_utils._common.runner import Outcome, run_module
from ..module_utils._openstack.client import OpenStackModule, openstack_argument_spec, openstack_session
from ..module_utils._openstack import host_health

ARGUMENT_SPEC = openstack_argument_spec(
    host=dict(type="str"),
    stale_after=dict(type="int", default=host_health.DEFAULT_STALE_AFTER),
    samples=dict(type="int", default=1),
    interval=dict(type="float", default=5),
    max_down_fraction=dict(type="float", default=host_health.DEFAULT_MAX_DOWN_FRACTION),
)


def work(module, client):
    params = module.params
    if params["samples"] < 1 or params["stale_after"] < 1 or not 0 <= params["max_down_fraction"] <= 1:
        module.fail_json(msg="samples and stale_after must be at least 1, max_down_fraction between 0 and 1")
    assessments = []
    for index in range(params["samples"]):
        if index:
            time.sleep(params["interval"])
        rows, newest = host_health.read_heartbeats(client)
        assessments.append(dict(host_health.assess(rows, newest, params["stale_after"]), newest_heartbeat=newest))
    health = host_health.confirm(assessments)
    if params["host"]:
        health["verdict"] = host_health.verdict(health, params["host"], params["max_down_fraction"])
    return Outcome(False, None, None, name="health", result=health)


def main():
    run_module(ARGUMENT_SPEC, openstack_session, work, module_class=OpenStackModule)


if __name__ == "__main__":
    main()
