# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Bulk reads around one cluster, returned as plain dicts.

Every reader is one PropertyCollector call, whatever the number of hosts, datastores
or VMs: a walk from the cluster along its reference lists (``client.collect``) or the
cluster's own reference lists name them. ``read_cluster`` reads the cluster, its hosts,
datastores and VMs in one call.
"""

from __future__ import annotations

from .cluster import NOVA_UUID_OPTION, cluster_facts, find_cluster
from .client import managed_object_types
from .reads import DATASTORE_PROPERTIES, HOST_PROPERTIES, datastore_record, inventory_host, moid_of, read_locations

# An indexed path reads one extra config key of every VM instead of the whole list.
NOVA_UUID_PATH = 'config.extraConfig["%s"]' % NOVA_UUID_OPTION
VM_PROPERTIES = ("name", "runtime.powerState", "runtime.host", "config.template", "config.managedBy", NOVA_UUID_PATH)
CLUSTER_PROPERTIES = ("configurationEx", "host", "datastore")


def locate_cluster(client, cluster, datacenter=None):
    """The cluster's moid, name and datacenter: one call (``reads.read_locations``), then ``find_cluster``."""
    return find_cluster(*read_locations(client), cluster, datacenter)


def read_cluster_config(client, cluster_moid):
    """DRS and HA settings (vSphere names) and the cluster's host and datastore moids."""
    vim = managed_object_types()
    (row,) = client.retrieve_objects(vim.ClusterComputeResource, [client.ref(vim.ClusterComputeResource, cluster_moid)],
                                     CLUSTER_PROPERTIES)
    return _cluster_config(row)


def _cluster_config(row):
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
    """The located cluster, its raw settings and its facts: two calls in all.

    The second walks from the cluster to its hosts, its datastores and the VMs registered on
    its hosts (every VM of its resource pools runs on one of them).
    """
    found = locate_cluster(client, cluster, datacenter)
    vim = managed_object_types()
    rows = client.collect(
        client.ref(vim.ClusterComputeResource, found["moid"]),
        [(vim.ClusterComputeResource, "host"), (vim.ClusterComputeResource, "datastore"), (vim.HostSystem, "vm")],
        {vim.ClusterComputeResource: CLUSTER_PROPERTIES, vim.HostSystem: HOST_PROPERTIES,
         vim.Datastore: DATASTORE_PROPERTIES, vim.VirtualMachine: VM_PROPERTIES})
    (config,) = [_cluster_config(row) for row in rows if isinstance(row["obj"], vim.ClusterComputeResource)]
    hosts = [inventory_host(row) for row in rows if isinstance(row["obj"], vim.HostSystem)]
    datastores = [datastore_record(row) for row in rows if isinstance(row["obj"], vim.Datastore)]
    vms = [_vm(row) for row in rows if isinstance(row["obj"], vim.VirtualMachine)]
    return found, config, cluster_facts(hosts, datastores, vms, regex)


def read_cluster_datastores(client, datastore_moids):
    """The cluster's datastores (the ones nova considers), as ``reads.datastore_record`` shapes them."""
    vim = managed_object_types()
    refs = [client.ref(vim.Datastore, moid) for moid in datastore_moids]
    return [datastore_record(row) for row in client.retrieve_objects(vim.Datastore, refs, DATASTORE_PROPERTIES)]


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
