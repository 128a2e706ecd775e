"""Publishing the capacity feed: which nodes, the aggregate/traits/flavor plan, and the calls with their undoing."""

from datetime import datetime, timezone

import pytest

from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._common.errors import BackendError
from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._common.runner import journal
from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._openstack import capacity_publish, placement
from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._vcenter import capacity

UUID = "5b6f2a49-3c1d-4a8e-9f0b-7e2d1c4b5a69"
OTHER = "11111111-2222-3333-4444-555555555555"
VMWARE = "VMware vCenter Server"
CLUSTERS = {"domain-c7": "Cluster-A", "domain-c9": "Cluster-B"}
NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=timezone.utc)


def hypervisor(name, host, kind=VMWARE, rp="rp-"):
    return {"id": rp + host, "hypervisor_hostname": name, "hypervisor_type": kind, "service": {"host": host}}


HYPERVISORS = [
    hypervisor("domain-c7." + UUID, "vmware-proxy-a"),
    hypervisor("domain-c9." + UUID, "vmware-proxy-b"),
    hypervisor("domain-c7." + OTHER, "other-vcenter-proxy"),
    hypervisor("kvm-compute-1", "kvm-compute-1", kind="QEMU"),
]


def test_managed_nodes_are_this_vcenters_proxied_clusters():
    nodes = capacity_publish.managed_nodes(HYPERVISORS, UUID, CLUSTERS)
    assert [(node["host"], node["cluster"], node["provider"], node["aggregate"]) for node in nodes] == [
        ("vmware-proxy-a", "Cluster-A", "rp-vmware-proxy-a", "vsphere-capacity-vmware-proxy-a"),
        ("vmware-proxy-b", "Cluster-B", "rp-vmware-proxy-b", "vsphere-capacity-vmware-proxy-b")]
    only = capacity_publish.managed_nodes(HYPERVISORS, UUID, CLUSTERS, {"domain-c9": "Cluster-B"})
    assert [node["host"] for node in only] == ["vmware-proxy-b"]


def test_a_named_cluster_without_a_proxy_is_an_error():
    with pytest.raises(BackendError, match=r"No nova-compute proxy drives Cluster-C \(domain-c11\) .*domain-c11\." + UUID):
        capacity_publish.managed_nodes(HYPERVISORS, UUID, dict(CLUSTERS, **{"domain-c11": "Cluster-C"}),
                                       {"domain-c11": "Cluster-C"})


def test_a_cluster_claimed_by_two_services_is_an_error():
    doubled = HYPERVISORS + [hypervisor("domain-c7." + UUID, "vmware-proxy-rogue", rp="x-")]
    with pytest.raises(BackendError, match="Cluster-A .* vmware-proxy-a, vmware-proxy-rogue"):
        capacity_publish.managed_nodes(doubled, UUID, CLUSTERS)


NODE = capacity_publish.managed_nodes(HYPERVISORS, UUID, CLUSTERS)[0]
FIGURES = capacity.node_figures(NODE["node"], [
    {"moid": "h1", "name": "esx-a1", "connection_state": "connected", "maintenance_mode": False,
     "memory_mb": 65536, "memory_used_mb": 24576, "cpu_threads": 32}], [], None, 4.0)
WANTED = capacity.metadata(FIGURES, capacity.timestamp(NOW))
WANTED_TRAITS = capacity.wanted_traits(FIGURES["largest_free_ram_mb"], list(capacity.DEFAULT_BUCKETS_GB))


def test_a_new_node_gets_its_aggregate_host_metadata_and_traits():
    plan = capacity_publish.plan_node(NODE, None, WANTED, NOW, 300, ["COMPUTE_NODE"], WANTED_TRAITS)
    assert [step[0] for step in plan["aggregate_steps"]] == ["create", "add_host", "set_metadata"]
    assert plan["aggregate_steps"][2][1] == WANTED
    assert plan["before"] == {}
    assert plan["after"]["hosts"] == ["vmware-proxy-a"] and plan["after"]["metadata"] == WANTED
    assert plan["traits_after"] == sorted(["COMPUTE_NODE"] + WANTED_TRAITS)
    assert "CUSTOM_VSPHERE_NOFIT_RAM_48G" in plan["traits_after"]  # 40 GiB free on the only host
    assert "CUSTOM_VSPHERE_NOFIT_RAM_32G" not in plan["traits_after"]
    changes = capacity_publish.describe_node(plan)
    assert changes[0] == "vmware-proxy-a: create aggregate vsphere-capacity-vmware-proxy-a"
    assert changes[-1] == "vmware-proxy-a: set traits of resource provider domain-c7." + UUID


def existing(metadata, hosts=("vmware-proxy-a",)):
    return {"id": 3, "name": NODE["aggregate"], "availability_zone": None, "hosts": list(hosts),
            "metadata": dict(metadata)}


