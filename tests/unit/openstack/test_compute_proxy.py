"""The proxy mapping checks, what nova shows of each proxy, and the plan of service and aggregate changes."""

import pytest

from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._openstack.compute_proxy import (
    apply_to_rows,
    check_mapping,
    check_resolved,
    conflicts,
    failures,
    nodename,
    observe,
    parse_nodename,
    plan,
    version_text,
    wanted_state,
)
from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._common.errors import BackendError

UUID = "dbed6e0c-bd88-4ef6-b594-21283e1c677f"
OTHER_VC = "11111111-2222-3333-4444-555555555555"
CLUSTERS = {UUID: {"domain-c10": "Cluster-A", "domain-c34": "Cluster-B"}}
PROXIES = [
    {"host": "proxy-a", "cluster": "Cluster-A", "cluster_moid": "domain-c10", "vcenter_uuid": UUID},
    {"host": "proxy-b", "cluster": "Cluster-B", "cluster_moid": "domain-c34", "vcenter_uuid": UUID},
]
VMWARE = "VMware vCenter Server"


def service(host, state="up", status="enabled", reason=None, zone="nova"):
    return {"id": "svc-" + host, "host": host, "state": state, "status": status, "disabled_reason": reason,
            "forced_down": False, "zone": zone, "updated_at": "2026-11-21T07:00:00.000000"}


def hypervisor(host, moid, uuid=UUID, kind=VMWARE, memory=294912):
    return {"id": "hyp-" + host + moid, "hypervisor_hostname": "%s.%s" % (moid, uuid), "hypervisor_type": kind,
            "hypervisor_version": 6005000, "state": "up", "status": "enabled", "vcpus": 120, "memory_mb": memory,
            "local_gb": 4096, "running_vms": 0, "service": {"host": host, "id": "svc-" + host}}


def rows_for(services, hypervisors, aggregates=(), registered=None):
    return observe(PROXIES, services, hypervisors, list(aggregates), CLUSTERS, registered)


def wanted(**overrides):
    state = {"enabled": True, "disabled_reason": None, "aggregate": None, "availability_zone": None}
    state.update(overrides)
    return {"proxy-a": dict(state), "proxy-b": dict(state)}


# --- names ------------------------------------------------------------------------------

def test_node_names_are_moid_dot_vcenter_uuid():
    assert nodename("domain-c10", UUID) == "domain-c10." + UUID
    assert parse_nodename("domain-c10." + UUID) == ("domain-c10", UUID)
    assert parse_nodename("kvm-compute-1") is None
    assert parse_nodename("kvm-1.example.com") is None
    assert parse_nodename(None) is None


def test_vcenter_versions_read_as_written():
    assert version_text(6005000) == "6.5.0"
    assert version_text(7000301) == "7.0.301"
    assert version_text(None) is None


# --- the mapping ------------------------------------------------------------------------

def test_a_cluster_with_two_proxies_is_refused_before_anything_runs():
    with pytest.raises(BackendError) as error:
        check_mapping([{"host": "proxy-a", "cluster": "Cluster-A"}, {"host": "proxy-b", "cluster": "Cluster-A"}])
    assert "Cluster-A is mapped to proxy-a and proxy-b" in str(error.value)
    assert "count it 2 times" in str(error.value)


def test_a_proxy_with_two_clusters_is_refused():
    with pytest.raises(BackendError) as error:
        check_mapping([{"host": "proxy-a", "cluster": "Cluster-A"}, {"host": "proxy-a", "cluster": "Cluster-B"}])
    assert "proxy-a is mapped to Cluster-A and Cluster-B" in str(error.value)
    assert error.value.details["problems"]


def test_one_proxy_per_cluster_passes():
    check_mapping([{"host": "proxy-a", "cluster": "Cluster-A"}, {"host": "proxy-b", "cluster": "Cluster-B"}])


def test_a_zone_needs_an_aggregate_and_entries_override_the_task():
    with pytest.raises(BackendError, match="needs an aggregate"):
        wanted_state({"host": "proxy-a", "availability_zone": "vmware"}, {})
    state = wanted_state({"host": "proxy-a", "aggregate": "gold"}, {"aggregate": "vmware", "availability_zone": "vmware"})
    assert state == {"enabled": True, "disabled_reason": None, "aggregate": "gold", "availability_zone": "vmware"}
    assert wanted_state({"host": "proxy-a", "enabled": False}, {})["enabled"] is False


