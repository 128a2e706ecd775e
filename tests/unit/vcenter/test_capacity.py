"""The capacity feed's domain: per-host free room, the Pareto frontier, HA's failover reserve, the metadata and traits;
and its reads, which stay one call per object kind whatever the size of the vCenter."""

from datetime import datetime, timedelta, timezone

import pytest
from pyVmomi import vim

from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._common.errors import BackendError
from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._vcenter import capacity
from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._vcenter.capacity_reads import (
    ha_settings,
    read_capacity_inputs,
)

GIB = 1024


def host(moid, memory_gb, used_gb, threads, state="connected", maintenance=False):
    return {"moid": moid, "name": "esx-" + moid, "parent": "domain-c1", "connection_state": state,
            "maintenance_mode": maintenance, "memory_mb": memory_gb * GIB, "memory_used_mb": used_gb * GIB,
            "cpu_threads": threads}


def vm(on_host, vcpus, memory_gb=1, power="poweredOn", template=False):
    return {"moid": "vm-x", "host": on_host, "power_state": power, "template": template, "vcpus": vcpus,
            "memory_mb": memory_gb * GIB}


HOSTS = [host("h1", 64, 24, 32), host("h2", 128, 40, 48), host("h3", 96, 16, 40)]
HA_OFF = {"enabled": False, "admission_control_enabled": True, "failover_level": 1, "policy": None}


def das(policy=None, enabled=True, admission=True, failover_level=None):
    return {"enabled": enabled, "admission_control_enabled": admission, "failover_level": failover_level,
            "policy": policy}


def test_free_room_is_vcenter_usage_and_booked_vcpus_of_powered_on_vms_only():
    vms = [vm("h1", 8), vm("h1", 4), vm("h1", 16, power="poweredOff"), vm("h1", 2, template=True), vm(None, 4),
           vm("h2", 10)]
    rows = {row["moid"]: row for row in capacity.host_figures(HOSTS, capacity.host_loads(vms), 4.0)}
    assert rows["h1"]["free_ram_mb"] == 40 * GIB
    assert (rows["h1"]["vcpu_capacity"], rows["h1"]["vcpus_used"], rows["h1"]["free_vcpus"]) == (128, 12, 116)
    assert rows["h2"]["free_vcpus"] == 48 * 4 - 10
    assert rows["h3"]["vcpus_used"] == 0


def test_overcommitted_hosts_have_no_room_rather_than_negative_room():
    rows = capacity.host_figures([host("h1", 8, 9, 2)], capacity.host_loads([vm("h1", 5)]), 1.5)
    assert (rows[0]["vcpu_capacity"], rows[0]["free_ram_mb"], rows[0]["free_vcpus"]) == (3, 0, 0)


def test_pareto_frontier_drops_dominated_and_equal_pairs_sorted_by_ram():
    pairs = [(100, 4), (80, 10), (80, 8), (100, 4), (50, 10), (40, 40), (100, 2), (30, 1)]
    assert capacity.pareto_frontier(pairs) == [(100, 4), (80, 10), (40, 40)]
    assert capacity.pareto_frontier([]) == []


def test_hosts_text_keeps_the_largest_ram_entries_that_fit():
    frontier = [(100000 - i, i) for i in range(40)]
    text = capacity.hosts_text(frontier)
    assert len(text) <= capacity.VALUE_LIMIT
    entries = text.split(" ")
    assert entries[0] == "100000:0" and 20 < len(entries) < 40
    assert entries == ["%d:%d" % pair for pair in frontier[:len(entries)]]


@pytest.mark.parametrize("settings,expected", [
    (None, {"kind": "none", "why": "HA disabled"}),
    (HA_OFF, {"kind": "none", "why": "HA disabled"}),
    (das(admission=False), {"kind": "none", "why": "admission control disabled"}),
    (das(), {"kind": "failover_level", "level": 1}),
    (das(failover_level=2), {"kind": "failover_level", "level": 2}),
    (das({"kind": "failover_level", "level": 3}), {"kind": "failover_level", "level": 3}),
    (das({"kind": "resources_percent", "memory_percent": 25, "cpu_percent": 10, "auto_compute": False}),
     {"kind": "resources_percent", "memory_percent": 25, "cpu_percent": 10}),
    (das({"kind": "resources_percent", "memory_percent": 33, "cpu_percent": 33, "auto_compute": True, "level": 2}),
     {"kind": "failover_level", "level": 2}),
    (das({"kind": "failover_hosts", "hosts": ["h3", "h1"]}), {"kind": "failover_hosts", "hosts": ["h1", "h3"]}),
])
def test_admission_policy(settings, expected):
    assert capacity.admission_policy(settings) == expected


