"""vcenter_portgroup against the lab: a standard port group on every host, and a distributed one on dvs-lab."""

from pyVim.task import WaitForTask
from pyVmomi import vim

from helpers.lab import clean_env
from helpers.playbook import run_module

CLUSTER_B = ["esx-b1.lab.local", "esx-b2.lab.local", "esx-b3.lab.local"]


def portgroup(vcenter, check_mode=False, **args):
    return run_module("vcenter_portgroup", args, env=clean_env(**vcenter), check_mode=check_mode)


def dv_portgroup(vsphere, name):
    return next((pg for pg in vsphere.all(vim.dvs.DistributedVirtualPortgroup) if pg.name == name), None)


def test_standard_check_mode_adds_nothing(vcenter, vsphere):
    run = portgroup(vcenter, check_mode=True, cluster="Cluster-B", name="br100", vlan_id=100)
    assert not run.failed, run.output
    assert run.result["changed"]
    assert run.result["diff"] == {"before": dict.fromkeys(CLUSTER_B),
                                  "after": dict.fromkeys(CLUSTER_B, {"vlan_id": 100, "vswitch": "vSwitch0"})}
    assert vsphere.portgroups("Cluster-B", "br100") == dict.fromkeys(CLUSTER_B)


def test_standard_add_update_remove_each_idempotent(vcenter, vsphere):
    run = portgroup(vcenter, cluster="Cluster-B", name="br100", vlan_id=100)
    assert not run.failed, run.output
    assert run.result["portgroup"]["hosts"] == CLUSTER_B
    assert vsphere.portgroups("Cluster-B", "br100") == dict.fromkeys(CLUSTER_B, (100, "vSwitch0"))
    # One network in vCenter, seen by all three hosts.
    network = next(net for net in vsphere.all(vim.Network) if net.name == "br100")
    assert sorted(host.name for host in network.host) == CLUSTER_B
    assert not portgroup(vcenter, cluster="Cluster-B", name="br100", vlan_id=100).result["changed"]

    vsphere.hosts("Cluster-B")[0].configManager.networkSystem.UpdatePortGroup(
        "br100", vim.host.PortGroup.Specification(name="br100", vlanId=7, vswitchName="vSwitch0", policy=vim.host.NetworkPolicy()))
    update = portgroup(vcenter, check_mode=True, cluster="Cluster-B", name="br100", vlan_id=100)
    assert update.result["diff"]["before"]["esx-b1.lab.local"] == {"vlan_id": 7, "vswitch": "vSwitch0"}
    assert update.result["diff"]["before"]["esx-b2.lab.local"] == {"vlan_id": 100, "vswitch": "vSwitch0"}
    assert vsphere.portgroups("Cluster-B", "br100")["esx-b1.lab.local"] == (7, "vSwitch0")
    assert portgroup(vcenter, cluster="Cluster-B", name="br100", vlan_id=100).result["changed"]
    assert vsphere.portgroups("Cluster-B", "br100") == dict.fromkeys(CLUSTER_B, (100, "vSwitch0"))

    removed = portgroup(vcenter, cluster="Cluster-B", name="br100", state="absent")
    assert not removed.failed, removed.output
    assert removed.result["changed"]
    assert vsphere.portgroups("Cluster-B", "br100") == dict.fromkeys(CLUSTER_B)
    assert not any(net.name == "br100" for net in vsphere.all(vim.Network))
    assert not portgroup(vcenter, cluster="Cluster-B", name="br100", state="absent").result["changed"]


def test_standard_switch_missing(vcenter, vsphere):
    run = portgroup(vcenter, cluster="Cluster-B", name="br100", switch="vSwitch9")
    assert run.failed
    assert run.msg == ("Standard switch vSwitch9 does not exist on esx-b1.lab.local, esx-b2.lab.local, esx-b3.lab.local: "
                       "create it (with its uplinks) first.")


