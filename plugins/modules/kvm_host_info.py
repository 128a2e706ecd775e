#!/usr/bin/python
# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: kvm_host_info
short_description: Read what a KVM compute node's libvirt can run
version_added: 0.1.0
description:
  - Connects read-only to libvirt and returns the hypervisor and its version, the host's
    CPU and memory, and the domain types libvirt offers for the host's own architecture
    (V(kvm) needs /dev/kvm; V(qemu) alone means software emulation only).
author:
  - nova_vsphere.mixed_cloud maintainers (@nova-vsphere)
options: {}
extends_documentation_fragment:
  - nova_vsphere.mixed_cloud.libvirt
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
"""

EXAMPLES = r"""
- name: Read the local libvirtd
  nova_vsphere.mixed_cloud.kvm_host_info:
  register: kvm

- name: Fail early on a host that can only emulate
  ansible.builtin.assert:
    that: "'kvm' in kvm.host.domain_types"
    fail_msg: "{{ inventory_hostname }} has no usable KVM: nova virt_type must be qemu there"
"""

RETURN = r"""
host:
  description: What libvirt reports of the host.
  returned: always
  type: dict
  sample:
    hostname: kvm1.example.com
    hypervisor: QEMU
    hypervisor_version: 7.2.0
    libvirt_version: 9.0.0
    arch: x86_64
    cpu_model: Skylake-Client-IBRS
    cpu_vendor: Intel
    cpu_threads: 8
    cpu_mhz: 2400
    memory_mb: 31999
    numa_nodes: 1
    domain_types: [kvm, qemu]
"""

from ansible.module_utils.basic import AnsibleModule

from ..module_utils._errors import failing_cleanly
from ..module_utils._kvm_host import parse_capabilities, version_string
from ..module_utils._libvirt import libvirt_argument_spec, libvirt_call, libvirt_session


def read_host(connection, uri):
    model, memory_mb, cpus, mhz, nodes = libvirt_call(uri, "read the node info", connection.getInfo)[:5]
    facts = {
        "hostname": libvirt_call(uri, "read the host name", connection.getHostname),
        "hypervisor": libvirt_call(uri, "read the hypervisor type", connection.getType),
        "hypervisor_version": version_string(libvirt_call(uri, "read the hypervisor version", connection.getVersion)),
        "libvirt_version": version_string(libvirt_call(uri, "read the libvirt version", connection.getLibVersion)),
        "cpu_threads": cpus,
        "cpu_mhz": mhz,
        "memory_mb": memory_mb,
        "numa_nodes": nodes,
    }
    facts.update(parse_capabilities(libvirt_call(uri, "read the capabilities", connection.getCapabilities)))
    facts["arch"] = facts["arch"] or model
    return facts


def main():
    module = AnsibleModule(argument_spec=libvirt_argument_spec(), supports_check_mode=True)
    with failing_cleanly(module), libvirt_session(module.params) as connection:
        module.exit_json(changed=False, host=read_host(connection, module.params["uri"]))


if __name__ == "__main__":
    main()
