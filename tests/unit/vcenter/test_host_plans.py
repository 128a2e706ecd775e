"""The planners of the host-level modules: firewall ruleset, port group, NFS datastore."""

import pytest

from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._common.errors import BackendError
from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._vcenter.firewall import check_required_ports, covers, plan_ruleset, port_ranges
from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._vcenter.nfs import plan_nfs
from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._vcenter.portgroup import plan_distributed, plan_standard

VNC = {"begin": 5900, "end": 6105, "protocol": "tcp"}


def ruleset(enabled, *ranges, protocol="tcp"):
    return {"enabled": enabled, "allowed_ip": "all",
            "rules": [{"port": low, "end_port": high, "direction": "inbound", "protocol": protocol} for low, high in ranges]}


def fw_host(name, rules, state="connected"):
    return {"moid": name, "name": name, "connection_state": state, "manager": "fw-" + name, "ruleset": rules}


def test_port_coverage_joins_adjacent_ranges():
    assert covers([(5900, 6000), (6001, 6105)], 5900, 6105)
    assert covers([(1000, 9999)], 5900, 6105)
    assert not covers([(5900, 6000), (6002, 6105)], 5900, 6105)
    assert not covers([], 5900, 5900)
    rules = ruleset(True, (80, 0), (5900, 9999))
    assert port_ranges(rules, "tcp") == [(80, 80), (5900, 9999)]
    assert port_ranges(rules, "udp") == []


@pytest.mark.parametrize("ports, message", [
    ({"begin": 6105, "end": 5900}, "required_ports begin 6105 is after end 5900: begin is the first port of the range, "
                                   "end the last."),
    ({"begin": 0, "end": 5900}, "required_ports begin 0 is not a port: give ports from 1 to 65535."),
    ({"begin": 5900, "end": 65536}, "required_ports end 65536 is not a port: give ports from 1 to 65535."),
])
def test_required_ports_that_are_no_range_are_refused(ports, message):
    with pytest.raises(BackendError) as error:
        check_required_ports(dict(ports, protocol="tcp"))
    assert str(error.value) == message


def test_required_ports_that_are_a_range_pass():
    check_required_ports(None)
    check_required_ports({"begin": 1, "end": 65535, "protocol": "tcp"})
    check_required_ports({"begin": 5900, "end": 5900, "protocol": "udp"})


def test_firewall_plan_switches_only_hosts_that_differ_and_skips_disconnected_ones():
    hosts = [fw_host("a", ruleset(False, (5900, 9999))), fw_host("b", ruleset(True, (5900, 9999))),
             fw_host("c", None, state="disconnected")]
    plan = plan_ruleset(hosts, "vnc", True, VNC)
    assert plan["problems"] == []
    assert [host["name"] for host in plan["changes"]] == ["a"]
    assert plan["before"] == {"a": False, "b": True} and plan["after"] == {"a": True, "b": True}
    assert plan["skipped"] == ["c"]
    assert plan["hosts"][0] == {"name": "a", "enabled": True, "inbound": ["5900-9999/tcp"], "allowed_ip": "all"}


def test_firewall_plan_fails_on_missing_ruleset_and_on_ports_it_does_not_open():
    hosts = [fw_host("a", None), fw_host("b", ruleset(False, (22, 0))), fw_host("c", ruleset(False, (22, 0)))]
    problems = plan_ruleset(hosts, "vnc", True, VNC)["problems"]
    assert problems[0].startswith("Firewall ruleset vnc is not defined on a. The vSphere API can only enable")
    assert problems[1] == "Firewall ruleset vnc opens 22/tcp inbound on b, c, not all of 5900-6105/tcp."
    # Disabling needs neither the ruleset everywhere nor a port check.
    assert plan_ruleset(hosts, "vnc", False, VNC)["problems"] == []


def net_host(name, portgroups=None, vswitches=("vSwitch0",), state="connected"):
    return {"moid": "m-" + name, "name": name, "connection_state": state, "manager": "ns-" + name,
            "vswitches": list(vswitches), "portgroups": portgroups or {}}


def test_standard_plan_adds_updates_and_removes_per_host():
    hosts = [net_host("a"), net_host("b", {"br100": {"vlan_id": 5, "vswitch": "vSwitch0"}}),
             net_host("c", {"br100": {"vlan_id": 100, "vswitch": "vSwitch0"}}), net_host("d", state="disconnected")]
    plan = plan_standard(hosts, "br100", "vSwitch0", 100, "present")
    assert [(item["action"], item["host"]["name"]) for item in plan["actions"]] == [("add", "a"), ("update", "b")]
    assert plan["before"]["a"] is None and plan["after"]["a"] == {"vlan_id": 100, "vswitch": "vSwitch0"}
    assert plan["skipped"] == ["d"]
    plan = plan_standard(hosts, "br100", "vSwitch0", 100, "absent")
    assert [(item["action"], item["host"]["name"]) for item in plan["actions"]] == [("remove", "b"), ("remove", "c")]