def figures(settings, hosts=None, vms=(), ratio=4.0):
    return capacity.node_figures("domain-c1.uuid", hosts or HOSTS, list(vms), settings, ratio)


def test_failover_level_reserves_the_largest_hosts_ram_and_vcpus():
    one, two = figures(das(failover_level=1)), figures(das({"kind": "failover_level", "level": 2}))
    assert (one["reserved_ram_mb"], one["reserved_vcpus"]) == (128 * GIB, 48 * 4)
    assert (two["reserved_ram_mb"], two["reserved_vcpus"]) == ((128 + 96) * GIB, (48 + 40) * 4)
    free = (40 + 88 + 80) * GIB
    assert one["free_ram_mb"] == free - 128 * GIB
    assert two["free_ram_mb"] == 0  # 224 GiB reserved of 208 free: floored
    assert one["free_vcpus"] == (32 + 48 + 40) * 4 - 48 * 4


def test_resources_percent_reserves_that_share_of_the_totals_rounded_up():
    result = figures(das({"kind": "resources_percent", "memory_percent": 25, "cpu_percent": 10, "auto_compute": False}))
    assert result["reserved_ram_mb"] == 288 * GIB // 4
    assert result["reserved_vcpus"] == 48  # ceil(480 * 0.1)
    odd = figures(das({"kind": "resources_percent", "memory_percent": 1, "cpu_percent": 1, "auto_compute": False}),
                  hosts=[host("h1", 1, 0, 1)])
    assert (odd["reserved_ram_mb"], odd["reserved_vcpus"]) == (11, 1)


def test_failover_hosts_reserve_their_size_and_are_not_offered():
    result = figures(das({"kind": "failover_hosts", "hosts": ["h2"]}), vms=[vm("h3", 100)])
    assert result["reserved_ram_mb"] == 128 * GIB
    assert result["frontier"] == [(80 * GIB, 60), (40 * GIB, 128)]
    assert result["largest_free_ram_mb"] == 80 * GIB  # h2 has 88 GiB free but is not offered


def test_hosts_in_maintenance_or_disconnected_count_for_nothing():
    hosts = HOSTS + [host("h4", 512, 0, 64, maintenance=True), host("h5", 512, 0, 64, state="disconnected")]
    result = figures(HA_OFF, hosts=hosts)
    assert result["largest_free_ram_mb"] == 88 * GIB
    assert result["free_ram_mb"] == (40 + 88 + 80) * GIB
    assert len(result["hosts"]) == 5 and [row["usable"] for row in result["hosts"]].count(False) == 2
    level = figures(das(failover_level=1), hosts=hosts)
    assert level["reserved_ram_mb"] == 128 * GIB


def test_metadata_follows_the_contract():
    result = figures(das(failover_level=1), vms=[vm("h2", 100)])
    metadata = capacity.metadata(result, "2026-12-01T12:00:00Z")
    assert metadata == {
        "vsphere_capacity_version": "1",
        "vsphere_capacity_node": "domain-c1.uuid",
        "vsphere_capacity_updated_at": "2026-12-01T12:00:00Z",
        "vsphere_capacity_hosts": "90112:92 81920:160",  # h1 (40960:128) is dominated by h3
        "vsphere_capacity_largest_free_ram_mb": "90112",
        "vsphere_capacity_free_ram_mb": str((40 + 88 + 80 - 128) * GIB),
        "vsphere_capacity_free_vcpus": str(128 + 92 + 160 - 192),
        "vsphere_capacity_reserved_ram_mb": str(128 * GIB),
        "vsphere_capacity_reserved_vcpus": "192",
    }
    assert all(isinstance(value, str) and len(value) <= 255 for value in metadata.values())


def test_a_cluster_without_usable_hosts_publishes_zeros():
    result = figures(HA_OFF, hosts=[host("h1", 64, 0, 8, maintenance=True)])
    metadata = capacity.metadata(result, "2026-12-01T12:00:00Z")
    assert metadata["vsphere_capacity_hosts"] == "" and metadata["vsphere_capacity_largest_free_ram_mb"] == "0"


NOW = datetime(2026, 12, 1, 12, 0, 0, tzinfo=timezone.utc)


def published(age_seconds, **changes):
    result = capacity.metadata(figures(HA_OFF), capacity.timestamp(NOW - timedelta(seconds=age_seconds)))
    result.update(changes)
    return result


