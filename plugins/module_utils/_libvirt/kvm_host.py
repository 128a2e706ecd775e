# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a KVM host can run, read from libvirt's capabilities XML, and whether nova's
``[libvirt] virt_type`` matches it (pure logic)."""

from __future__ import annotations

from xml.etree import ElementTree

from .._nova_conf.conf_files import last_value


def version_string(number):
    """libvirt encodes versions as major * 1,000,000 + minor * 1,000 + release."""
    if not number:
        return None
    return "%d.%d.%d" % (number // 1000000, number // 1000 % 1000, number % 1000)


def parse_capabilities(xml_text):
    """Host CPU and the domain types (kvm, qemu, ...) libvirt offers for the host's own arch."""
    root = ElementTree.fromstring(xml_text)
    host_cpu = root.find("host/cpu")
    host_arch = host_cpu.findtext("arch") if host_cpu is not None else None
    topology = host_cpu.find("topology") if host_cpu is not None else None
    domain_types = set()
    for guest in root.findall("guest"):
        arch = guest.find("arch")
        if arch is None or (host_arch and arch.get("name") != host_arch):
            continue
        domain_types.update(domain.get("type") for domain in arch.findall("domain"))
    return {
        "arch": host_arch,
        "cpu_model": host_cpu.findtext("model") if host_cpu is not None else None,
        "cpu_vendor": host_cpu.findtext("vendor") if host_cpu is not None else None,
        "cpu_topology": dict(topology.attrib) if topology is not None else {},
        "domain_types": sorted(domain_types),
    }


# nova's [libvirt] virt_type: its choices and its default (nova/conf/libvirt.py).
VIRT_TYPES = ("kvm", "lxc", "qemu", "parallels")
DEFAULT_VIRT_TYPE = "kvm"


def configured_virt_type(conf_texts):
    """(virt_type, where it came from): ``[libvirt] virt_type`` from the last of nova-compute's
    config files (name, text) that sets it, else nova's default."""
    value, name = last_value(conf_texts, "libvirt", "virt_type")
    return (value, name) if name else (DEFAULT_VIRT_TYPE, "nova's default")


def check_virt_type(virt_type, domain_types, hostname):
    """(ok, message): can libvirt on this host run domains of nova's ``virt_type``?"""
    if virt_type in domain_types:
        return True, "virt_type %s is offered by libvirt on %s" % (virt_type, hostname)
    if virt_type == "kvm" and "qemu" in domain_types:
        advice = ("this host has no usable /dev/kvm (virtualization disabled in firmware, kvm module not loaded, "
                  "or a VM without nested virtualization): enable KVM or set virt_type = qemu (emulation, slow)")
    else:
        advice = "set virt_type to one of them"
    return False, "nova's virt_type %s is not among the domain types libvirt offers on %s (%s): %s" % (
        virt_type, hostname, ", ".join(domain_types) or "none", advice)
