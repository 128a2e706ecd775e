"""The cluster and datastores nova_vmware_conf's validate accepts, over _vcenter_reads' plain dicts."""

import pytest

from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._nova_vmware_cluster import cluster_datastores
from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._nova_vmware_options import ConfigError

COMPUTE = [
    {"moid": "c-a", "name": "Cluster-A", "parent": "f", "is_cluster": True},
    {"moid": "c-b", "name": "Cluster-B", "parent": "f", "is_cluster": True},
    {"moid": "cr-s", "name": "esx-s1", "parent": "f", "is_cluster": False},
]
HOSTS = [
    {"moid": "h1", "name": "esx-a1", "parent": "c-a", "connection_state": "connected"},
    {"moid": "h2", "name": "esx-a2", "parent": "c-a", "connection_state": "connected"},
    {"moid": "h3", "name": "esx-a3", "parent": "c-a", "connection_state": "connected"},
    {"moid": "h4", "name": "esx-a4", "parent": "c-a", "connection_state": "notResponding"},
    {"moid": "hb", "name": "esx-b1", "parent": "c-b", "connection_state": "disconnected"},
]


def datastore(name, mounted_on, free_mb=100, kind="NFS", accessible=True):
    return {"moid": "ds-" + name, "name": name, "type": kind, "free_mb": free_mb, "capacity_mb": 1000,
            "accessible": accessible, "mounted_on": mounted_on}


DATASTORES = [
    datastore("nfs-a", ["h1", "h2", "h3"], free_mb=300),
    datastore("nfs-a-partial", ["h1", "h2"], free_mb=900),
    datastore("nfs-a2", ["h1", "h2", "h3", "h4"], free_mb=500),
    datastore("local-esx-a1", ["h1"], kind="VMFS"),
    datastore("cifs-a", ["h1", "h2", "h3"], kind="CIFS"),
    datastore("gone-a", ["h1", "h2", "h3"], accessible=False),
    dict(datastore("busy-a", ["h1", "h2", "h3"]), maintenance_mode="inMaintenance"),
]


def check(cluster="Cluster-A", regex=None, compute=None):
    return cluster_datastores(cluster, regex, compute or COMPUTE, HOSTS, DATASTORES)


def test_shared_matching_datastores_most_free_first():
    # The host that does not respond is not asked to mount anything.
    assert check(regex="nfs-a") == {
        "cluster": "Cluster-A", "cluster_moid": "c-a", "connected_hosts": ["esx-a1", "esx-a2", "esx-a3"],
        "datastores": [{"name": "nfs-a2", "type": "NFS", "free_mb": 500, "capacity_mb": 1000},
                       {"name": "nfs-a", "type": "NFS", "free_mb": 300, "capacity_mb": 1000}],
    }


def test_nova_matches_at_the_start_of_the_name():
    assert [ds["name"] for ds in check(regex="nfs-a$")["datastores"]] == ["nfs-a"]
    with pytest.raises(ConfigError, match="matches no datastore"):
        check(regex="a2")


def test_without_a_regex_every_usable_shared_datastore_counts():
    assert [ds["name"] for ds in check()["datastores"]] == ["nfs-a2", "nfs-a"]


def test_a_datastore_some_hosts_lack_is_refused_and_named():
    with pytest.raises(ConfigError) as error:
        check(regex="nfs-a-partial")
    assert str(error.value) == (
        "datastore_regex 'nfs-a-partial' matches no datastore that all 3 connected hosts of Cluster-A mount "
        "(nfs-a-partial is not mounted on esx-a3): an instance that DRS moves to a host without its datastore cannot run there.")


def test_datastores_nova_cannot_use_do_not_count():
    with pytest.raises(ConfigError) as error:
        check(regex="(cifs|gone|busy)")
    assert str(error.value) == (
        "datastore_regex '(cifs|gone|busy)' matches no datastore of Cluster-A that nova can use (accessible, not in maintenance, "
        "type VMFS/NFS/NFS41/vsan); "
        "those it can use: local-esx-a1, nfs-a, nfs-a-partial, nfs-a2.")


def test_unknown_cluster_names_those_that_exist():
    with pytest.raises(ConfigError, match=r"^vCenter has no cluster named esx-s1 \(its clusters: Cluster-A, Cluster-B\)\.$"):
        check("esx-s1")


def test_ambiguous_cluster_name_is_refused():
    twin = dict(COMPUTE[0], moid="c-a2")
    with pytest.raises(ConfigError, match=r"^2 clusters are named Cluster-A \(c-a, c-a2\)"):
        check(compute=COMPUTE + [twin])


def test_cluster_without_connected_hosts():
    with pytest.raises(ConfigError, match="Cluster Cluster-B has no connected host"):
        check("Cluster-B")