def test_vlan_out_of_range(vcenter):
    run = portgroup(vcenter, cluster="Cluster-B", name="br100", vlan_id=4095, switch_type="distributed", switch="dvs-lab")
    assert run.failed
    assert run.msg == "vlan_id must be between 0 and 4094, not 4095."


def test_distributed_create_reconfigure_destroy(vcenter, vsphere):
    args = dict(cluster="Cluster-A", name="br100", switch_type="distributed", switch="dvs-lab", vlan_id=100,
                port_binding="ephemeral")
    check = portgroup(vcenter, check_mode=True, **args)
    assert not check.failed, check.output
    assert check.result["diff"] == {"before": {}, "after": {"switch": "dvs-lab", "vlan_id": 100, "port_binding": "ephemeral"}}
    assert dv_portgroup(vsphere, "br100") is None

    assert portgroup(vcenter, **args).result["changed"]
    created = dv_portgroup(vsphere, "br100")
    assert (created.config.type, created.config.defaultPortConfig.vlan.vlanId) == ("ephemeral", 100)
    assert sorted(host.name for host in created.host) == ["esx-a1.lab.local", "esx-a2.lab.local", "esx-a3.lab.local"]
    assert not portgroup(vcenter, **args).result["changed"]

    # Ports and teaming set by an administrator survive: only the VLAN is sent.
    WaitForTask(created.ReconfigureDVPortgroup_Task(vim.dvs.DistributedVirtualPortgroup.ConfigSpec(
        configVersion=created.config.configVersion, numPorts=64, description="set by hand")))
    version = dv_portgroup(vsphere, "br100").config.configVersion
    changed = portgroup(vcenter, **{**args, "vlan_id": 200})
    assert changed.result["diff"]["before"]["vlan_id"] == 100 and changed.result["diff"]["after"]["vlan_id"] == 200
    config = dv_portgroup(vsphere, "br100").config
    assert (config.defaultPortConfig.vlan.vlanId, config.type, config.numPorts, config.description) == (
        200, "ephemeral", 64, "set by hand")
    assert int(config.configVersion) == int(version) + 1

    assert portgroup(vcenter, **{**args, "state": "absent"}).result["changed"]
    assert dv_portgroup(vsphere, "br100") is None
    assert not any(net.name == "br100" for net in vsphere.find(vim.ClusterComputeResource, "Cluster-A").network)
    assert not portgroup(vcenter, **{**args, "state": "absent"}).result["changed"]


def test_a_standard_port_group_may_share_its_name_with_a_distributed_one(vcenter, vsphere):
    # vCenter refuses a distributed port group named like another network, but cannot refuse
    # a port group defined on a host.
    distributed = portgroup(vcenter, cluster="Cluster-A", name="br100", switch_type="distributed", switch="dvs-lab")
    assert not distributed.failed, distributed.output
    standard = portgroup(vcenter, cluster="Cluster-B", name="br100", vlan_id=100)
    assert not standard.failed, standard.output
    assert vsphere.portgroups("Cluster-B", "br100") == dict.fromkeys(CLUSTER_B, (100, "vSwitch0"))
    assert dv_portgroup(vsphere, "br100") is not None


def test_distributed_switch_must_exist_and_span_the_cluster(vcenter, vsphere):
    missing = portgroup(vcenter, cluster="Cluster-A", name="br100", switch_type="distributed", switch="dvs-x")
    assert missing.failed
    assert missing.msg == "Distributed switch dvs-x not found in the datacenter; it has: dvs-lab."
    outside = portgroup(vcenter, cluster="Cluster-B", name="br100", switch_type="distributed", switch="dvs-lab")
    assert outside.failed
    assert outside.msg == ("Distributed switch dvs-lab does not span esx-b1.lab.local, esx-b2.lab.local, esx-b3.lab.local: "
                           "add those hosts (and their uplinks) to the switch first.")
    assert dv_portgroup(vsphere, "br100") is None