def test_standard_plan_fails_when_the_switch_is_missing():
    plan = plan_standard([net_host("a", vswitches=["vSwitch1"])], "br100", "vSwitch0", 0, "present")
    assert plan["problems"] == ["Standard switch vSwitch0 does not exist on a: create it (with its uplinks) first."]


SWITCHES = [{"moid": "dvs-1", "type": "VmwareDistributedVirtualSwitch", "name": "dvs-a", "members": ["m-a", "m-b"]},
            {"moid": "dvs-2", "type": "VmwareDistributedVirtualSwitch", "name": "dvs-b", "members": ["m-a"]}]


def dvpg(name, switch="dvs-1", vlan_id=100, binding="earlyBinding"):
    return {"moid": "pg-" + name, "name": name, "switch": switch, "binding": binding, "vlan_id": vlan_id, "config_version": "3"}


def distributed(portgroups, state="present", vlan_id=100, binding="static", switch="dvs-a", hosts=None):
    hosts = hosts or [net_host("a"), net_host("b")]
    return plan_distributed(SWITCHES, portgroups, hosts, "br100", switch, vlan_id, binding, state)


def test_distributed_plan_creates_reconfigures_only_what_changed_and_destroys():
    plan = distributed([])
    assert plan["action"] == "create" and plan["changes"] == {"vlan_id": 100, "port_binding": "static"}
    assert plan["before"] is None and plan["after"] == {"switch": "dvs-a", "vlan_id": 100, "port_binding": "static"}
    assert distributed([dvpg("br100")])["action"] is None
    plan = distributed([dvpg("br100", binding="ephemeral")])
    assert plan["action"] == "reconfigure" and plan["changes"] == {"port_binding": "static"}
    plan = distributed([dvpg("br100", vlan_id=None)], vlan_id=7)
    assert plan["changes"] == {"vlan_id": 7}
    assert distributed([dvpg("br100")], state="absent")["action"] == "destroy"
    assert distributed([], state="absent")["action"] is None


def test_distributed_plan_problems():
    assert distributed([], switch="dvs-x")["problems"] == [
        "Distributed switch dvs-x not found in the datacenter; it has: dvs-a, dvs-b."]
    assert distributed([dvpg("br100", switch="dvs-2")])["problems"] == [
        "Port group br100 already exists on distributed switch dvs-b, not on dvs-a."]
    plan = distributed([], switch="dvs-b")
    assert plan["problems"] == ["Distributed switch dvs-b does not span b: add those hosts (and their uplinks) "
                                "to the switch first."]
    # Removing needs no membership.
    assert distributed([dvpg("br100", switch="dvs-2")], state="absent", switch="dvs-b")["problems"] == []


def st_host(name, datastores=(), state="connected"):
    return {"moid": "m-" + name, "name": name, "connection_state": state, "manager": "dss-" + name, "datastores": list(datastores)}


NAS = {"moid": "ds-9", "name": "nfs-nova", "type": "NFS", "remote_host": "nfs.lab", "remote_path": "/nova"}
VMFS = {"moid": "ds-1", "name": "local", "type": "VMFS", "remote_host": None, "remote_path": None}


def test_nfs_plan_mounts_where_missing_and_unmounts_where_mounted():
    hosts = [st_host("a", ["ds-9"]), st_host("b"), st_host("c", state="disconnected")]
    plan = plan_nfs(hosts, [NAS, VMFS], "nfs-nova", "nfs.lab", "/nova", "3", "present")
    assert [host["name"] for host in plan["hosts"]] == ["b"]
    assert plan["before"] == {"mounted_on": ["a"]} and plan["after"] == {"mounted_on": ["a", "b"]}
    assert plan["skipped"] == ["c"]
    plan = plan_nfs(hosts, [NAS], "nfs-nova", None, None, "3", "absent")
    assert [host["name"] for host in plan["hosts"]] == ["a"] and plan["after"] == {"mounted_on": []}
    new = plan_nfs([st_host("a")], [], "nfs-new", "nfs.lab", "/new", "4.1", "present")
    assert new["datastore"] is None and [host["name"] for host in new["hosts"]] == ["a"]


def test_nfs_plan_refuses_a_name_taken_by_another_export_or_volume():
    plan = plan_nfs([st_host("a")], [NAS], "nfs-nova", "nfs.lab", "/other", "3", "present")
    assert plan["problems"] == ["Datastore nfs-nova already exists as nfs.lab:/nova (NFS), not nfs.lab:/other (NFS): "
                                "choose another name."]
    plan = plan_nfs([st_host("a")], [NAS], "nfs-nova", "nfs.lab", "/nova", "4.1", "present")
    assert "not nfs.lab:/nova (NFS41)" in plan["problems"][0]
    plan = plan_nfs([st_host("a")], [VMFS], "local", "nfs.lab", "/nova", "3", "present")
    assert plan["problems"] == ["Datastore local already exists as a VMFS volume, not nfs.lab:/nova (NFS): choose another name."]
