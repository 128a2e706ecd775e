#!/usr/bin/python
# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: flavor
short_description: Manage a nova flavor and its extra specs
version_added: 0.1.0
description:
  - Creates or deletes a nova flavor and sets its extra specs at a pinned compute API
    microversion (2.61), such as C(aggregate_instance_extra_specs:hypervisor_type=vmware),
    which ties the flavor to the aggregates of that metadata when the scheduler runs
    C(AggregateInstanceExtraSpecsFilter).
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
"""

from ansible.module_utils.basic import AnsibleModule

from ..module_utils import _flavor as flavors
from ..module_utils._errors import failing_cleanly
from ..module_utils._openstack import openstack_argument_spec, openstack_session


def run(module, client, wanted):
    existing = flavors.find(client, wanted["name"])
    current = flavors.view(existing)
    if wanted["state"] == "absent":
        if existing and not module.check_mode:
            flavors.delete(client, existing)
        return dict(changed=bool(existing), diff=dict(before=current or {}, after={}))
    if current:
        differences = flavors.size_differences(current, wanted)
        if differences:
            module.fail_json(msg="Flavor %s exists with another size (%s); nova cannot change a flavor: delete it "
                                 "or choose another name." % (wanted["name"], ", ".join(differences)))
    to_set, to_delete = flavors.spec_changes((current or {}).get("extra_specs", {}), wanted["extra_specs"],
                                             wanted["purge_extra_specs"])
    after = dict((field, wanted[field]) for field in ("name",) + flavors.SIZE)
    after["extra_specs"] = dict((current or {}).get("extra_specs", {}), **to_set)
    for key in to_delete:
        del after["extra_specs"][key]
    changed = not current or bool(to_set or to_delete)
    flavor = existing
    if changed and not module.check_mode:
        flavor = flavor or flavors.create(client, wanted)
        flavors.set_specs(client, flavor, to_set, to_delete)
    return dict(changed=changed, flavor=dict(after, id=flavor and flavor["id"]),
                diff=dict(before=current or {}, after=after))


def main():
    module = AnsibleModule(
        argument_spec=openstack_argument_spec(
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
        ),
        required_if=[("state", "present", ["vcpus", "ram"])],
        supports_check_mode=True,
    )
    wanted = dict(module.params, extra_specs={k: str(v) for k, v in module.params["extra_specs"].items()})
    with failing_cleanly(module), openstack_session(module.params) as client:
        module.exit_json(**run(module, client, wanted))


if __name__ == "__main__":
    main()