def test_rewrite_when_figures_change_or_grow_stale_not_otherwise():
    wanted = capacity.metadata(figures(HA_OFF), capacity.timestamp(NOW))
    assert capacity.needs_rewrite(published(10), wanted, NOW, 300) == (False, "figures unchanged, 10 s old")
    assert capacity.needs_rewrite(published(300), wanted, NOW, 300)[0]
    changed = capacity.needs_rewrite(published(10, vsphere_capacity_free_ram_mb="1"), wanted, NOW, 300)
    assert changed == (True, "figures changed: free_ram_mb")
    assert capacity.needs_rewrite({}, wanted, NOW, 300)[0]
    assert capacity.needs_rewrite(published(10, vsphere_capacity_updated_at="yesterday"), wanted, NOW, 300) == (
        True, "no readable timestamp")
    assert capacity.needs_rewrite(published(-60), wanted, NOW, 300) == (True, "timestamp in the future")


def test_timestamps_are_utc_in_the_contracts_format():
    local = datetime(2026, 12, 1, 13, 0, 5, tzinfo=timezone(timedelta(hours=1)))
    assert capacity.timestamp(local) == "2026-12-01T12:00:05Z"
    assert capacity.parse_timestamp("2026-12-01T12:00:05Z") == datetime(2026, 12, 1, 12, 0, 5, tzinfo=timezone.utc)
    assert capacity.parse_timestamp(None) is None


BUCKETS = list(capacity.DEFAULT_BUCKETS_GB)


def test_nofit_traits_for_every_bucket_larger_than_the_largest_free_host():
    traits = capacity.wanted_traits(6 * GIB, BUCKETS)
    assert "CUSTOM_VSPHERE_CAPACITY" in traits
    assert "CUSTOM_VSPHERE_NOFIT_RAM_6G" not in traits and "CUSTOM_VSPHERE_NOFIT_RAM_8G" in traits
    assert len(traits) == 1 + len([bucket for bucket in BUCKETS if bucket > 6])
    assert capacity.wanted_traits(0, [1]) == ["CUSTOM_VSPHERE_CAPACITY", "CUSTOM_VSPHERE_NOFIT_RAM_1G"]


def test_traits_after_keeps_other_traits_and_replaces_ours():
    current = ["COMPUTE_NET_ATTACH_INTERFACE", "CUSTOM_VSPHERE_NOFIT_RAM_4G", "CUSTOM_OPERATOR"]
    assert capacity.traits_after(current, ["CUSTOM_VSPHERE_CAPACITY"]) == [
        "COMPUTE_NET_ATTACH_INTERFACE", "CUSTOM_OPERATOR", "CUSTOM_VSPHERE_CAPACITY"]


def test_a_flavor_gets_the_smallest_bucket_that_holds_it_and_loses_other_buckets():
    assert capacity.flavor_bucket(10 * GIB, BUCKETS) == 12
    assert capacity.flavor_bucket(8 * GIB, BUCKETS) == 8
    assert capacity.flavor_bucket(512, BUCKETS) == 1
    to_set, to_delete = capacity.flavor_specs_plan("big", 10 * GIB, {
        "trait:CUSTOM_VSPHERE_NOFIT_RAM_8G": "forbidden", "hw:cpu_policy": "dedicated"}, BUCKETS)
    assert to_set == {"trait:CUSTOM_VSPHERE_NOFIT_RAM_12G": "forbidden"}
    assert to_delete == ["trait:CUSTOM_VSPHERE_NOFIT_RAM_8G"]
    assert capacity.flavor_specs_plan("big", 10 * GIB, {"trait:CUSTOM_VSPHERE_NOFIT_RAM_12G": "forbidden"},
                                      BUCKETS) == ({}, [])


def test_a_flavor_larger_than_every_bucket_is_refused():
    with pytest.raises(BackendError, match="more than the largest bucket .256 GiB.: add a bucket of at least 300 GiB"):
        capacity.flavor_specs_plan("huge", 300 * GIB, {}, BUCKETS)


def test_buckets_are_checked():
    assert capacity.check_buckets([8, 2, 2]) == [2, 8]
    for wrong in ([], [0], [-1, 2]):
        with pytest.raises(BackendError, match="ram_buckets_gb"):
            capacity.check_buckets(wrong)


# --- the reads ---------------------------------------------------------------------------

