import pytest

from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._vcenter.cluster import (
    cluster_facts,
    compile_datastore_regex,
    config_spec,
    drs_warnings,
    find_cluster,
    plan_settings,
    settings_from_config,
    shared_datastore_problem,
    vm_kind,
)
from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._common.errors import BackendError
from samples.vcenter import DATACENTERS, FOLDERS, GIB, datastore, host

# Cluster names that clash, within a datacenter and across both.
CLASHING = [
    {"moid": "domain-c1", "name": "Cluster-A", "parent": "group-h1", "is_cluster": True},
    {"moid": "domain-c2", "name": "Shared", "parent": "group-h1", "is_cluster": True},
    {"moid": "domain-c3", "name": "Shared", "parent": "group-h2", "is_cluster": True},
    {"moid": "domain-c4", "name": "Twin", "parent": "group-h2", "is_cluster": True},
    {"moid": "domain-c5", "name": "Twin", "parent": "group-h3", "is_cluster": True},
    {"moid": "domain-s1", "name": "esx-s1", "parent": "group-h1", "is_cluster": False},
]


def find(cluster, datacenter=None):
    return find_cluster(DATACENTERS, FOLDERS, CLASHING, cluster, datacenter)


def test_finds_a_cluster_and_its_datacenter_through_nested_folders():
    assert find("Cluster-A") == {"moid": "domain-c1", "name": "Cluster-A", "datacenter": "DC1", "datacenter_moid": "dc-1"}
    assert find("Shared", "DC2")["moid"] == "domain-c3"


def test_unknown_cluster_names_the_clusters_that_exist():
    with pytest.raises(BackendError) as error:
        find("Nope")
    assert str(error.value) == ("Cluster Nope not found in this vCenter; it has: DC1/Cluster-A, DC1/Shared, "
                                "DC2/Shared, DC2/Twin, DC2/Twin.")
    with pytest.raises(BackendError, match=r"^Cluster Cluster-A not found in datacenter DC2; it has: DC2/Shared"):
        find("Cluster-A", "DC2")


def test_a_standalone_host_is_not_a_cluster():
    with pytest.raises(BackendError, match="not found"):
        find("esx-s1")


def test_unknown_datacenter_names_the_datacenters_that_exist():
    with pytest.raises(BackendError) as error:
        find("Cluster-A", "DC9")
    assert str(error.value) == "Datacenter DC9 not found; this vCenter has: DC1, DC2."


def test_ambiguous_cluster_says_how_to_choose():
    with pytest.raises(BackendError) as error:
        find("Shared")
    assert str(error.value) == ("Cluster name Shared is ambiguous: DC1/Shared (domain-c2), DC2/Shared (domain-c3); "
                                "set the datacenter option to choose one.")
    with pytest.raises(BackendError, match="in different folders of one datacenter: rename all but one"):
        find("Twin", "DC2")


def test_ambiguous_cluster_advice_can_be_given_by_a_caller_without_a_datacenter_option():
    with pytest.raises(BackendError) as error:
        find_cluster(DATACENTERS, FOLDERS, CLASHING, "Shared", ambiguity_fix="rename all but one")
    assert str(error.value) == "Cluster name Shared is ambiguous: DC1/Shared (domain-c2), DC2/Shared (domain-c3); rename all but one."
    with pytest.raises(BackendError, match="; rename all but one.$"):
        find_cluster(DATACENTERS, FOLDERS, CLASHING, "Twin", "DC2", ambiguity_fix="rename all but one")


def test_ambiguous_datacenter():
    datacenters = DATACENTERS + [{"moid": "dc-3", "name": "DC1", "parent": "group-d1"}]
    with pytest.raises(BackendError, match=r"^Datacenter name DC1 is ambiguous: 2 datacenters"):
        find_cluster(datacenters, FOLDERS, CLASHING, "Cluster-A", "DC1")


RAW = {"drs": {"enabled": True, "defaultVmBehavior": "manual", "vmotionRate": 2},
       "das": {"enabled": False, "hostMonitoring": "disabled", "admissionControlEnabled": True}}


def test_settings_invert_the_vmotion_rate_into_the_ui_threshold():
    assert settings_from_config(RAW) == {
        "drs": {"enabled": True, "default_vm_behavior": "manual", "migration_threshold": 4},
        "ha": {"enabled": False, "host_monitoring": False, "admission_control": True},
    }


