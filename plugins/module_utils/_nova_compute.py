# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Nova's compute services and hypervisors, read at pinned microversions and joined.

Microversion 2.53 is the newest that still returns the hypervisors' vCPU, memory and
disk figures (2.88 removed them) and the first that identifies services by UUID.
"""

from __future__ import annotations

HYPERVISOR_MICROVERSION = "2.53"
VMWARE_HYPERVISOR_TYPE = "VMware vCenter Server"


def read_compute_services(client):
    body = client.request("compute", "GET", "/os-services?binary=nova-compute",
                          microversion=HYPERVISOR_MICROVERSION, doing="list nova-compute services")
    return body["services"]


def read_hypervisors(client):
    body = client.request("compute", "GET", "/os-hypervisors/detail",
                          microversion=HYPERVISOR_MICROVERSION, doing="list hypervisors")
    return body["hypervisors"]


def hypervisor_kind(hypervisor_type):
    """vsphere for a VMware proxy's cluster, libvirt for KVM/QEMU, else the type itself."""
    if hypervisor_type == VMWARE_HYPERVISOR_TYPE:
        return "vsphere"
    if hypervisor_type == "QEMU":
        return "libvirt"
    return (hypervisor_type or "unknown").lower()


def join_hypervisors(hypervisors, services):
    """One row per hypervisor with its compute service's state, sorted by service host."""
    services_by_host = {service["host"]: service for service in services}
    rows = []
    for hypervisor in hypervisors:
        host = (hypervisor.get("service") or {}).get("host")
        service = services_by_host.get(host, {})
        rows.append({
            "name": hypervisor["hypervisor_hostname"],
            "id": hypervisor["id"],
            "host": host,
            "type": hypervisor.get("hypervisor_type"),
            "kind": hypervisor_kind(hypervisor.get("hypervisor_type")),
            "state": hypervisor.get("state"),
            "status": hypervisor.get("status"),
            "vcpus": hypervisor.get("vcpus"),
            "memory_mb": hypervisor.get("memory_mb"),
            "memory_used_mb": hypervisor.get("memory_mb_used"),
            "local_gb": hypervisor.get("local_gb"),
            "running_vms": hypervisor.get("running_vms"),
            "service": {
                "id": service.get("id"),
                "state": service.get("state"),
                "status": service.get("status"),
                "forced_down": service.get("forced_down"),
                "disabled_reason": service.get("disabled_reason"),
                "zone": service.get("zone"),
            },
        })
    return sorted(rows, key=lambda row: (row["host"] or "", row["name"]))


def services_without_hypervisor(hypervisors, services):
    """Compute services whose hypervisor never registered (a proxy that cannot reach its cluster)."""
    registered = {(hypervisor.get("service") or {}).get("host") for hypervisor in hypervisors}
    return sorted(service["host"] for service in services if service["host"] not in registered)
