"""vcenter_cluster against the lab's simulator: facts, DRS/HA with check mode, diff and idempotence, every failure.

State is read back through a pyVmomi session of the test's own (``VSphere``), not through
the module, and every test that changes a cluster restores it.
"""

import pytest
from pyVim.task import WaitForTask
from pyVmomi import vim

from helpers.lab import clean_env
from helpers.playbook import run_module


@pytest.fixture
def restore_clusters(vsphere):
    """Put the DRS/HA settings of both lab clusters back as they were."""
    saved = {name: vsphere.cluster_settings(name) for name in ("Cluster-A", "Cluster-B")}
    yield saved
    for name, settings in saved.items():
        vsphere.set_cluster(name, settings)
        assert vsphere.cluster_settings(name) == settings


def cluster(vcenter, check_mode=False, **args):
    return run_module("vcenter_cluster", args, env=clean_env(**vcenter), check_mode=check_mode)


def test_facts_of_a_cluster(vcenter):
    run = cluster(vcenter, cluster="Cluster-A", datastore_regex="^nfs-a")
    assert not run.failed, run.output
    assert not run.result["changed"]
    facts = run.result["cluster"]
    assert (facts["name"], facts["datacenter"]) == ("Cluster-A", "DC1")
    assert [(h["name"], h["memory_mb"], h["memory_used_mb"], h["cpu_threads"]) for h in facts["hosts"]] == [
        ("esx-a1.lab.local", 65536, 24576, 32), ("esx-a2.lab.local", 131072, 40960, 48), ("esx-a3.lab.local", 98304, 16384, 40)]
    assert all(h["connection_state"] == "connected" and not h["maintenance_mode"] for h in facts["hosts"])
    datastores = {ds["name"]: ds for ds in facts["datastores"]}
    assert sorted(datastores) == ["local-esx-a1", "local-esx-a2", "local-esx-a3", "nfs-a", "nfs-a-partial"]
    assert datastores["nfs-a-partial"]["hosts"] == ["esx-a1.lab.local", "esx-a2.lab.local"]
    assert datastores["nfs-a-partial"]["missing_on"] == ["esx-a3.lab.local"]
    assert datastores["local-esx-a2"]["hosts"] == ["esx-a2.lab.local"] and not datastores["local-esx-a2"]["shared"]
    assert facts["shared_datastores"] == ["nfs-a"]
    assert facts["datastore_regex"] == {"pattern": "^nfs-a", "matching": ["nfs-a", "nfs-a-partial"], "matching_shared": ["nfs-a"]}
    assert facts["capacity"] == {
        "usable_hosts": 3,
        "cpu_threads": 32 + 48 + 40, "largest_host_cpu_threads": 48,
        "memory_mb": 65536 + 131072 + 98304, "largest_host_memory_mb": 131072,
        "memory_free_mb": (65536 - 24576) + (131072 - 40960) + (98304 - 16384),
        "largest_host_memory_free_mb": 131072 - 40960,
        # DISK_GB counts the datastores datastore_regex lets nova use: nfs-a and nfs-a-partial.
        "disk_gb": 4096 + 2048, "largest_datastore_free_gb": 2900,
    }
    assert facts["vms"] == {"nova_managed": 0, "agents": [], "unmanaged": []}


def test_facts_name_the_vms_nova_does_not_manage(vcenter):
    run = cluster(vcenter, cluster="Cluster-B")
    assert not run.failed, run.output
    assert run.result["cluster"]["vms"]["unmanaged"] == [
        {"name": "legacy-app01", "power_state": "poweredOff", "template": False, "host": "esx-b3.lab.local"},
        {"name": "legacy-db01", "power_state": "poweredOn", "template": False, "host": "esx-b1.lab.local"},
    ]
    # Without datastore_regex nova uses every accessible datastore, local ones included.
    assert run.result["cluster"]["capacity"]["disk_gb"] == 250 + 250 + 500 + 2048
    assert run.result["cluster"]["datastore_regex"] is None


