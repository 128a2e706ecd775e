"""vcenter_host_nfs_datastore against the lab: one NFS export, one datastore, mounted on every host."""

from pyVmomi import vim

from helpers.lab import clean_env
from helpers.playbook import run_module

CLUSTER_A = ["esx-a1.lab.local", "esx-a2.lab.local", "esx-a3.lab.local"]
CLUSTER_B = ["esx-b1.lab.local", "esx-b2.lab.local", "esx-b3.lab.local"]
EXPORT = {"name": "nfs-nova", "server": "nfs.lab.local", "path": "/exports/nova"}


def nfs(vcenter, check_mode=False, **args):
    return run_module("vcenter_host_nfs_datastore", args, env=clean_env(**vcenter), check_mode=check_mode)


def datastores_named(vsphere, name):
    return [ds for ds in vsphere.all(vim.Datastore) if ds.name == name]


def test_check_mode_mounts_nothing(vcenter, vsphere):
    run = nfs(vcenter, check_mode=True, cluster="Cluster-B", **EXPORT)
    assert not run.failed, run.output
    assert run.result["changed"]
    assert run.result["diff"] == {"before": {"mounted_on": []}, "after": {"mounted_on": CLUSTER_B}}
    assert datastores_named(vsphere, "nfs-nova") == []


def test_mounts_on_every_host_as_one_shared_datastore(vcenter, vsphere):
    run = nfs(vcenter, cluster="Cluster-B", **EXPORT)
    assert not run.failed, run.output
    assert run.result["datastore"] == {"name": "nfs-nova", "state": "present", "mounted_on": CLUSTER_B, "skipped_hosts": []}
    (datastore,) = datastores_named(vsphere, "nfs-nova")
    assert (datastore.info.nas.remoteHost, datastore.info.nas.remotePath, datastore.summary.type) == (
        "nfs.lab.local", "/exports/nova", "NFS")
    assert vsphere.mounts("Cluster-B", "nfs-nova") == CLUSTER_B
    assert {mount.mountInfo.accessMode for mount in datastore.host} == {"readWrite"}
    assert not nfs(vcenter, cluster="Cluster-B", **EXPORT).result["changed"]

    # The cluster now has shared storage nova's datastore_regex can select.
    facts = run_module("vcenter_cluster", {"cluster": "Cluster-B", "datastore_regex": "^nfs-nova$", "require_shared_datastore": True},
                       env=clean_env(**vcenter))
    assert not facts.failed, facts.output
    assert facts.result["cluster"]["datastore_regex"]["matching_shared"] == ["nfs-nova"]

    # The same export on another cluster is the same datastore, mounted on more hosts.
    assert nfs(vcenter, cluster="Cluster-A", **EXPORT).result["changed"]
    (same,) = datastores_named(vsphere, "nfs-nova")
    assert same._moId == datastore._moId
    assert sorted(mount.key.name for mount in same.host) == CLUSTER_A + CLUSTER_B


def test_unmounts_and_vcenter_drops_the_datastore_with_its_last_host(vcenter, vsphere):
    assert nfs(vcenter, cluster="Cluster-A", **EXPORT).result["changed"]
    assert nfs(vcenter, cluster="Cluster-B", **EXPORT).result["changed"]
    check = nfs(vcenter, check_mode=True, cluster="Cluster-A", name="nfs-nova", state="absent")
    assert check.result["diff"] == {"before": {"mounted_on": CLUSTER_A}, "after": {"mounted_on": []}}
    assert vsphere.mounts("Cluster-A", "nfs-nova") == CLUSTER_A

    assert nfs(vcenter, cluster="Cluster-A", name="nfs-nova", state="absent").result["changed"]
    assert vsphere.mounts("Cluster-A", "nfs-nova") == []
    assert vsphere.mounts("Cluster-B", "nfs-nova") == CLUSTER_B
    assert nfs(vcenter, cluster="Cluster-B", name="nfs-nova", state="absent").result["changed"]
    assert datastores_named(vsphere, "nfs-nova") == []
    assert not nfs(vcenter, cluster="Cluster-B", name="nfs-nova", state="absent").result["changed"]


def test_nfs41_read_only(vcenter, vsphere):
    run = nfs(vcenter, cluster="Cluster-B", name="nfs41-ro", server="nfs.lab.local", path="/exports/ro", nfs_version="4.1",
              read_only=True)
    assert not run.failed, run.output
    (datastore,) = datastores_named(vsphere, "nfs41-ro")
    assert datastore.summary.type == "NFS41"
    assert {mount.mountInfo.accessMode for mount in datastore.host} == {"readOnly"}


def test_a_name_taken_by_another_export_or_volume_fails(vcenter, vsphere):
    other = nfs(vcenter, cluster="Cluster-B", name="nfs-b", server="filer.example", path="/vol/b")
    assert other.failed
    assert other.msg == ("Datastore nfs-b already exists as nfs.lab.local:/exports/nfs-b (NFS), not filer.example:/vol/b "
                         "(NFS): choose another name.")
    local = nfs(vcenter, cluster="Cluster-B", name="local-esx-b1", server="filer.example", path="/vol/b")
    assert local.failed
    assert local.msg == "Datastore local-esx-b1 already exists as a VMFS volume, not filer.example:/vol/b (NFS): choose another name."


def test_present_needs_the_export(vcenter):
    run = nfs(vcenter, cluster="Cluster-B", name="nfs-nova")
    assert run.failed
    assert run.msg == "state is present but all of the following are missing: server, path"
