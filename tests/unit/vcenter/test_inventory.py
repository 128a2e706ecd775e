from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._vcenter.inventory import (
    build_inventory,
    capacity,
    datacenter_of,
)
from samples.vcenter import COMPUTE, DATACENTERS, FOLDERS, datastore, host

# Cluster-B lives in a nested host folder: its datacenter is found through the folder chain.
HOSTS = [
    host("esx-a1", parent="c-a", memory_mb=65536, used_mb=16384, threads=8, datastores=["ds-nfs-a", "ds-local-a1"]),
    host("esx-a2", parent="c-a", memory_mb=131072, used_mb=8192, threads=8, datastores=["ds-nfs-a"]),
    host("esx-a3", parent="c-a", memory_mb=262144, threads=8, maintenance=True, datastores=["ds-nfs-a"]),
    host("esx-b1", parent="c-b", memory_mb=32768, used_mb=1024, threads=8, state="disconnected"),
    host("esx-s", parent="cr-s", memory_mb=16384, threads=8),
]
DATASTORES = [
    datastore("nfs-a", ["esx-a1", "esx-a2", "esx-a3"], capacity_mb=100, free_mb=50),
    datastore("local-a1", ["esx-a1"], kind="VMFS", capacity_mb=10, free_mb=5),
]


def test_tree_groups_hosts_under_their_cluster_and_datacenter():
    dc, empty = build_inventory(DATACENTERS, FOLDERS, COMPUTE, HOSTS, DATASTORES)
    assert empty == {"name": "DC2", "clusters": [], "standalone_hosts": [], "datastores": []}
    assert dc["name"] == "DC1"
    assert [c["name"] for c in dc["clusters"]] == ["Cluster-A", "Cluster-B"]
    assert [h["name"] for h in dc["clusters"][0]["hosts"]] == ["esx-a1.lab", "esx-a2.lab", "esx-a3.lab"]
    assert [h["name"] for h in dc["standalone_hosts"]] == ["esx-s.lab"]
    assert dc["clusters"][0]["hosts"][0]["datastores"] == ["local-a1", "nfs-a"]
    assert dc["datastores"][1]["hosts"] == ["esx-a1.lab", "esx-a2.lab", "esx-a3.lab"]


def test_capacity_counts_only_connected_hosts_out_of_maintenance():
    dc = build_inventory(DATACENTERS, FOLDERS, COMPUTE, HOSTS, DATASTORES)[0]
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
    assert capacity([host("h", memory_mb=1024, used_mb=4096)])["memory_free_mb"] == 0


def test_parent_cycle_does_not_loop():
    assert datacenter_of("a", {"a": "b", "b": "a"}, {"dc": {}}) is None
