# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bulk reads of the vCenter inventory, returned as plain dicts.

One PropertyCollector call per object kind, with an explicit property list; no
per-object lazy reads (``read_locations``: one call for the three kinds that place a
cluster). Everything returned is plain data (strings, numbers, moids), so the domain code
that works on it never sees pyVmomi. ``moid_of``, ``inventory_host`` and ``datastore_record``
are shared with the other readers (host_reads, cluster_reads).
"""

from __future__ import annotations

from .client import managed_object_types

MIB = 1024 * 1024

HOST_PROPERTIES = (
    "name",
    "parent",
    "runtime.connectionState",
    "runtime.inMaintenanceMode",
    "summary.hardware.memorySize",
    "summary.hardware.numCpuThreads",
    "summary.hardware.numCpuCores",
    "summary.hardware.cpuMhz",
    "summary.quickStats.overallMemoryUsage",
    "summary.quickStats.overallCpuUsage",
    "datastore",
)
DATASTORE_PROPERTIES = (
    "name", "parent", "summary.type", "summary.capacity", "summary.freeSpace", "summary.accessible",
    "summary.maintenanceMode", "host",
)
COMPUTE_RESOURCE_PROPERTIES = ("name", "parent")
FOLDER_PROPERTIES = ("name", "parent")
DATACENTER_PROPERTIES = ("name", "parent")


def moid_of(ref):
    """The managed object id of a reference a read returned, or None for an unset reference."""
    return ref._moId if ref is not None else None


def _located(row):
    return {"moid": row["moid"], "name": row["name"], "parent": moid_of(row.get("parent"))}


def _compute_resource(row, vim):
    return dict(_located(row), is_cluster=isinstance(row["obj"], vim.ClusterComputeResource))


def read_datacenters(client):
    vim = managed_object_types()
    return [_located(row) for row in client.retrieve(vim.Datacenter, DATACENTER_PROPERTIES)]


def read_folders(client):
    vim = managed_object_types()
    return [_located(row) for row in client.retrieve(vim.Folder, FOLDER_PROPERTIES)]


def read_compute_resources(client):
    """Clusters and the compute resources that wrap standalone hosts."""
    vim = managed_object_types()
    return [_compute_resource(row, vim) for row in client.retrieve(vim.ComputeResource, COMPUTE_RESOURCE_PROPERTIES)]


def read_locations(client):
    """(datacenters, folders, compute resources), as the three readers above shape them, in one call.

    It walks the folder tree from the root and each datacenter's host folder only: no host,
    datastore, network or VM is visited, so its cost follows the number of clusters. The
    folders are those on the way (the root folder, datacenter and host folders), enough for
    ``cluster.find_cluster`` to place each compute resource in its datacenter.
    """
    vim = managed_object_types()
    rows = client.collect(client.root(), [(vim.Folder, "childEntity"), (vim.Datacenter, "hostFolder")], {
        vim.Folder: FOLDER_PROPERTIES, vim.Datacenter: DATACENTER_PROPERTIES,
        vim.ComputeResource: COMPUTE_RESOURCE_PROPERTIES})
    return ([_located(row) for row in rows if isinstance(row["obj"], vim.Datacenter)],
            [_located(row) for row in rows if isinstance(row["obj"], vim.Folder)],
            [_compute_resource(row, vim) for row in rows if isinstance(row["obj"], vim.ComputeResource)])


def read_hosts(client, root=None):
    vim = managed_object_types()
    return [inventory_host(row) for row in client.retrieve(vim.HostSystem, HOST_PROPERTIES, root=root)]


def inventory_host(row):
    """A host with its state, hardware and usage, as the inventory and nova's capacity need it."""
    return {
        "moid": row["moid"],
        "name": row["name"],
        "parent": moid_of(row.get("parent")),
        "connection_state": str(row.get("runtime.connectionState") or "unknown"),
        "maintenance_mode": bool(row.get("runtime.inMaintenanceMode")),
        "memory_mb": int(row.get("summary.hardware.memorySize") or 0) // MIB,
        "memory_used_mb": int(row.get("summary.quickStats.overallMemoryUsage") or 0),
        "cpu_threads": int(row.get("summary.hardware.numCpuThreads") or 0),
        "cpu_cores": int(row.get("summary.hardware.numCpuCores") or 0),
        "cpu_mhz": int(row.get("summary.hardware.cpuMhz") or 0),
        "cpu_used_mhz": int(row.get("summary.quickStats.overallCpuUsage") or 0),
        "datastores": sorted(moid_of(ref) for ref in row.get("datastore") or ()),
    }


def read_datastores(client, root=None):
    vim = managed_object_types()
    return [datastore_record(row) for row in client.retrieve(vim.Datastore, DATASTORE_PROPERTIES, root=root)]


def datastore_record(row):
    """A datastore row read with DATASTORE_PROPERTIES, as plain data (who mounts it, space, state)."""
    mounts = row.get("host") or ()
    return {
        "moid": row["moid"],
        "name": row["name"],
        "parent": moid_of(row.get("parent")),
        "type": row.get("summary.type"),
        "capacity_mb": int(row.get("summary.capacity") or 0) // MIB,
        "free_mb": int(row.get("summary.freeSpace") or 0) // MIB,
        "accessible": bool(row.get("summary.accessible")),
        # Unset on vCenters without storage DRS; nova treats unset as "normal".
        "maintenance_mode": row.get("summary.maintenanceMode"),
        "mounted_on": sorted(
            moid_of(mount.key)
            for mount in mounts
            if mount.mountInfo is None or mount.mountInfo.accessible is not False
        ),
    }


def read_about(client):
    """What the vCenter says of itself (product name, version, API version, instance uuid)."""
    info = client.content.about
    return {
        "name": info.fullName,
        "version": info.version,
        "api_version": info.apiVersion,
        "instance_uuid": info.instanceUuid,
    }
