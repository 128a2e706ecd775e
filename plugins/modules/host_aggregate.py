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
  description: The calls made (or, in check mode, that would be made), in order.
  returned: always
  type: list
  elements: str
  sample: ["add_host kvm-compute-2", "set_metadata {'hypervisor_type': 'qemu'}"]
"""

from ansible.module_utils.basic import AnsibleModule

from ..module_utils._aggregate import apply, delete, find, plan, view
from ..module_utils._errors import failing_cleanly
from ..module_utils._openstack import openstack_argument_spec, openstack_session


def main():
    module = AnsibleModule(
        argument_spec=openstack_argument_spec(
            name=dict(type="str", required=True),
            state=dict(type="str", choices=["present", "absent"], default="present"),
            hosts=dict(type="list", elements="str"),
            purge_hosts=dict(type="bool", default=True),
            metadata=dict(type="dict", default={}),
            purge_metadata=dict(type="bool", default=False),
            availability_zone=dict(type="str"),
        ),
        supports_check_mode=True,
    )
    params = module.params
    if "availability_zone" in params["metadata"]:
        module.fail_json(msg="Set the zone with the availability_zone option, not as a metadata key.")
    with failing_cleanly(module), openstack_session(params) as client:
        existing = find(client, params["name"])
        current = view(existing)
        if params["state"] == "absent":
            if current and not module.check_mode:
                delete(client, existing)
            module.exit_json(changed=bool(current), changes=["delete"] if current else [],
                             diff=dict(before=current or {}, after={}))
        after, steps = plan(current, params, params["purge_hosts"], params["purge_metadata"])
        aggregate = dict(after, id=existing and existing["id"], uuid=existing and existing.get("uuid"))
        if steps and not module.check_mode:
            reported = apply(client, existing and existing["id"], params["name"], steps)
            aggregate = dict(view(reported), id=reported["id"], uuid=reported.get("uuid"))
        module.exit_json(changed=bool(steps), aggregate=aggregate,
                         changes=["%s %s" % (action, argument) if argument is not None else action
                                  for action, argument in steps],
                         diff=dict(before=current or {}, after=after))


if __name__ == "__main__":
    main()