# --- what nova shows --------------------------------------------------------------------

def test_healthy_proxies_report_service_hypervisor_and_cluster():
    rows = rows_for([service("proxy-a"), service("proxy-b")],
                    [hypervisor("proxy-a", "domain-c10"), hypervisor("proxy-b", "domain-c34", memory=147456)])
    assert [row["status"] for row in rows] == ["ok", "ok"]
    assert rows[0]["hypervisor"]["serves"] == {"cluster": "Cluster-A", "cluster_moid": "domain-c10",
                                               "vcenter_uuid": UUID, "this_vcenter": True}
    assert rows[0]["hypervisor"]["version"] == "6.5.0"
    assert rows[1]["hypervisor"]["memory_mb"] == 147456
    assert rows[0]["service"]["state"] == "up" and rows[0]["problems"] == []


def test_each_missing_piece_is_named():
    rows = rows_for([service("proxy-b", state="down")], [])
    assert rows[0]["status"] == "no_service" and "never started" in rows[0]["problems"][0]
    assert rows[1]["status"] == "down" and "is down" in rows[1]["problems"][0]

    rows = rows_for([service("proxy-a"), service("proxy-b")], [hypervisor("proxy-b", "domain-c34")])
    assert rows[0]["status"] == "no_hypervisor" and "never appeared" in rows[0]["problems"][0]


def test_a_registered_but_unmapped_hypervisor_says_to_discover_hosts():
    registered = {nodename("domain-c10", UUID): {"uuid": "rp-1", "inventories": {}}}
    rows = rows_for([service("proxy-a"), service("proxy-b")], [hypervisor("proxy-b", "domain-c34")],
                    registered=registered)
    assert rows[0]["status"] == "not_mapped"
    assert "discover_hosts" in rows[0]["problems"][0]


def test_a_proxy_driving_another_cluster_or_vcenter_or_hypervisor_is_wrong():
    rows = rows_for([service("proxy-a"), service("proxy-b")],
                    [hypervisor("proxy-a", "domain-c34"), hypervisor("proxy-b", "domain-c34", uuid=OTHER_VC)])
    assert [row["status"] for row in rows] == ["wrong_cluster", "wrong_cluster"]
    assert "drives Cluster-B (domain-c34), not Cluster-A" in rows[0]["problems"][0]
    assert "another vCenter" in rows[1]["problems"][0]

    rows = rows_for([service("proxy-a"), service("proxy-b")], [hypervisor("proxy-a", "kvm-1", kind="QEMU")])
    assert rows[0]["status"] == "wrong_cluster" and "not a VMware proxy" in rows[0]["problems"][0]


def test_the_expected_hypervisor_wins_over_a_stale_one_of_the_same_host():
    rows = rows_for([service("proxy-a"), service("proxy-b")],
                    [hypervisor("proxy-a", "domain-c99"), hypervisor("proxy-a", "domain-c10"),
                     hypervisor("proxy-b", "domain-c34")])
    assert rows[0]["status"] == "ok" and rows[0]["hypervisor"]["serves"]["cluster_moid"] == "domain-c10"


def test_two_services_claiming_one_cluster_are_a_conflict():
    hypervisors = [hypervisor("proxy-a", "domain-c10"), hypervisor("rogue", "domain-c10"),
                   hypervisor("other-vc", "domain-c10", uuid=OTHER_VC), hypervisor("kvm", "x", kind="QEMU"),
                   hypervisor("proxy-b", "domain-c34")]
    found = conflicts(hypervisors, CLUSTERS)
    assert found == [{"cluster": "Cluster-A", "cluster_moid": "domain-c10", "vcenter_uuid": UUID,
                      "nodename": nodename("domain-c10", UUID), "hosts": ["proxy-a", "rogue"]}]
    problems = failures(rows_for([service("proxy-a"), service("proxy-b")], hypervisors), found)
    assert len(problems) == 1 and "claimed by 2 nova-compute services, proxy-a, rogue" in problems[0]


