from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._inventory import (
    build_inventory,
    capacity,
    datacenter_of,
)


def host(moid, parent, memory_mb, used_mb, state="connected", maintenance=False, datastores=()):
    return {
        "moid": moid, "name": moid + ".lab", "parent": parent, "connection_state": state,
        "maintenance_mode": maintenance, "memory_mb": memory_mb, "memory_used_mb": used_mb,
        "cpu_threads": 8, "cpu_cores": 4, "cpu_mhz": 2000, "cpu_used_mhz": 0, "datastores": list(datastores),
    }


DATACENTERS = [{"moid": "dc-1", "name": "DC1", "parent": "group-root"}]
# Clusters live in a nested host folder: the datacenter is found through the folder chain.
FOLDERS = [
    {"moid": "group-root", "name": "Datacenters", "parent": None},
    {"moid": "group-h1", "name": "host", "parent": "dc-1"},
    {"moid": "group-h2", "name": "openstack", "parent": "group-h1"},
    {"moid": "group-s1", "name": "datastore", "parent": "dc-1"},
]
COMPUTE = [
    {"moid": "c-b", "name": "Cluster-B", "parent": "group-h2", "is_cluster": True},
    {"moid": "c-a", "name": "Cluster-A", "parent": "group-h1", "is_cluster": True},
    {"moid": "cr-s", "name": "esx-s", "parent": "group-h1", "is_cluster": False},
]
HOSTS = [
    host("esx-a1", "c-a", 65536, 16384, datastores=["ds-nfs", "ds-l1"]),
    host("esx-a2", "c-a", 131072, 8192, datastores=["ds-nfs"]),
    host("esx-a3", "c-a", 262144, 0, maintenance=True, datastores=["ds-nfs"]),
    host("esx-b1", "c-b", 32768, 1024, state="disconnected"),
    host("esx-s", "cr-s", 16384, 0),
]
DATASTORES = [
    {"moid": "ds-nfs", "name": "nfs-a", "parent": "group-s1", "type": "NFS", "capacity_mb": 100, "free_mb": 50,
     "accessible": True, "mounted_on": ["esx-a1", "esx-a2", "esx-a3"]},
    {"moid": "ds-l1", "name": "local-a1", "parent": "group-s1", "type": "VMFS", "capacity_mb": 10, "free_mb": 5,
     "accessible": True, "mounted_on": ["esx-a1"]},
]


def test_tree_groups_hosts_under_their_cluster_and_datacenter():
    (dc,) = build_inventory(DATACENTERS, FOLDERS, COMPUTE, HOSTS, DATASTORES)
    assert dc["name"] == "DC1"
    assert [c["name"] for c in dc["clusters"]] == ["Cluster-A", "Cluster-B"]
    assert [h["name"] for h in dc["clusters"][0]["hosts"]] == ["esx-a1.lab", "esx-a2.lab", "esx-a3.lab"]
    assert [h["name"] for h in dc["standalone_hosts"]] == ["esx-s.lab"]
    assert dc["clusters"][0]["hosts"][0]["datastores"] == ["local-a1", "nfs-a"]
    assert dc["datastores"][1]["hosts"] == ["esx-a1.lab", "esx-a2.lab", "esx-a3.lab"]


def test_capacity_counts_only_connected_hosts_out_of_maintenance():
    (dc,) = build_inventory(DATACENTERS, FOLDERS, COMPUTE, HOSTS, DATASTORES)
    cluster_a, cluster_b = dc["clusters"]
    assert cluster_a["capacity"] == {
        "usable_hosts": 2,
        "memory_mb": 65536 + 131072,
        "memory_free_mb": (65536 - 16384) + (131072 - 8192),
        "cpu_threads": 16,
        "largest_host_memory_mb": 131072,
        "largest_host_memory_free_mb": 131072 - 8192,
    }
    assert cluster_b["capacity"]["usable_hosts"] == 0
    assert cluster_b["capacity"]["largest_host_memory_mb"] == 0


def test_overcommitted_host_counts_as_no_free_memory():
    assert capacity([host("h", "c", 1024, 4096)])["memory_free_mb"] == 0


def test_parent_cycle_does_not_loop():
    assert datacenter_of("a", {"a": "b", "b": "a"}, {"dc": {}}) is None
