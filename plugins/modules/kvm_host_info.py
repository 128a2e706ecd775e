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
  - Also says whether nova's C([libvirt] virt_type) on the node is one of those domain
    types. V(kvm) configured on a host without usable /dev/kvm is a classic mistake, and
    nova-compute then fails every boot.
author:
  - nova_vsphere.mixed_cloud maintainers (@nova-vsphere)
options:
  nova_conf:
    description:
      - nova-compute's configuration files on the node the module runs on, in the order
        nova-compute reads them; the last C([libvirt] virt_type) set wins.
      - Files that do not exist are skipped; when none sets it, nova's default V(kvm) applies.
      - The default covers Debian's and Ubuntu's packages, whose C(nova-compute.conf)
        sets C(virt_type).
      - Read on the host the module runs on, so point O(uri) at that host's libvirtd.
    type: list
    elements: path
    default: [/etc/nova/nova.conf, /etc/nova/nova-compute.conf]
  virt_type:
    description:
      - The virt_type to check, instead of reading O(nova_conf).
    type: str
    choices: [kvm, lxc, qemu, parallels]
  fail_on_mismatch:
    description:
      - Fail the task when the virt_type is not one libvirt offers.
    type: bool
    default: false
extends_documentation_fragment:
  - nova_vsphere.mixed_cloud.libvirt
  - ansible.builtin.action_common_attributes
  - nova_vsphere.mixed_cloud.attributes.read_only
"""

EXAMPLES = r"""
- name: Read the local libvirtd
  nova_vsphere.mixed_cloud.kvm_host_info:
  register: kvm

- name: Fail when nova's virt_type cannot work on this host (kvm without /dev/kvm)
  nova_vsphere.mixed_cloud.kvm_host_info:
    fail_on_mismatch: true

- name: Check a virt_type about to be configured
  nova_vsphere.mixed_cloud.kvm_host_info:
    virt_type: kvm
  register: kvm_check
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
virt_type:
  description: The C([libvirt] virt_type) checked, where it came from, and the verdict.
  returned: always
  type: dict
  contains:
    value:
      description: The virt_type.
      type: str
      sample: kvm
    source:
      description: The file that set it, V(nova's default), or V(the virt_type option).
      type: str
      sample: /etc/nova/nova-compute.conf
    ok:
      description: Whether libvirt offers that domain type on the host.
      type: bool
      sample: true
    msg:
      description: The verdict in words, with the fix when it is not ok.
      type: str
      sample: virt_type kvm is offered by libvirt on kvm1.example.com
"""

from ansible.module_utils.basic import AnsibleModule

from ..module_utils._nova_conf.conf_files import read_existing
from ..module_utils._common.errors import failing_cleanly
from ..module_utils._libvirt.kvm_host import (
    VIRT_TYPES,
    check_virt_type,
    configured_virt_type,
    parse_capabilities,
    version_string,
)
from ..module_utils._libvirt.client import libvirt_argument_spec, libvirt_call, libvirt_session


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
    module = AnsibleModule(
        argument_spec=libvirt_argument_spec(
            nova_conf=dict(type="list", elements="path", default=["/etc/nova/nova.conf", "/etc/nova/nova-compute.conf"]),
            virt_type=dict(type="str", choices=list(VIRT_TYPES)),
            fail_on_mismatch=dict(type="bool", default=False),
        ),
        supports_check_mode=True,
    )
    virt_type, source = module.params["virt_type"], "the virt_type option"
    with failing_cleanly(module):
        if not virt_type:
            virt_type, source = configured_virt_type(read_existing(module.params["nova_conf"]))
        with libvirt_session(module.params) as connection:
            host = read_host(connection, module.params["uri"])
    ok, message = check_virt_type(virt_type, host["domain_types"], host["hostname"])
    result = dict(changed=False, host=host, virt_type=dict(value=virt_type, source=source, ok=ok, msg=message))
    if not ok and module.params["fail_on_mismatch"]:
        module.fail_json(msg=message, **result)
    module.exit_json(**result)


if __name__ == "__main__":
    main()
