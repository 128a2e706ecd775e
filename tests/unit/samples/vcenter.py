"""A vCenter inventory as the reads modules return it: plain dicts, one per object, linked by ``parent``.

Datacenter DC1 holds Cluster-A in its host folder, Cluster-B in a nested ``openstack`` folder and
the standalone host esx-s1; DC2 holds no cluster, but a nested host folder for the tests that add
clusters of their own. host() and datastore() build the rows of the host and datastore reads.
"""

GIB = 1024  # MiB: the unit of memory_mb, capacity_mb and free_mb

DATACENTERS = [
    {"moid": "dc-1", "name": "DC1", "parent": "group-d1"},
    {"moid": "dc-2", "name": "DC2", "parent": "group-d1"},
]
FOLDERS = [
    {"moid": "group-d1", "name": "Datacenters", "parent": None},
    {"moid": "group-h1", "name": "host", "parent": "dc-1"},
    {"moid": "group-h2", "name": "host", "parent": "dc-2"},
    {"moid": "group-h3", "name": "nested", "parent": "group-h2"},
    {"moid": "group-h4", "name": "openstack", "parent": "group-h1"},
    {"moid": "group-s1", "name": "datastore", "parent": "dc-1"},
]
# Cluster-B comes first, as vCenter may list it: whoever sorts by name must do so.
COMPUTE = [
    {"moid": "c-b", "name": "Cluster-B", "parent": "group-h4", "is_cluster": True},
    {"moid": "c-a", "name": "Cluster-A", "parent": "group-h1", "is_cluster": True},
    {"moid": "cr-s", "name": "esx-s1", "parent": "group-h1", "is_cluster": False},
]


def host(moid, name=None, parent="c-a", memory_mb=64 * GIB, used_mb=0, threads=16, state="connected", maintenance=False,
         datastores=()):
    """A row of read_hosts; its name is ``<moid>.lab`` unless given."""
    return {"moid": moid, "name": name or moid + ".lab", "parent": parent, "connection_state": state,
            "maintenance_mode": maintenance, "memory_mb": memory_mb, "memory_used_mb": used_mb, "cpu_threads": threads,
            "cpu_cores": max(threads // 2, 1), "cpu_mhz": 2000, "cpu_used_mhz": 0, "datastores": list(datastores)}


def datastore(name, mounted_on, kind="NFS", capacity_mb=1000, free_mb=100, accessible=True, maintenance=None):
    """A row of read_datastores, moid ``ds-<name>``, in DC1's datastore folder, mounted on the hosts of those moids."""
    return {"moid": "ds-" + name, "name": name, "parent": "group-s1", "type": kind, "capacity_mb": capacity_mb,
            "free_mb": free_mb, "accessible": accessible, "maintenance_mode": maintenance, "mounted_on": list(mounted_on)}