def test_ha_settings_read_each_admission_control_policy():
    def config(policy, **das_fields):
        return vim.cluster.ConfigInfoEx(dasConfig=vim.cluster.DasConfigInfo(
            enabled=True, admissionControlEnabled=True, admissionControlPolicy=policy, **das_fields))

    hosts = [vim.HostSystem("host-2"), vim.HostSystem("host-1")]
    assert ha_settings(config(vim.cluster.FailoverHostAdmissionControlPolicy(failoverHosts=hosts)), vim)["policy"] == {
        "kind": "failover_hosts", "hosts": ["host-1", "host-2"]}
    assert ha_settings(config(vim.cluster.FailoverLevelAdmissionControlPolicy(failoverLevel=2)), vim)["policy"] == {
        "kind": "failover_level", "level": 2}
    resources = ha_settings(config(vim.cluster.FailoverResourcesAdmissionControlPolicy(
        cpuFailoverResourcesPercent=10, memoryFailoverResourcesPercent=25)), vim)
    assert resources["policy"] == {"kind": "resources_percent", "memory_percent": 25, "cpu_percent": 10,
                                   "auto_compute": False, "level": None}
    assert capacity.admission_policy(resources) == {"kind": "resources_percent", "memory_percent": 25, "cpu_percent": 10}
    unset = ha_settings(config(None, failoverLevel=1), vim)
    assert unset == {"enabled": True, "admission_control_enabled": True, "failover_level": 1, "policy": None}
    assert ha_settings(None, vim) == {"enabled": False, "admission_control_enabled": False, "failover_level": None,
                                      "policy": None}


class CountingClient:
    """Answers every read from a vCenter of ``clusters`` clusters of 8 hosts and 20 VMs per host; counts the reads."""

    def __init__(self, clusters):
        self.reads = []
        self.clusters = ["domain-c%d" % i for i in range(clusters)]
        self.content = type("Content", (), {"about": type("About", (), {
            "fullName": "vcsim", "version": "6.5.0", "apiVersion": "6.5", "instanceUuid": "u"})()})()

    def retrieve(self, obj_type, properties, root=None):
        self.reads.append(obj_type._wsdlName)
        hosts = ["%s-h%d" % (cluster, i) for cluster in self.clusters for i in range(8)]
        if obj_type is vim.HostSystem:
            return [{"obj": None, "moid": moid, "name": moid, "parent": vim.ClusterComputeResource(moid.split("-h")[0]),
                     "runtime.connectionState": "connected", "summary.hardware.memorySize": 64 << 30,
                     "summary.hardware.numCpuThreads": 32, "summary.quickStats.overallMemoryUsage": 2048}
                    for moid in hosts]
        if obj_type is vim.VirtualMachine:
            return [{"obj": None, "moid": "vm-%s-%d" % (moid, i), "runtime.powerState": "poweredOn",
                     "runtime.host": vim.HostSystem(moid), "config.hardware.numCPU": 2,
                     "config.hardware.memoryMB": 1024} for moid in hosts for i in range(20)]
        if obj_type is vim.ClusterComputeResource:
            return [{"obj": None, "moid": moid, "name": moid, "configurationEx": None} for moid in self.clusters]
        return []


@pytest.mark.parametrize("clusters", [1, 12])
def test_the_reads_are_one_call_per_object_kind_whatever_the_inventory(clusters):
    client = CountingClient(clusters)
    inputs = read_capacity_inputs(client)
    assert sorted(client.reads) == sorted(["Datacenter", "Folder", "ComputeResource", "HostSystem", "VirtualMachine",
                                           "ClusterComputeResource"])
    assert len(inputs["hosts"]) == 8 * clusters and len(inputs["vms"]) == 160 * clusters
    assert inputs["vms"][0] == {"moid": inputs["vms"][0]["moid"], "power_state": "poweredOn",
                                "host": "domain-c0-h0", "template": False, "vcpus": 2, "memory_mb": 1024}
    first = capacity.node_figures("n", [h for h in inputs["hosts"] if h["parent"] == "domain-c0"], inputs["vms"],
                                  inputs["ha"]["domain-c0"], 4.0)
    assert first["free_vcpus"] == 8 * (128 - 40) and first["largest_free_ram_mb"] == 64 * 1024 - 2048


def test_the_cpu_allocation_ratio_is_the_option_else_placements_else_novas_default():
    inventories = {"VCPU": {"total": 96, "allocation_ratio": 16.0}, "MEMORY_MB": {"allocation_ratio": 1.0}}
    assert capacity.cpu_allocation_ratio(2, inventories) == 2.0
    assert capacity.cpu_allocation_ratio(None, inventories) == 16.0
    assert capacity.cpu_allocation_ratio(None, {"MEMORY_MB": {}}) == capacity.DEFAULT_CPU_ALLOCATION_RATIO == 4.0
    assert capacity.cpu_allocation_ratio(None, None) == 4.0
