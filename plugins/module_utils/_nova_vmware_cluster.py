# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster a nova-compute will drive, and the datastores it can put instances on.

Pure functions over the plain dicts of ``_vcenter_reads``. They apply nova's own rules
(nova/virt/vmwareapi/ds_util.py): a datastore of the cluster qualifies when it is
accessible, not in maintenance, of a type nova supports, and ``re.match`` (anchored at the
start of the name: not a search) accepts its name; nova then takes the one with the most
free space. On top of that, a datastore is only safe when every connected host of the
cluster mounts it, since DRS may start or move an instance to any of them.
"""

from __future__ import annotations

import re

from ._nova_vmware_options import ConfigError

NOVA_DATASTORE_TYPES = ("VMFS", "NFS", "NFS41", "vsan")


def _nova_can_use(datastore):
    return (datastore["accessible"] and datastore["type"] in NOVA_DATASTORE_TYPES
            and datastore.get("maintenance_mode") in (None, "normal"))


def _names(items):
    return ", ".join(sorted(item["name"] for item in items)) or "none"


def cluster_datastores(cluster_name, datastore_regex, compute_resources, hosts, datastores):
    """The cluster and its usable shared datastores (most free first), or ConfigError saying why not."""
    clusters = [item for item in compute_resources if item["is_cluster"] and item["name"] == cluster_name]
    if not clusters:
        raise ConfigError("vCenter has no cluster named %s (its clusters: %s)." % (
            cluster_name, _names(item for item in compute_resources if item["is_cluster"])))
    if len(clusters) > 1:
        raise ConfigError("%d clusters are named %s (%s): nova would drive whichever vCenter lists first; rename all but one."
                          % (len(clusters), cluster_name, ", ".join(sorted(item["moid"] for item in clusters))))
    cluster = clusters[0]
    connected = {host["moid"]: host["name"] for host in hosts
                 if host["parent"] == cluster["moid"] and host["connection_state"] == "connected"}
    if not connected:
        raise ConfigError("Cluster %s has no connected host: nova would see no capacity there." % cluster_name)

    pattern = re.compile(datastore_regex) if datastore_regex else None
    usable = [ds for ds in datastores if set(ds["mounted_on"]) & set(connected) and _nova_can_use(ds)]
    matching = [ds for ds in usable if pattern is None or pattern.match(ds["name"])]
    shared = [ds for ds in matching if set(connected) <= set(ds["mounted_on"])]
    if pattern:
        subject = "datastore_regex %r matches" % datastore_regex
    else:
        subject = "There is"
    if not matching:
        raise ConfigError("%s no datastore of %s that nova can use (accessible, not in maintenance, type %s); those it can use: %s."
                          % (subject, cluster_name, "/".join(NOVA_DATASTORE_TYPES), _names(usable)))
    if not shared:
        missing = "; ".join("%s is not mounted on %s" % (ds["name"], ", ".join(sorted(
            name for moid, name in connected.items() if moid not in ds["mounted_on"]))) for ds in matching)
        raise ConfigError("%s no datastore that all %d connected hosts of %s mount (%s): an instance that DRS moves "
                          "to a host without its datastore cannot run there." % (subject, len(connected), cluster_name, missing))
    return {
        "cluster": cluster_name,
        "cluster_moid": cluster["moid"],
        "connected_hosts": sorted(connected.values()),
        "datastores": [{"name": ds["name"], "type": ds["type"], "free_mb": ds["free_mb"], "capacity_mb": ds["capacity_mb"]}
                       for ds in sorted(shared, key=lambda ds: (-ds["free_mb"], ds["name"]))],
    }
