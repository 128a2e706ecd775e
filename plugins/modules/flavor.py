#!/usr/bin/python
# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: flavor
short_description: Manage a nova flavor and its extra specs
version_added: 0.1.0
description:
  - Creates or deletes a nova flavor and sets its extra specs, such as
    C(aggregate_instance_extra_specs:hypervisor_type=vmware), which ties the flavor to the
    aggregates of that metadata when the scheduler runs C(AggregateInstanceExtraSpecsFilter).
  - Extra specs are set at compute API microversion 2.86 where the cloud has it, so nova
    checks their keys and values (it refuses C(hw:cpu_policy=bogus), which would otherwise
    fail every boot with the flavor later); on an older cloud at 2.61, with a warning that
    nova does not check them there.
  - Extra specs whose syntax nova refuses fail the task before anything is written. When
    nova refuses extra specs of a flavor this run created, the flavor is deleted again and
    the task fails with C(changed=false); a failure after changes to an existing flavor is
    reported with C(changed=true) and the calls made in RV(changes).
  - A flavor's size cannot change in nova; when it differs the task fails, since deleting
    and recreating it is a decision for the operator (existing servers keep their copy).
  - Needs admin credentials.
author:
  - nova_vsphere.mixed_cloud maintainers (@nova-vsphere)
options:
  name:
    description: The flavor's name.
    type: str
    required: true
  state:
    description: Whether the flavor exists.
    type: str
    choices: [present, absent]
    default: present
  vcpus:
    description: Virtual CPUs. Required when O(state=present).
    type: int
  ram:
    description: Memory in MiB. Required when O(state=present).
    type: int
  disk:
    description: Root disk in GiB (V(0) means the image's size).
    type: int
    default: 0
  ephemeral:
    description: Ephemeral disk in GiB.
    type: int
    default: 0
  swap:
    description: Swap in MiB.
    type: int
    default: 0
  is_public:
    description: Whether every project may use the flavor.
    type: bool
    default: true
  extra_specs:
    description: Extra specs to set; values are strings.
    type: dict
    default: {}
  purge_extra_specs:
    description: Remove extra specs not in O(extra_specs).
    type: bool
    default: false
extends_documentation_fragment:
  - nova_vsphere.mixed_cloud.openstack
  - ansible.builtin.action_common_attributes
  - nova_vsphere.mixed_cloud.attributes.changes
"""

EXAMPLES = r"""
- name: A flavor that only lands on vSphere clusters
  nova_vsphere.mixed_cloud.flavor:
    name: vmware.medium
    vcpus: 2
    ram: 4096
    disk: 20
    extra_specs:
      aggregate_instance_extra_specs:hypervisor_type: vmware
"""

RETURN = r"""
flavor:
  description: The flavor after the task (as planned in check mode).
  returned: when O(state=present)
  type: dict
  sample:
    id: 9b0e3c1d-2f4a-4c9e-8a7b-6d5e4f3a2b1c
    name: vmware.medium
    vcpus: 2
    ram: 4096
    disk: 20
    ephemeral: 0
    swap: 0
    is_public: true
    extra_specs: {"aggregate_instance_extra_specs:hypervisor_type": vmware}
changes:
  description:
    - The calls made (or, in check mode, that would be made), in order.
    - On a failure, the calls made before it, unless they were undone.
  returned: always
  type: list
  elements: str
  sample: [create, "set_extra_specs aggregate_instance_extra_specs:hypervisor_type"]
"""

from ..module_utils._common.argspec import compose
from ..module_utils._common.runner import Outcome, journal, run_module
from ..module_utils._openstack import flavors, nova
from ..module_utils._openstack.client import OPENSTACK_ARGUMENT_SPEC, OpenStackModule, openstack_session

ARGUMENT_SPEC = compose(
    OPENSTACK_ARGUMENT_SPEC,
    name=dict(type="str", required=True),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    vcpus=dict(type="int"),
    ram=dict(type="int"),
    disk=dict(type="int", default=0),
    ephemeral=dict(type="int", default=0),
    swap=dict(type="int", default=0),
    is_public=dict(type="bool", default=True),
    extra_specs=dict(type="dict", default={}),
    purge_extra_specs=dict(type="bool", default=False),
)


def work(module, client):
    wanted = dict(module.params, extra_specs={k: str(v) for k, v in module.params["extra_specs"].items()})
    existing = flavors.find(nova.list_flavors(client), wanted["name"])
    current = flavors.view(existing)
    if wanted["state"] == "absent":
        if existing and not module.check_mode:
            nova.delete_flavor(client, existing)
        return Outcome(existing, current, {}, changes=["delete"] if existing else [])
    after, steps = flavors.plan(current, wanted)
    microversion, warning = (flavors.spec_microversion(nova.newest_microversion(client))
                             if any(action != "create" for action, _argument in steps) else (None, None))
    flavor = existing
    if steps and not module.check_mode:
        with journal() as record:
            flavor = flavors.apply(client, existing, wanted, steps, microversion, record)
    return Outcome(steps, current, after, "flavor", dict(after, id=flavor and flavor["id"]),
                   warnings=[warning] if warning else [], changes=[flavors.describe(step) for step in steps])


def main():
    run_module(ARGUMENT_SPEC, openstack_session, work, module_class=OpenStackModule,
               required_if=[("state", "present", ["vcpus", "ram"])])


if __name__ == "__main__":
    main()
