# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bulk reads around one cluster, returned as plain dicts.

Every reader is one PropertyCollector call, whatever the number of hosts, datastores
or VMs: a ContainerView rooted at the cluster or datacenter selects the objects, or
the cluster's own reference lists name them.
"""

from __future__ import annotations

from .cluster import NOVA_UUID_OPTION, cluster_facts, find_cluster
from .client import managed_object_types
from .reads import (
    DATASTORE_PROPERTIES,
    datastore_record,
    moid_of,
    read_compute_resources,
    read_datacenters,
    read_folders,
    read_hosts,
)

# An indexed path reads one extra config key of every VM instead of the whole list.
NOVA_UUID_PATH = 'config.extraConfig["%s"]' % NOVA_UUID_OPTION
VM_PROPERTIES = ("name", "runtime.powerState", "runtime.host", "config.template", "config.managedBy", NOVA_UUID_PATH)


def locate_cluster(client, cluster, datacenter=None):
    """The cluster's moid, name and datacenter: three bulk reads, then ``find_cluster``."""
    return find_cluster(read_datacenters(client), read_folders(client), read_compute_resources(client),
                        cluster, datacenter)


def read_cluster_config(client, cluster_moid):
    """DRS and HA settings (vSphere names) and the cluster's host and datastore moids."""
    vim = managed_object_types()
    (row,) = client.retrieve_objects(vim.ClusterComputeResource, [client.ref(vim.ClusterComputeResource, cluster_moid)],
                                     ("configurationEx", "host", "datastore"))
    config = row.get("configurationEx")
    drs = getattr(config, "drsConfig", None)
    das = getattr(config, "dasConfig", None)
    return {
        "drs": {
            "enabled": getattr(drs, "enabled", None),
            "defaultVmBehavior": getattr(drs, "defaultVmBehavior", None),
            "vmotionRate": getattr(drs, "vmotionRate", None),
        },
        "das": {
            "enabled": getattr(das, "enabled", None),
            "hostMonitoring": getattr(das, "hostMonitoring", None),
            "admissionControlEnabled": getattr(das, "admissionControlEnabled", None),
        },
        "hosts": sorted(moid_of(ref) for ref in row.get("host") or ()),
        "datastores": sorted(moid_of(ref) for ref in row.get("datastore") or ()),
    }


def read_cluster(client, cluster, datacenter, regex):
    """The located cluster, its raw settings and its facts: seven bulk reads in all."""
    found = locate_cluster(client, cluster, datacenter)
    vim = managed_object_types()
    config = read_cluster_config(client, found["moid"])
    hosts = read_hosts(client, root=client.ref(vim.ClusterComputeResource, found["moid"]))
    datastores = read_cluster_datastores(client, config["datastores"])
    return found, config, cluster_facts(hosts, datastores, read_vms(client, found["moid"]), regex)


def read_cluster_datastores(client, datastore_moids):
    """The cluster's datastores (the ones nova considers), as ``reads.datastore_record`` shapes them."""
    vim = managed_object_types()
    refs = [client.ref(vim.Datastore, moid) for moid in datastore_moids]
    return [datastore_record(row) for row in client.retrieve_objects(vim.Datastore, refs, DATASTORE_PROPERTIES)]


def read_vms(client, cluster_moid):
    """Every VM on the cluster's hosts and resource pools, with the marks nova leaves on its own."""
    vim = managed_object_types()
    root = client.ref(vim.ClusterComputeResource, cluster_moid)
    return [_vm(row) for row in client.retrieve(vim.VirtualMachine, VM_PROPERTIES, root=root)]


def _vm(row):
    managed_by = row.get("config.managedBy")
    uuid = row.get(NOVA_UUID_PATH)
    return {
        "moid": row["moid"],
        "name": row["name"],
        "power_state": str(row.get("runtime.powerState") or "unknown"),
        "host": moid_of(row.get("runtime.host")),
        "template": bool(row.get("config.template")),
        "managed_by": None if managed_by is None else {
            "extension_key": managed_by.extensionKey, "type": managed_by.type},
        "nova_uuid": getattr(uuid, "value", None) or None,
    }