def test_facts_recognise_vms_nova_created(vcenter, vsphere):
    """A VM marked as nova marks its instances (vm_util.get_vm_create_spec) is not reported as unmanaged."""
    host = vsphere.hosts("Cluster-A")[0]
    datacenter = vsphere.find(vim.Datacenter, "DC1")
    created = []
    for name, spec in (
            ("nova-by-managed-by", {"managedBy": vim.ext.ManagedByInfo(extensionKey="org.openstack.compute", type="instance")}),
            ("nova-by-extra-config", {"extraConfig": [vim.option.OptionValue(key="nvp.vm-uuid", value="6f1d8e4c-0000")]}),
            ("vcls-agent", {"managedBy": vim.ext.ManagedByInfo(extensionKey="com.vmware.vim.eam", type="cluster-agent")})):
        config = vim.vm.ConfigSpec(name=name, guestId="otherGuest64", numCPUs=1, memoryMB=64,
                                   files=vim.vm.FileInfo(vmPathName="[nfs-a]"), **spec)
        task = datacenter.vmFolder.CreateVM_Task(config, host.parent.resourcePool, host)
        WaitForTask(task)
        created.append(task.info.result)
    try:
        run = cluster(vcenter, cluster="Cluster-A")
        assert not run.failed, run.output
        assert run.result["cluster"]["vms"] == {"nova_managed": 2, "agents": ["vcls-agent"], "unmanaged": []}
    finally:
        for vm in created:
            WaitForTask(vm.Destroy_Task())


DRS_HA = {
    "drs": {"enabled": True, "default_vm_behavior": "partiallyAutomated", "migration_threshold": 2},
    "ha": {"enabled": True, "host_monitoring": False, "admission_control": False},
}


def test_check_mode_reports_the_diff_and_changes_nothing(vcenter, vsphere, restore_clusters):
    before = vsphere.cluster_settings("Cluster-B")
    run = cluster(vcenter, check_mode=True, cluster="Cluster-B", **DRS_HA)
    assert not run.failed, run.output
    assert run.result["changed"]
    assert run.result["diff"] == {
        "before": {"drs": {"enabled": False, "default_vm_behavior": "fullyAutomated", "migration_threshold": 3},
                   "ha": {"enabled": False, "host_monitoring": True, "admission_control": True}},
        "after": DRS_HA,
    }
    assert run.result["cluster"]["settings"] == DRS_HA
    assert vsphere.cluster_settings("Cluster-B") == before


def test_settings_are_applied_then_idempotent(vcenter, vsphere, restore_clusters):
    run = cluster(vcenter, cluster="Cluster-B", **DRS_HA)
    assert not run.failed, run.output
    assert run.result["changed"]
    # The UI's migration threshold 2 is vCenter's vmotionRate 4.
    assert vsphere.cluster_settings("Cluster-B") == {
        "drs": {"enabled": True, "defaultVmBehavior": "partiallyAutomated", "vmotionRate": 4},
        "das": {"enabled": True, "hostMonitoring": "disabled", "admissionControlEnabled": False}}
    again = cluster(vcenter, cluster="Cluster-B", **DRS_HA)
    assert not again.failed, again.output
    assert not again.result["changed"]
    assert again.result["diff"]["before"] == again.result["diff"]["after"] == DRS_HA


def test_an_automation_level_nova_cannot_use_is_warned_about(vcenter, vsphere):
    run = cluster(vcenter, check_mode=True, cluster="Cluster-A", drs={"default_vm_behavior": "manual"})
    assert not run.failed, run.output
    assert run.result["warnings"] == [
        "DRS default_vm_behavior manual leaves the placement of every VM it powers on and every migration to an "
        "operator: nova's VMware driver needs fullyAutomated, so that vCenter places and balances the VMs nova creates."]
    assert "warnings" not in cluster(vcenter, check_mode=True, cluster="Cluster-A",
                                     drs={"default_vm_behavior": "fullyAutomated"}).result