def test_unset_settings_read_as_none():
    settings = settings_from_config({"drs": {"enabled": None}, "das": {}})
    assert settings["drs"] == {"enabled": False, "default_vm_behavior": None, "migration_threshold": None}
    assert settings["ha"]["host_monitoring"] is None


def test_plan_names_only_the_settings_given_and_changes_only_those_that_differ():
    current = settings_from_config(RAW)
    desired = {"drs": {"enabled": True, "default_vm_behavior": "fullyAutomated", "migration_threshold": None},
               "ha": {"enabled": True, "host_monitoring": None, "admission_control": None}}
    before, after, changes = plan_settings(current, desired)
    assert before == {"drs": {"enabled": True, "default_vm_behavior": "manual"}, "ha": {"enabled": False}}
    assert after == {"drs": {"enabled": True, "default_vm_behavior": "fullyAutomated"}, "ha": {"enabled": True}}
    assert changes == {"drs": {"default_vm_behavior": "fullyAutomated"}, "ha": {"enabled": True}}


def test_plan_without_desired_settings_is_empty():
    assert plan_settings(settings_from_config(RAW), {"drs": None, "ha": None}) == ({}, {}, {})


def test_plan_in_the_desired_state_has_no_changes():
    current = settings_from_config(RAW)
    changes = plan_settings(current, {"drs": current["drs"], "ha": current["ha"]})[2]
    assert changes == {}


def test_config_spec_uses_vsphere_names_and_values():
    spec = config_spec({"drs": {"migration_threshold": 5, "enabled": True},
                        "ha": {"host_monitoring": False, "admission_control": False}})
    assert spec == {"drsConfig": {"enabled": True, "vmotionRate": 1},
                    "dasConfig": {"admissionControlEnabled": False, "hostMonitoring": "disabled"}}
    assert config_spec({}) == {}


@pytest.mark.parametrize("behavior, leaves", [
    ("partiallyAutomated", "every migration"),
    ("manual", "the placement of every VM it powers on and every migration"),
])
def test_an_automation_level_nova_cannot_use_is_warned_about(behavior, leaves):
    assert drs_warnings({"enabled": True, "default_vm_behavior": behavior, "migration_threshold": None}) == [
        "DRS default_vm_behavior %s leaves %s to an operator: nova's VMware driver needs fullyAutomated, so that "
        "vCenter places and balances the VMs nova creates." % (behavior, leaves)]


def test_no_warning_for_fully_automated_or_a_level_not_set():
    assert drs_warnings({"default_vm_behavior": "fullyAutomated"}) == []
    assert drs_warnings({"enabled": True, "default_vm_behavior": None}) == []
    assert drs_warnings(None) == []


def test_regex_that_does_not_compile_is_quoted():
    assert compile_datastore_regex(None) is None
    with pytest.raises(BackendError) as error:
        compile_datastore_regex("nfs-(")
    assert str(error.value).startswith("datastore_regex 'nfs-(' does not compile: missing ),")


HOSTS = [host("h1", memory_mb=65536, used_mb=60000, threads=32), host("h2", memory_mb=131072, used_mb=1024, threads=48),
         host("h3", memory_mb=262144, threads=64, maintenance=True),
         host("h4", memory_mb=32768, threads=8, state="disconnected")]
DATASTORES = [
    datastore("nfs-all", ["h1", "h2", "h3"], capacity_mb=1000 * GIB, free_mb=400 * GIB),
    datastore("nfs-part", ["h1", "h2"], capacity_mb=500 * GIB, free_mb=450 * GIB),
    datastore("local-h1", ["h1"], kind="VMFS", capacity_mb=200 * GIB, free_mb=100 * GIB),
    datastore("cifs", ["h1", "h2", "h3"], kind="CIFS", capacity_mb=100 * GIB, free_mb=50 * GIB),
    datastore("nfs-busy", ["h1", "h2", "h3"], capacity_mb=100 * GIB, free_mb=50 * GIB, maintenance="inMaintenance"),
]
VMS = [
    {"name": "web", "power_state": "poweredOn", "host": "h1", "template": False, "managed_by": None, "nova_uuid": None},
    {"name": "nova-1", "power_state": "poweredOn", "host": "h2", "template": False,
     "managed_by": {"extension_key": "org.openstack.compute", "type": "instance"}, "nova_uuid": "u-1"},
    {"name": "nova-old", "power_state": "poweredOff", "host": "h2", "template": False, "managed_by": None, "nova_uuid": "u-2"},
    {"name": "vCLS-1", "power_state": "poweredOn", "host": "h3", "template": False,
     "managed_by": {"extension_key": "com.vmware.vim.eam", "type": "cluster-agent"}, "nova_uuid": None},
    {"name": "other-tool", "power_state": "poweredOff", "host": "h9", "template": True,
     "managed_by": {"extension_key": "com.example", "type": "x"}, "nova_uuid": None},
]