# --- several vCenters --------------------------------------------------------------------

def test_the_same_cluster_name_in_two_vcenters_is_two_clusters():
    check_mapping([{"host": "proxy-a", "cluster": "Cluster-A", "vcenter": "vc1.example.com:443"},
                   {"host": "proxy-2a", "cluster": "Cluster-A", "vcenter": "vc2.example.com:443"}])
    with pytest.raises(BackendError, match="Cluster-A of vc1.example.com:443 is mapped to proxy-a and proxy-x"):
        check_mapping([{"host": "proxy-a", "cluster": "Cluster-A", "vcenter": "vc1.example.com:443"},
                       {"host": "proxy-x", "cluster": "Cluster-A", "vcenter": "vc1.example.com:443"},
                       {"host": "proxy-2a", "cluster": "Cluster-A", "vcenter": "vc2.example.com:443"}])
    with pytest.raises(BackendError, match="proxy-a is mapped to Cluster-A of vc1.example.com:443 and Cluster-A of vc2"):
        check_mapping([{"host": "proxy-a", "cluster": "Cluster-A", "vcenter": "vc1.example.com:443"},
                       {"host": "proxy-a", "cluster": "Cluster-A", "vcenter": "vc2.example.com:443"}])


def test_one_cluster_reached_through_two_vcenter_addresses_is_refused():
    distinct = [dict(PROXIES[0], vcenter="vc1:443"),
                dict(PROXIES[0], host="proxy-2a", vcenter="vc2:443", vcenter_uuid=OTHER_VC)]
    check_resolved(distinct)
    same = [dict(PROXIES[0], vcenter="vc1:443"), dict(PROXIES[0], host="proxy-2a", vcenter="10.0.0.5:443")]
    with pytest.raises(BackendError, match=r"Cluster-A \(domain-c10\) of vCenter %s, reached as 10.0.0.5:443 and "
                                           r"vc1:443 .* is mapped to proxy-2a and proxy-a" % UUID):
        check_resolved(same)


def test_each_proxy_is_judged_against_its_own_vcenter():
    clusters = {UUID: CLUSTERS[UUID], OTHER_VC: {"domain-c10": "Cluster-A"}}
    proxies = PROXIES + [{"host": "proxy-2a", "cluster": "Cluster-A", "cluster_moid": "domain-c10",
                          "vcenter_uuid": OTHER_VC}]
    hypervisors = [hypervisor("proxy-a", "domain-c10"), hypervisor("proxy-b", "domain-c34"),
                   hypervisor("proxy-2a", "domain-c10", uuid=OTHER_VC)]
    services = [service("proxy-a"), service("proxy-b"), service("proxy-2a")]
    rows = observe(proxies, services, hypervisors, [], clusters)
    assert [row["status"] for row in rows] == ["ok", "ok", "ok"]
    assert rows[2]["nodename"] == nodename("domain-c10", OTHER_VC)
    assert rows[2]["hypervisor"]["serves"] == {"cluster": "Cluster-A", "cluster_moid": "domain-c10",
                                               "vcenter_uuid": OTHER_VC, "this_vcenter": True}
    assert conflicts(hypervisors, clusters) == []

    # proxy-2a configured for the first vCenter instead: it drives a cluster of another vCenter
    rows = observe(proxies[:2] + [dict(proxies[2], vcenter_uuid=UUID, cluster="Cluster-A")],
                   services[:2] + [service("proxy-2a")], hypervisors, [], clusters)
    assert rows[2]["status"] == "wrong_cluster" and OTHER_VC in rows[2]["problems"][0]


def test_a_double_count_is_found_in_every_vcenter_of_the_mapping():
    clusters = {UUID: CLUSTERS[UUID], OTHER_VC: {"domain-c10": "Cluster-A"}}
    hypervisors = [hypervisor("proxy-a", "domain-c10"), hypervisor("proxy-2a", "domain-c10", uuid=OTHER_VC),
                   hypervisor("rogue", "domain-c10", uuid=OTHER_VC)]
    assert [(item["vcenter_uuid"], item["hosts"]) for item in conflicts(hypervisors, clusters)] == [
        (OTHER_VC, ["proxy-2a", "rogue"])]
    assert conflicts(hypervisors, {UUID: CLUSTERS[UUID]}) == []