def test_a_second_run_with_the_same_figures_writes_nothing():
    traits = sorted(WANTED_TRAITS + ["COMPUTE_NODE"])
    later = datetime(2026, 12, 1, 12, 2, 0, tzinfo=timezone.utc)
    fresh = dict(WANTED, vsphere_capacity_updated_at=capacity.timestamp(later))
    plan = capacity_publish.plan_node(NODE, existing(WANTED), fresh, later, 300, traits, WANTED_TRAITS)
    assert plan["aggregate_steps"] == [] and plan["traits_after"] == plan["traits_before"]
    assert capacity_publish.describe_node(plan) == []
    assert plan["before"] == plan["after"]


def test_stale_or_changed_figures_are_rewritten_other_keys_and_hosts_handled():
    later = datetime(2026, 12, 1, 12, 10, 0, tzinfo=timezone.utc)
    fresh = dict(WANTED, vsphere_capacity_updated_at=capacity.timestamp(later))
    current = existing(dict(WANTED, ram_weight_multiplier="2.0"), hosts=["vmware-proxy-a", "stray"])
    plan = capacity_publish.plan_node(NODE, current, fresh, later, 300, [], WANTED_TRAITS)
    assert plan["aggregate_steps"] == [("remove_host", "stray"),
                                       ("set_metadata", {"vsphere_capacity_updated_at": "2026-12-01T12:10:00Z"})]
    assert plan["why"] == "figures older than 300 s"
    assert "ram_weight_multiplier" not in plan["after"]["metadata"]  # not ours: neither shown nor touched
    changed = dict(fresh, vsphere_capacity_free_ram_mb="1")
    plan = capacity_publish.plan_node(NODE, existing(WANTED), changed, NOW, 300, [], WANTED_TRAITS)
    assert plan["aggregate_steps"] == [("set_metadata", {"vsphere_capacity_updated_at": "2026-12-01T12:10:00Z",
                                                         "vsphere_capacity_free_ram_mb": "1"})]


def test_only_missing_traits_are_created():
    known = ["CUSTOM_VSPHERE_CAPACITY", "CUSTOM_VSPHERE_NOFIT_RAM_1G"]
    assert capacity_publish.plan_traits(known, [1, 2]) == ["CUSTOM_VSPHERE_NOFIT_RAM_2G"]


FLAVORS = [{"id": "f1", "name": "m1.big", "ram": 10240,
            "extra_specs": {"trait:CUSTOM_VSPHERE_NOFIT_RAM_8G": "forbidden", "hw:mem_page_size": "large"}},
           {"id": "f2", "name": "m1.tiny", "ram": 512, "extra_specs": {"trait:CUSTOM_VSPHERE_NOFIT_RAM_1G": "forbidden"}},
           {"id": "f3", "name": "m1.huge", "ram": 300 * 1024, "extra_specs": {}}]


def test_flavor_plan_and_its_refusals():
    before, after, steps = capacity_publish.plan_flavors(FLAVORS, ["m1.big", "m1.tiny"], [1, 2, 4, 8, 12])
    assert before["m1.big"] == {"trait:CUSTOM_VSPHERE_NOFIT_RAM_8G": "forbidden"}
    assert after == {"m1.big": {"trait:CUSTOM_VSPHERE_NOFIT_RAM_12G": "forbidden"},
                     "m1.tiny": {"trait:CUSTOM_VSPHERE_NOFIT_RAM_1G": "forbidden"}}
    assert list(steps) == ["m1.big"]
    assert steps["m1.big"][1] == [("set_extra_specs", {"trait:CUSTOM_VSPHERE_NOFIT_RAM_12G": "forbidden"}),
                                  ("delete_extra_spec", "trait:CUSTOM_VSPHERE_NOFIT_RAM_8G")]
    with pytest.raises(BackendError, match="flavor m1.gone does not exist; Flavor m1.huge has 307200 MB"):
        capacity_publish.plan_flavors(FLAVORS, ["m1.gone", "m1.huge"], [1, 2])


