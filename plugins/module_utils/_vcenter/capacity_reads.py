# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bulk reads for the capacity feed: every cluster's HA settings and every VM's load, as plain dicts.

One PropertyCollector call per object kind over the whole vCenter, whatever the number of
clusters, hosts and VMs; the hosts themselves come from ``reads.read_hosts`` (memory size,
CPU threads, quickStats memory usage, connection and maintenance state, parent cluster).
"""

from __future__ import annotations

from .client import managed_object_types
from .reads import moid_of, read_about, read_compute_resources, read_datacenters, read_folders, read_hosts

VM_LOAD_PROPERTIES = ("runtime.powerState", "runtime.host", "config.template", "config.hardware.numCPU",
                      "config.hardware.memoryMB")
# configurationEx as a whole: its declared type (ComputeResource.ConfigInfo) has no dasConfig, so a
# path into it is refused by vCenter's property collector.
CLUSTER_HA_PROPERTIES = ("name", "configurationEx")


def read_vm_loads(client):
    """Every VM: where it runs, whether it is on, its vCPUs and memory."""
    vim = managed_object_types()
    return [{
        "moid": row["moid"],
        "power_state": str(row.get("runtime.powerState") or "unknown"),
        "host": moid_of(row.get("runtime.host")),
        "template": bool(row.get("config.template")),
        "vcpus": int(row.get("config.hardware.numCPU") or 0),
        "memory_mb": int(row.get("config.hardware.memoryMB") or 0),
    } for row in client.retrieve(vim.VirtualMachine, VM_LOAD_PROPERTIES)]


def read_cluster_ha(client):
    """Cluster moid -> its HA (das) settings and admission control policy, as ``capacity.admission_policy`` reads them."""
    vim = managed_object_types()
    return {row["moid"]: ha_settings(row.get("configurationEx"), vim)
            for row in client.retrieve(vim.ClusterComputeResource, CLUSTER_HA_PROPERTIES)}


def ha_settings(config, vim):
    """The plain view of a cluster's dasConfig and its admission control policy."""
    das = getattr(config, "dasConfig", None)
    policy = getattr(das, "admissionControlPolicy", None)
    return {
        "enabled": bool(getattr(das, "enabled", False)),
        "admission_control_enabled": bool(getattr(das, "admissionControlEnabled", False)),
        "failover_level": getattr(das, "failoverLevel", None),
        "policy": _policy(policy, vim),
    }


def _policy(policy, vim):
    if policy is None:
        return None
    if isinstance(policy, vim.cluster.FailoverHostAdmissionControlPolicy):
        return {"kind": "failover_hosts", "hosts": sorted(moid_of(ref) for ref in policy.failoverHosts or ())}
    if isinstance(policy, vim.cluster.FailoverResourcesAdmissionControlPolicy):
        return {"kind": "resources_percent", "memory_percent": policy.memoryFailoverResourcesPercent,
                "cpu_percent": policy.cpuFailoverResourcesPercent,
                "auto_compute": bool(getattr(policy, "autoComputePercentages", False)),
                "level": getattr(policy, "failoverLevel", None)}
    if isinstance(policy, vim.cluster.FailoverLevelAdmissionControlPolicy):
        return {"kind": "failover_level", "level": policy.failoverLevel}
    return {"kind": type(policy).__name__}


def read_capacity_inputs(client):
    """What the feed needs of one vCenter, in seven bulk reads: its identity, the tree to find clusters by
    name, every host, every VM's load and every cluster's HA settings."""
    return {
        "about": read_about(client),
        "datacenters": read_datacenters(client),
        "folders": read_folders(client),
        "compute_resources": read_compute_resources(client),
        "hosts": read_hosts(client),
        "vms": read_vm_loads(client),
        "ha": read_cluster_ha(client),
    }
