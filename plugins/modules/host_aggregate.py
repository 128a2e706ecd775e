#!/usr/bin/python
# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: host_aggregate
short_description: Manage a nova host aggregate, its hosts, metadata and availability zone
version_added: 0.1.0
description:
  - Creates, updates or deletes a nova host aggregate at a pinned compute API
    microversion (2.41), adding and removing only the hosts and metadata keys that differ.
  - Hosts are nova-compute service hosts (C(host=) in their nova.conf), not hypervisor
    node names; a vSphere cluster is added through its proxy's service host.
  - Before the first write the task checks for what nova would refuse, a host that is no
    nova-compute service or that another aggregate already puts in another availability
    zone (a host is in one zone at most), and fails with nothing changed if it finds any.
  - When a later call fails all the same, an aggregate this run created is deleted again
    (the task fails with C(changed=false)); changes to an aggregate that existed are
    reported with C(changed=true) and the calls made in RV(changes), and running the
    task again once the cause is fixed finishes the work.
  - Needs admin credentials.
author:
  - nova_vsphere.mixed_cloud maintainers (@nova-vsphere)
options:
  name:
    description: The aggregate's name (unique in practice; the first match is managed).
    type: str
    required: true
  state:
    description: V(absent) removes the aggregate's hosts, then the aggregate.
    type: str
    choices: [present, absent]
    default: present
  hosts:
    description:
      - Service hosts that must be in the aggregate. Not managed when omitted.
    type: list
    elements: str
  purge_hosts:
    description: Remove hosts that are in the aggregate but not in O(hosts).
    type: bool
    default: true
  metadata:
    description:
      - Metadata keys to set, such as C(hypervisor_type), which
        C(AggregateInstanceExtraSpecsFilter) matches against a flavor's
        C(aggregate_instance_extra_specs:) extra specs. Values are strings.
      - Use O(availability_zone) for the zone, not the C(availability_zone) key.
    type: dict
    default: {}
  purge_metadata:
    description: Remove metadata keys not in O(metadata).
    type: bool
    default: false
  availability_zone:
    description: The availability zone the aggregate's hosts are in. Not managed when omitted.
    type: str
extends_documentation_fragment:
  - nova_vsphere.mixed_cloud.openstack
  - ansible.builtin.action_common_attributes
  - nova_vsphere.mixed_cloud.attributes.changes
"""

EXAMPLES = r"""
- name: The KVM computes in their own aggregate and zone
  nova_vsphere.mixed_cloud.host_aggregate:
    name: kvm
    availability_zone: kvm-az
    metadata:
      hypervisor_type: qemu
    hosts: [kvm-compute-1, kvm-compute-2]

- name: Each vSphere cluster's proxy in an aggregate
  nova_vsphere.mixed_cloud.host_aggregate:
    name: vmware-cluster-a
    metadata:
      hypervisor_type: vmware
    hosts: [vmware-proxy-a]
"""

RETURN = r"""
aggregate:
  description: The aggregate after the task (as planned in check mode); absent after deletion.
  returned: when O(state=present)
  type: dict
  sample:
    id: 3
    uuid: 4a0c1f1e-7d1c-4b8e-9a55-0f3c2a1b2c3d
    name: kvm
    availability_zone: kvm-az
    hosts: [kvm-compute-1, kvm-compute-2]
    metadata: {hypervisor_type: qemu}
changes:
  description:
    - The calls made (or, in check mode, that would be made), in order.
    - On a failure, the calls made before it, unless they were undone.
  returned: always
  type: list
  elements: str
  sample: ["add_host kvm-compute-2", "set_metadata {'hypervisor_type': 'qemu'}"]
"""

from ..module_utils._common.argspec import compose
from ..module_utils._common.errors import BackendError
from ..module_utils._common.runner import Outcome, journal, run_module
from ..module_utils._openstack import aggregates, nova
from ..module_utils._openstack.client import OPENSTACK_ARGUMENT_SPEC, OpenStackModule, openstack_session

ARGUMENT_SPEC = compose(
    OPENSTACK_ARGUMENT_SPEC,
    name=dict(type="str", required=True),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    hosts=dict(type="list", elements="str"),
    purge_hosts=dict(type="bool", default=True),
    metadata=dict(type="dict", default={}),
    purge_metadata=dict(type="bool", default=False),
    availability_zone=dict(type="str"),
)


def work(module, client):
    params = module.params
    if aggregates.AZ_KEY in params["metadata"]:
        raise BackendError("Set the zone with the availability_zone option, not as a metadata key.")
    every = nova.list_aggregates(client)
    existing = aggregates.find(every, params["name"])
    current = aggregates.view(existing)
    if params["state"] == "absent":
        if current and not module.check_mode:
            aggregates.delete(client, existing)
        return Outcome(current, current, {}, changes=["delete"] if current else [])
    after, steps = aggregates.plan(current, params, params["purge_hosts"], params["purge_metadata"])
    adding = any(action == "add_host" for action, _host in steps)
    service_hosts = [service["host"] for service in nova.list_compute_services(client)] if adding else []
    aggregates.check(existing, after, steps, every, service_hosts)
    aggregate = dict(after, id=existing and existing["id"], uuid=existing and existing.get("uuid"))
    if steps and not module.check_mode:
        with journal() as record:
            reported = aggregates.apply(client, existing, params["name"], steps, record)
        aggregate = dict(aggregates.view(reported), id=reported["id"], uuid=reported.get("uuid"))
    return Outcome(steps, current, after, "aggregate", aggregate, changes=[aggregates.describe(step) for step in steps])


def main():
    run_module(ARGUMENT_SPEC, openstack_session, work, module_class=OpenStackModule)


if __name__ == "__main__":
    main()