class FakeClient:
    """Records every call; answers as nova and placement do; fails the call whose doing contains ``fail``."""

    def __init__(self, fail=None, times=99):
        self.calls = []
        self.fail, self.times = fail, times
        self.generation = 7

    def request(self, service, method, path, microversion=None, json=None, doing=None):
        self.calls.append((service, method, path, microversion, json))
        if self.fail and self.fail in doing and self.times > 0:
            self.times -= 1
            self.generation += 1  # as when nova-compute wrote in between
            raise BackendError("nova refused to %s (HTTP 409)" % doing)
        if path.endswith("/traits") and method == "GET":
            return {"traits": ["COMPUTE_NODE", "CUSTOM_OPERATOR", "CUSTOM_VSPHERE_NOFIT_RAM_1G"],
                    "resource_provider_generation": self.generation}
        if path == "/os-aggregates" and method == "POST":
            return {"aggregate": {"id": 9, "name": json["aggregate"]["name"], "hosts": [], "metadata": {}}}
        if path.endswith("/action"):
            return {"aggregate": {"id": 9, "name": NODE["aggregate"], "hosts": [NODE["host"]], "metadata": WANTED}}
        if path.endswith("/traits") and method == "PUT":
            return {"traits": json["traits"], "resource_provider_generation": json["resource_provider_generation"] + 1}
        return None


def new_node_plan():
    return capacity_publish.plan_node(NODE, None, WANTED, NOW, 300, ["COMPUTE_NODE"], WANTED_TRAITS)


def test_apply_creates_traits_first_then_the_aggregate_then_sets_traits_at_the_read_generation():
    client = FakeClient()
    plan = new_node_plan()
    _before, _after, steps = capacity_publish.plan_flavors(FLAVORS, ["m1.big"], list(capacity.DEFAULT_BUCKETS_GB))
    with journal() as record:
        reported = capacity_publish.apply(client, [plan], ["CUSTOM_VSPHERE_CAPACITY"], steps, "2.86", record)
    assert reported[NODE["host"]]["metadata"] == WANTED
    calls = [(service, method, path) for service, method, path, _mv, _json in client.calls]
    assert calls == [
        ("placement", "PUT", "/traits/CUSTOM_VSPHERE_CAPACITY"),
        ("compute", "POST", "/os-aggregates"),
        ("compute", "POST", "/os-aggregates/9/action"),
        ("compute", "POST", "/os-aggregates/9/action"),
        ("placement", "GET", "/resource_providers/rp-vmware-proxy-a/traits"),
        ("placement", "PUT", "/resource_providers/rp-vmware-proxy-a/traits"),
        ("compute", "POST", "/flavors/f1/os-extra_specs"),
        ("compute", "DELETE", "/flavors/f1/os-extra_specs/trait:CUSTOM_VSPHERE_NOFIT_RAM_8G"),
    ]
    microversions = {path: microversion for _service, _method, path, microversion, _json in client.calls}
    assert microversions["/traits/CUSTOM_VSPHERE_CAPACITY"] == placement.MICROVERSIONS["traits"] == "1.6"
    assert microversions["/flavors/f1/os-extra_specs"] == "2.86"
    put = client.calls[5][4]
    # The generation read right before the write (adding the host to the aggregate moved it in placement),
    # the provider's other traits kept, ours replaced.
    assert put == {"traits": sorted(["COMPUTE_NODE", "CUSTOM_OPERATOR"] + WANTED_TRAITS), "resource_provider_generation": 7}
    assert record.changes[-1] == "flavor m1.big: delete_extra_spec trait:CUSTOM_VSPHERE_NOFIT_RAM_8G"


def test_a_generation_conflict_is_read_and_written_again():
    client = FakeClient(fail="set the traits", times=2)
    with journal() as record:
        capacity_publish.apply(client, [new_node_plan()], [], {}, None, record)
    puts = [json for _service, method, path, _mv, json in client.calls if method == "PUT"]
    assert [put["resource_provider_generation"] for put in puts] == [7, 8, 9]
    assert record.changes[-1] == "set traits of resource provider domain-c7." + UUID


def test_a_failed_write_deletes_the_aggregate_this_run_created():
    client = FakeClient(fail="set the traits")
    with pytest.raises(BackendError) as failure:
        with journal() as record:
            capacity_publish.apply(client, [new_node_plan()], [], {}, None, record)
    assert "Undone: deleted aggregate vsphere-capacity-vmware-proxy-a (9)" in str(failure.value)
    assert failure.value.details["changed"] is False
    assert client.calls[-1][1:3] == ("DELETE", "/os-aggregates/9")
    assert ("compute", "POST", "/os-aggregates/9/action", "2.41", {"remove_host": {"host": "vmware-proxy-a"}}) in client.calls


def test_a_failed_write_on_existing_aggregates_reports_what_was_done():
    client = FakeClient(fail="set the traits")
    later = datetime(2026, 12, 1, 12, 10, 0, tzinfo=timezone.utc)
    plan = capacity_publish.plan_node(NODE, existing(WANTED), dict(WANTED, vsphere_capacity_updated_at="x"), later,
                                      300, [], WANTED_TRAITS)
    with pytest.raises(BackendError) as failure:
        with journal() as record:
            capacity_publish.apply(client, [plan], [], {}, None, record)
    assert failure.value.details["changed"] is True
    assert "Done before the failure: set_metadata" in str(failure.value)