def test_facts_say_who_mounts_each_datastore_and_which_are_shared():
    facts = cluster_facts(HOSTS, DATASTORES, VMS)
    by_name = {ds["name"]: ds for ds in facts["datastores"]}
    # h4 is disconnected: it neither counts for sharing nor shows as missing.
    assert by_name["nfs-all"]["shared"] and by_name["nfs-all"]["missing_on"] == []
    assert by_name["nfs-part"]["missing_on"] == ["h3.lab"]
    assert by_name["local-h1"]["hosts"] == ["h1.lab"]
    assert facts["shared_datastores"] == ["cifs", "nfs-all", "nfs-busy"]
    assert [ds["name"] for ds in facts["datastores"] if ds["usable_by_nova"]] == ["local-h1", "nfs-all", "nfs-part"]
    assert facts["datastore_regex"] is None


def test_capacity_is_what_nova_reports():
    capacity = cluster_facts(HOSTS, DATASTORES, VMS)["capacity"]
    assert capacity["usable_hosts"] == 2
    assert capacity["cpu_threads"] == 32 + 48 and capacity["largest_host_cpu_threads"] == 48
    assert capacity["memory_mb"] == 65536 + 131072 and capacity["largest_host_memory_mb"] == 131072
    assert capacity["largest_host_memory_free_mb"] == 131072 - 1024
    # DISK_GB: the sum over the datastores nova may use, max_unit the most free on one of them.
    assert capacity["disk_gb"] == 1000 + 500 + 200
    assert capacity["largest_datastore_free_gb"] == 450


def test_regex_is_matched_as_nova_does_from_the_start_of_the_name():
    facts = cluster_facts(HOSTS, DATASTORES, VMS, compile_datastore_regex("nfs-a|local"))
    assert facts["datastore_regex"] == {"pattern": "nfs-a|local", "matching": ["local-h1", "nfs-all"],
                                        "matching_shared": ["nfs-all"]}
    assert cluster_facts(HOSTS, DATASTORES, VMS, compile_datastore_regex("all"))["datastore_regex"]["matching"] == []
    assert cluster_facts(HOSTS, DATASTORES, VMS, compile_datastore_regex("nfs-p"))["capacity"]["disk_gb"] == 500


def test_vms_nova_does_not_manage():
    assert [vm_kind(vm) for vm in VMS] == ["unmanaged", "nova", "nova", "agent", "unmanaged"]
    vms = cluster_facts(HOSTS, DATASTORES, VMS)["vms"]
    assert vms["nova_managed"] == 2
    assert vms["agents"] == ["vCLS-1"]
    assert vms["unmanaged"] == [
        {"name": "other-tool", "power_state": "poweredOff", "template": True, "host": "h9"},
        {"name": "web", "power_state": "poweredOn", "template": False, "host": "h1.lab"},
    ]


def test_shared_datastore_problem_names_the_hosts_that_lack_each_candidate():
    facts = cluster_facts(HOSTS, DATASTORES, VMS, compile_datastore_regex("nfs-p|local"))
    assert shared_datastore_problem("C", facts) == (
        "In cluster C, datastore_regex 'nfs-p|local' matches no datastore that every connected host mounts "
        "(local-h1 is not mounted on h2.lab, h3.lab; nfs-part is not mounted on h3.lab): a VM DRS places on a host "
        "without its datastore cannot run there.")
    assert shared_datastore_problem("C", cluster_facts(HOSTS, DATASTORES, VMS, compile_datastore_regex("nfs"))) is None


def test_shared_datastore_problem_when_nothing_matches_or_no_host_is_connected():
    facts = cluster_facts(HOSTS, DATASTORES, VMS, compile_datastore_regex("cifs"))
    assert shared_datastore_problem("C", facts).startswith(
        "In cluster C, datastore_regex 'cifs' matches no datastore nova can use (accessible, type VMFS/NFS/NFS41/vsan); "
        "the cluster's datastores: cifs, local-h1,")
    facts = cluster_facts([host("h1", state="disconnected")], DATASTORES, [])
    assert shared_datastore_problem("C", facts) == "Cluster C has no connected host."