@pytest.mark.parametrize("section, setting, value, raw", [
    ("drs", "enabled", True, ("drs", "enabled", True)),
    ("drs", "default_vm_behavior", "manual", ("drs", "defaultVmBehavior", "manual")),
    ("drs", "migration_threshold", 5, ("drs", "vmotionRate", 1)),
    ("ha", "enabled", True, ("das", "enabled", True)),
    ("ha", "host_monitoring", False, ("das", "hostMonitoring", "disabled")),
    ("ha", "admission_control", False, ("das", "admissionControlEnabled", False)),
])
def test_each_setting_alone_changes_only_itself(vcenter, vsphere, restore_clusters, section, setting, value, raw):
    before = vsphere.cluster_settings("Cluster-B")
    run = cluster(vcenter, cluster="Cluster-B", datacenter="DC1", **{section: {setting: value}})
    assert not run.failed, run.output
    assert run.result["changed"]
    assert run.result["diff"]["after"] == {section: {setting: value}}
    expected = {part: dict(values) for part, values in before.items()}
    expected[raw[0]][raw[1]] = raw[2]
    assert vsphere.cluster_settings("Cluster-B") == expected
    assert not cluster(vcenter, cluster="Cluster-B", **{section: {setting: value}}).result["changed"]


def test_shared_datastore_required_and_present(vcenter):
    run = cluster(vcenter, cluster="Cluster-A", datastore_regex="^nfs-a$", require_shared_datastore=True)
    assert not run.failed, run.output


def test_no_shared_datastore_fails_naming_the_hosts_that_lack_it_and_changes_nothing(vcenter, vsphere, restore_clusters):
    before = vsphere.cluster_settings("Cluster-A")
    run = cluster(vcenter, cluster="Cluster-A", datastore_regex="^nfs-a-p", require_shared_datastore=True,
                  drs={"default_vm_behavior": "manual"})
    assert run.failed
    assert run.msg == ("In cluster Cluster-A, datastore_regex '^nfs-a-p' matches no datastore that every connected host "
                       "mounts (nfs-a-partial is not mounted on esx-a3.lab.local): a VM DRS places on a host without its "
                       "datastore cannot run there.")
    assert run.result["cluster"]["datastore_regex"]["matching"] == ["nfs-a-partial"]
    assert vsphere.cluster_settings("Cluster-A") == before


def test_no_datastore_matching_the_regex(vcenter):
    run = cluster(vcenter, cluster="Cluster-B", datastore_regex="^san-", require_shared_datastore=True)
    assert run.failed
    assert run.msg == ("In cluster Cluster-B, datastore_regex '^san-' matches no datastore nova can use (accessible, type "
                       "VMFS/NFS/NFS41/vsan); the cluster's datastores: local-esx-b1, local-esx-b2, local-esx-b3, nfs-b.")


def test_unknown_cluster_names_those_that_exist(vcenter):
    run = cluster(vcenter, cluster="Cluster-Z")
    assert run.failed
    assert run.msg == "Cluster Cluster-Z not found in this vCenter; it has: DC1/Cluster-A, DC1/Cluster-B."
    assert "Traceback" not in run.output


def test_unknown_datacenter_names_those_that_exist(vcenter):
    run = cluster(vcenter, cluster="Cluster-A", datacenter="DC9")
    assert run.failed
    assert run.msg == "Datacenter DC9 not found; this vCenter has: DC1."


def test_regex_that_does_not_compile(vcenter):
    run = cluster(vcenter, cluster="Cluster-A", datastore_regex="nfs-(a")
    assert run.failed
    assert run.msg == "datastore_regex 'nfs-(a' does not compile: missing ), unterminated subpattern at position 4."


def test_invalid_options_are_refused_before_connecting(vcenter):
    run = cluster(vcenter, cluster="Cluster-A", drs={"migration_threshold": 6})
    assert run.failed
    assert "migration_threshold" in run.msg
