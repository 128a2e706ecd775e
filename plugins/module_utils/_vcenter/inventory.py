# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Assemble the flat bulk reads of a vCenter into a datacenter / cluster / host tree.

Pure functions over plain dicts: no pyVmomi, no Ansible, so they are unit-tested
without either.
"""

from __future__ import annotations

from .._common.errors import BackendError


def datacenter_of(moid, parents, datacenters):
    """Walk up the parent chain from ``moid`` to the datacenter that holds it."""
    seen = set()
    while moid is not None and moid not in datacenters:
        if moid in seen:
            return None
        seen.add(moid)
        moid = parents.get(moid)
    return moid


def host_summary(host, datastore_names):
    return {
        "name": host["name"],
        "connection_state": host["connection_state"],
        "maintenance_mode": host["maintenance_mode"],
        "memory_mb": host["memory_mb"],
        "memory_used_mb": host["memory_used_mb"],
        "cpu_threads": host["cpu_threads"],
        "datastores": sorted(datastore_names[moid] for moid in host["datastores"] if moid in datastore_names),
    }


def is_usable(host):
    """Nova's VMware driver counts only connected hosts that are not in maintenance."""
    return host["connection_state"] == "connected" and not host["maintenance_mode"]


def capacity(hosts):
    """Totals over usable hosts, and the largest single host (what one VM can get)."""
    usable = [host for host in hosts if is_usable(host)]
    return {
        "usable_hosts": len(usable),
        "memory_mb": sum(host["memory_mb"] for host in usable),
        "memory_free_mb": sum(max(host["memory_mb"] - host["memory_used_mb"], 0) for host in usable),
        "cpu_threads": sum(host["cpu_threads"] for host in usable),
        "largest_host_memory_mb": max((host["memory_mb"] for host in usable), default=0),
        "largest_host_memory_free_mb": max(
            (max(host["memory_mb"] - host["memory_used_mb"], 0) for host in usable), default=0),
    }


def build_inventory(datacenters, folders, compute_resources, hosts, datastores):
    """The vCenter inventory as nested plain data, sorted by name."""
    parents = {}
    for item in folders + compute_resources + datacenters:
        parents[item["moid"]] = item["parent"]
    by_dc = {dc["moid"]: {"name": dc["name"], "clusters": [], "standalone_hosts": [], "datastores": []}
             for dc in datacenters}
    datastore_names = {ds["moid"]: ds["name"] for ds in datastores}
    host_names = {host["moid"]: host["name"] for host in hosts}
    hosts_by_parent = {}
    for host in hosts:
        hosts_by_parent.setdefault(host["parent"], []).append(host)

    for resource in compute_resources:
        dc = datacenter_of(resource["moid"], parents, by_dc)
        if dc is None:
            continue
        members = sorted(hosts_by_parent.get(resource["moid"], []), key=lambda h: h["name"])
        summaries = [host_summary(host, datastore_names) for host in members]
        if resource["is_cluster"]:
            by_dc[dc]["clusters"].append(
                {"name": resource["name"], "moid": resource["moid"], "hosts": summaries, "capacity": capacity(members)})
        else:
            by_dc[dc]["standalone_hosts"].extend(summaries)

    for datastore in datastores:
        dc = datacenter_of(datastore["parent"], parents, by_dc)
        if dc is not None:
            by_dc[dc]["datastores"].append({
                "name": datastore["name"],
                "type": datastore["type"],
                "capacity_mb": datastore["capacity_mb"],
                "free_mb": datastore["free_mb"],
                "hosts": sorted(host_names[moid] for moid in datastore["mounted_on"] if moid in host_names),
            })

    result = []
    for dc in sorted(by_dc.values(), key=lambda d: d["name"]):
        dc["clusters"].sort(key=lambda c: c["name"])
        dc["standalone_hosts"].sort(key=lambda h: h["name"])
        dc["datastores"].sort(key=lambda d: d["name"])
        result.append(dc)
    return result


def select_datacenter(datacenters, name):
    """The datacenter called ``name`` of a built inventory (all of them for None), or a BackendError naming those there are."""
    if name is None:
        return datacenters
    chosen = [dc for dc in datacenters if dc["name"] == name]
    if not chosen:
        raise BackendError("Datacenter %s not found; this vCenter has: %s."
                           % (name, ", ".join(dc["name"] for dc in datacenters) or "none"))
    return chosen