def test_aggregates_and_zone_are_reported():
    aggregates = [{"id": 1, "name": "vmware", "availability_zone": "vmware", "hosts": ["proxy-a"]}]
    rows = rows_for([service("proxy-a", zone="vmware"), service("proxy-b")],
                    [hypervisor("proxy-a", "domain-c10"), hypervisor("proxy-b", "domain-c34")], aggregates)
    assert rows[0]["aggregates"] == ["vmware"] and rows[0]["availability_zone"] == "vmware"
    assert rows[1]["aggregates"] == []


# --- the plan ---------------------------------------------------------------------------

HEALTHY = ([service("proxy-a"), service("proxy-b")],
           [hypervisor("proxy-a", "domain-c10"), hypervisor("proxy-b", "domain-c34")])


def test_nothing_to_do_when_everything_is_as_wanted():
    aggregates = [{"id": 1, "name": "vmware", "availability_zone": "vmware", "hosts": ["proxy-a", "proxy-b"]}]
    rows = rows_for(*HEALTHY, aggregates)
    assert plan(rows, wanted(aggregate="vmware", availability_zone="vmware"), aggregates) == ([], {}, {})


def test_a_missing_aggregate_is_created_once_and_both_proxies_added():
    rows = rows_for(*HEALTHY)
    actions, before, after = plan(rows, wanted(aggregate="vmware", availability_zone="vmware"), [])
    assert actions == [
        {"action": "create_aggregate", "aggregate": "vmware", "availability_zone": "vmware"},
        {"action": "add_host", "aggregate": "vmware", "host": "proxy-a"},
        {"action": "add_host", "aggregate": "vmware", "host": "proxy-b"},
    ]
    assert before["proxy-a"] == {"aggregates": [], "availability_zone": "nova"}
    assert after["proxy-a"] == {"aggregates": ["vmware"], "availability_zone": "vmware"}
    shown = apply_to_rows(rows, after)
    assert shown[1]["aggregates"] == ["vmware"] and shown[1]["service"]["zone"] == "vmware"


def test_disabling_keeps_or_sets_the_reason_and_enabling_clears_it():
    rows = rows_for([service("proxy-a", status="disabled", reason="set by vmwareapi host_state"),
                     service("proxy-b")], HEALTHY[1])
    state = wanted()
    state["proxy-b"].update(enabled=False, disabled_reason="vSphere upgrade")
    actions, before, after = plan(rows, state, [])
    assert actions == [
        {"action": "enable", "host": "proxy-a", "service_id": "svc-proxy-a", "disabled_reason": None},
        {"action": "disable", "host": "proxy-b", "service_id": "svc-proxy-b", "disabled_reason": "vSphere upgrade"},
    ]
    assert before["proxy-a"] == {"status": "disabled", "disabled_reason": "set by vmwareapi host_state"}
    assert after["proxy-b"] == {"status": "disabled", "disabled_reason": "vSphere upgrade"}

    rows = rows_for([service("proxy-a", status="disabled", reason="maintenance"), service("proxy-b")], HEALTHY[1])
    state = wanted()
    state["proxy-a"].update(enabled=False)
    assert plan(rows, state, [])[0] == []


def test_nova_refusals_are_caught_before_anything_changes():
    rows = rows_for(*HEALTHY)
    with pytest.raises(BackendError, match="aggregate vmware is in availability zone az1, not vmware"):
        plan(rows, wanted(aggregate="vmware", availability_zone="vmware"),
             [{"id": 1, "name": "vmware", "availability_zone": "az1", "hosts": []}])
    with pytest.raises(BackendError, match="proxy-a is in availability zone az1 already"):
        plan(rows, wanted(aggregate="vmware", availability_zone="vmware"),
             [{"id": 2, "name": "legacy", "availability_zone": "az1", "hosts": ["proxy-a"]}])


def test_hosts_nova_does_not_show_yet_are_left_for_the_next_run():
    rows = rows_for([service("proxy-a")], [])
    actions, _before, _after = plan(rows, wanted(aggregate="vmware"), [])
    assert actions == []
