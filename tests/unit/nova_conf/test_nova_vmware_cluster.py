"""The cluster and datastores nova_vmware_conf's validate accepts, over the plain dicts of the reads modules."""

import pytest

from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._common.errors import BackendError
from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._nova_conf.vmware_cluster import (
    cluster_datastores,
    find_nova_cluster,
)
from samples.vcenter import COMPUTE, DATACENTERS, FOLDERS, datastore, host

CLUSTER_A = {"moid": "c-a", "name": "Cluster-A", "datacenter": "DC1", "datacenter_moid": "dc-1"}
CLUSTER_B = {"moid": "c-b", "name": "Cluster-B", "datacenter": "DC1", "datacenter_moid": "dc-1"}


# Cluster-A's hosts, as read_hosts returns them with the cluster as root.
HOSTS_A = [
    host("h1", "esx-a1"),
    host("h2", "esx-a2"),
    host("h3", "esx-a3", maintenance=True),
    host("h4", "esx-a4", state="notResponding"),
]


# The datastores Cluster-A lists, as read_cluster_datastores returns them.
DATASTORES_A = [
    datastore("nfs-a", ["h1", "h2", "h3"], free_mb=300),
    datastore("nfs-a-partial", ["h1", "h2"], free_mb=900),
    # Also mounted by a host of another cluster: that host neither helps nor hurts.
    datastore("nfs-a2", ["h1", "h2", "h3", "h4", "hb"], free_mb=500),
    datastore("local-esx-a1", ["h1"], kind="VMFS"),
    datastore("cifs-a", ["h1", "h2", "h3"], kind="CIFS"),
    datastore("gone-a", ["h1", "h2", "h3"], accessible=False),
    datastore("busy-a", ["h1", "h2", "h3"], maintenance="inMaintenance"),
]


def check(regex=None, hosts=None, datastores=None, cluster=None):
    return cluster_datastores(cluster or CLUSTER_A, regex, hosts or HOSTS_A, DATASTORES_A if datastores is None else datastores)


def test_shared_matching_datastores_most_free_first():
    # The host that does not respond is not asked to mount anything; the one in maintenance is.
    assert check(regex="nfs-a") == {
        "cluster": "Cluster-A", "cluster_moid": "c-a", "connected_hosts": ["esx-a1", "esx-a2", "esx-a3"],
        "datastores": [{"name": "nfs-a2", "type": "NFS", "free_mb": 500, "capacity_mb": 1000},
                       {"name": "nfs-a", "type": "NFS", "free_mb": 300, "capacity_mb": 1000}],
    }


def test_nova_matches_at_the_start_of_the_name():
    assert [ds["name"] for ds in check(regex="nfs-a$")["datastores"]] == ["nfs-a"]
    with pytest.raises(BackendError, match="matches no datastore nova can use"):
        check(regex="a2")


def test_without_a_regex_every_usable_shared_datastore_counts():
    assert [ds["name"] for ds in check()["datastores"]] == ["nfs-a2", "nfs-a"]


def test_without_a_usable_datastore_the_clusters_own_are_listed():
    # validate passes only the datastores the cluster lists, the only ones nova looks at.
    with pytest.raises(BackendError) as error:
        check(datastores=[ds for ds in DATASTORES_A if ds["name"] in ("cifs-a", "gone-a")])
    assert str(error.value) == ("In cluster Cluster-A, there is no datastore nova can use (accessible, type VMFS/NFS/NFS41/vsan); "
                                "the cluster's datastores: cifs-a, gone-a.")


def test_a_datastore_some_hosts_lack_is_refused_and_named():
    with pytest.raises(BackendError) as error:
        check(regex="nfs-a-partial")
    assert str(error.value) == (
        "In cluster Cluster-A, datastore_regex 'nfs-a-partial' matches no datastore that every connected host mounts "
        "(nfs-a-partial is not mounted on esx-a3): a VM DRS places on a host without its datastore cannot run there.")


def test_datastores_nova_cannot_use_do_not_count():
    with pytest.raises(BackendError) as error:
        check(regex="(cifs|gone|busy)")
    assert str(error.value) == (
        "In cluster Cluster-A, datastore_regex '(cifs|gone|busy)' matches no datastore nova can use "
        "(accessible, type VMFS/NFS/NFS41/vsan); the cluster's datastores: busy-a, cifs-a, gone-a, local-esx-a1, "
        "nfs-a, nfs-a-partial, nfs-a2.")


def test_cluster_without_connected_hosts():
    hosts = [host("hb", "esx-b1", parent="c-b", state="disconnected")]
    with pytest.raises(BackendError, match=r"^Cluster Cluster-B has no connected host\.$"):
        check(hosts=hosts, datastores=[datastore("nfs-b", ["hb"])], cluster=CLUSTER_B)


def test_finds_the_cluster_by_name_in_any_datacenter():
    assert find_nova_cluster(DATACENTERS, FOLDERS, COMPUTE, "Cluster-A") == CLUSTER_A


def test_unknown_cluster_names_those_that_exist():
    with pytest.raises(BackendError, match=r"^Cluster esx-s1 not found in this vCenter; it has: DC1/Cluster-A, DC1/Cluster-B\.$"):
        find_nova_cluster(DATACENTERS, FOLDERS, COMPUTE, "esx-s1")


def test_ambiguous_cluster_name_is_refused_without_offering_a_datacenter_option():
    # nova has no datacenter setting: it takes the first cluster of that name vCenter lists.
    twin = {"moid": "c-a2", "name": "Cluster-A", "parent": "group-h2", "is_cluster": True}
    with pytest.raises(BackendError) as error:
        find_nova_cluster(DATACENTERS, FOLDERS, COMPUTE + [twin], "Cluster-A")
    assert str(error.value) == ("Cluster name Cluster-A is ambiguous: DC1/Cluster-A (c-a), DC2/Cluster-A (c-a2); "
                                "nova would drive whichever vCenter lists first: rename all but one.")
