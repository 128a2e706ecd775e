#!/usr/bin/python
# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: hypervisor_info
short_description: List nova's hypervisors with the state of their nova-compute services
version_added: 0.1.0
description:
  - Reads nova's hypervisors and nova-compute services at a pinned compute API
    microversion (2.53) and joins them, so each row says what kind of hypervisor it is
    (vSphere cluster behind a proxy, libvirt, or another driver), its capacity, and
    whether its service is up, enabled or forced down.
  - Needs admin credentials (listing hypervisors is an admin API).
author:
  - nova_vsphere.mixed_cloud maintainers (@nova-vsphere)
options: {}
extends_documentation_fragment:
  - nova_vsphere.mixed_cloud.openstack
  - ansible.builtin.action_common_attributes
  - nova_vsphere.mixed_cloud.attributes.read_only
"""

EXAMPLES = r"""
- name: List hypervisors of the cloud named by OS_CLOUD
  nova_vsphere.mixed_cloud.hypervisor_info:
  register: nova

- name: Show the vSphere clusters nova sees
  ansible.builtin.debug:
    msg: "{{ nova.hypervisors | selectattr('kind', 'equalto', 'vsphere') | map(attribute='name') }}"
"""

RETURN = r"""
hypervisors:
  description: One row per hypervisor, sorted by service host.
  returned: always
  type: list
  elements: dict
  sample:
    - name: domain-c7.dbed6e0c-5a8e-4e21-b6a1-3a3d2f1c0c11
      id: 5b1e0c7e-1111-4a4a-8c8c-0123456789ab
      host: vmware-proxy-1
      type: VMware vCenter Server
      kind: vsphere
      state: up
      status: enabled
      vcpus: 96
      memory_mb: 294912
      memory_used_mb: 512
      local_gb: 1024
      running_vms: 0
      service: {id: 8c7b..., state: up, status: enabled, forced_down: false, disabled_reason: null, zone: nova}
services_without_hypervisor:
  description: Hosts whose nova-compute service runs but whose hypervisor never registered.
  returned: always
  type: list
  elements: str
"""


from ..module_utils._common.errors import failing_cleanly
from ..module_utils._openstack.nova import (
    join_hypervisors,
    list_compute_services,
    list_hypervisors,
    services_without_hypervisor,
)
from ..module_utils._openstack.client import OpenStackModule, openstack_argument_spec, openstack_session


def main():
    module = OpenStackModule(argument_spec=openstack_argument_spec(), supports_check_mode=True)
    with failing_cleanly(module), openstack_session(module.params) as client:
        services = list_compute_services(client)
        hypervisors = list_hypervisors(client)
        module.exit_json(
            changed=False,
            hypervisors=join_hypervisors(hypervisors, services),
            services_without_hypervisor=services_without_hypervisor(hypervisors, services),
        )


if __name__ == "__main__":
    main()
