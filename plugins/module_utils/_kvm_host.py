# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What a KVM host can run, read from libvirt's capabilities XML (pure parsing)."""

from __future__ import annotations

from xml.etree import ElementTree


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
