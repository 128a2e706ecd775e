"""Seed 001's two cases against the lab's real nova-scheduler and placement, first with stock nova, then with the
collection's pieces: the capacity feed's traits alone (nothing installed in nova), and the filter and weigher that
the capacity_scheduling role installs into the lab's scheduler.

The vSphere side is a private simulator serving tests/lab/vcsim/inventories/capacity.json with a real nova-compute
proxy of its Cluster-A (hosts of 32, 24 and 16 GiB with 6 GiB free each: 72 GiB in nova's eyes, room for no 10 GiB
VM); the KVM side is the lab's two real libvirt hosts, whose free RAM in nova's eyes is real (about the machine's
memory, far more than 6 GiB, far less than 72). See helpers/capacity.py.

Every flavor keeps its VM to the test's own aggregates (AggregateInstanceExtraSpecsFilter, which the lab enables):
``mixed`` is Cluster-A's proxy and both KVM hosts, ``vsphere`` Cluster-A's proxy alone. The ``mixed`` aggregate sets
the CPU, disk and hypervisor-version weight multipliers to 0 for its hosts (nova's per-aggregate multipliers), so
that RAM alone decides between the cluster and the KVM hosts, as seed 001's second case describes: nova's
CPUWeigher and DiskWeigher see the cluster's sums too, which the weigher of issue 14 does not change.

Where nova sent a VM is read from its instance actions: the hosts of its ``compute__do_build_and_run_instance``
events, in order (the scheduler's choice, then the alternates a reschedule went to).

Order matters and is the file's: the last test leaves a failed build on the proxy, which nova's
BuildFailureWeigher holds against it until a build there succeeds.
"""

import re

import pytest

from helpers.capacity import (KVM_HOSTS, Nova, Scheduler, delete_images, feed, private_capacity_vcenter,
                              provision_proxies, remove_proxies, streamoptimized_image)

PROXY = "vmware-proxy-cap-a"
CLUSTER = "Cluster-A"
PREFIX = "test-cap-"
MIXED, VSPHERE = PREFIX + "mixed", PREFIX + "vsphere"
# RAM decides alone among the mixed aggregate's hosts (see the module's docstring).
RAM_ONLY = {"cpu_weight_multiplier": "0", "disk_weight_multiplier": "0", "hypervisor_version_weight_multiplier": "0"}
FLAVORS = {  # name: (MB, aggregate)
    "4g": (4096, MIXED),
    "10g": (10240, MIXED),
    "10g-vsphere": (10240, VSPHERE),
    "10g-traits": (10240, MIXED),
    "10g-vsphere-traits": (10240, VSPHERE),
}
# The NOFIT bucket of a 10 GiB flavor: the smallest of the feed's default buckets that holds 10240 MB.
NOFIT_10G = "CUSTOM_VSPHERE_NOFIT_RAM_12G"
INSUFFICIENT = "Insufficient resources to power on"


def cleanup(lab, nova, work=None):
    """Every step, whatever failed before it; the first failure raised at the end."""
    steps = [lambda: nova.delete_servers(PREFIX, timeout=120),
             lambda: remove_proxies(lab, nova, [PROXY], work, servers=PREFIX),
             *[lambda name=name: nova.delete_flavor(PREFIX + name) for name in FLAVORS],
             lambda: nova.delete_aggregate(MIXED), lambda: nova.delete_aggregate(VSPHERE),
             nova.delete_feed_aggregates, lambda: delete_images(nova, PREFIX)]
    errors = []
    for step in steps:
        try:
            step()
        except Exception as error:  # pylint: disable=broad-except
            errors.append(error)
    if errors:
        raise errors[0]


@pytest.fixture(scope="module")
def scenario(lab, tmp_path_factory):
    """The private capacity vCenter, Cluster-A's proxy, the image, the aggregates and flavors; all removed after."""
    work = tmp_path_factory.mktemp("capacity")
    nova = Nova(lab["env"])
    try:
        context = private_capacity_vcenter(lab, work)
        vcenter = context.__enter__()
    except FileNotFoundError as error:
        pytest.skip(str(error))
    try:
        cleanup(lab, nova)
        provision_proxies(lab, vcenter, work, {PROXY: CLUSTER})
        nova.aggregate(MIXED, [PROXY, *KVM_HOSTS], {"capacity_test": "mixed", **RAM_ONLY})
        nova.aggregate(VSPHERE, [PROXY], {"capacity_test": "vsphere"})
        flavors = {name: nova.flavor(PREFIX + name, ram, extra_specs={
            "aggregate_instance_extra_specs:capacity_test": aggregate.rsplit("-", 1)[1]})["id"]
            for name, (ram, aggregate) in FLAVORS.items()}
        yield {"lab": lab, "nova": nova, "vcenter": vcenter, "flavors": flavors, "work": work}
    finally:
        try:
            cleanup(lab, nova, work)
        finally:
            context.__exit__(None, None, None)


def boot(scenario, name, flavor):
    nova = scenario["nova"]
    image = streamoptimized_image(nova, scenario["work"], PREFIX + name)  # one per boot: see streamoptimized_image
    server = nova.wait(nova.boot(PREFIX + name, scenario["flavors"][flavor], image)["id"])
    builds, events = nova.builds(server["id"])
    return server, builds, events


def hosts_of(builds):
    return [build["host"] for build in builds]


def delete(scenario, name):
    scenario["nova"].delete_servers(PREFIX + name)


def real_free(scenario):
    """ESXi host -> its free MB as vCenter counts it, for Cluster-A."""
    return {name: host["free_mb"] for name, host in scenario["vcenter"].read()["hosts"].items()
            if host["cluster"] == CLUSTER}


def test_stock_nova_weighs_a_4g_vm_to_the_cluster_though_a_kvm_host_has_more_real_room(scenario):
    nova = scenario["nova"]
    # The premise, from nova's and vCenter's own figures: nova believes the cluster has more free RAM than a KVM
    # host (the sum of its hosts), while its freest ESXi host has less than either KVM host.
    seen = {host: nova.hypervisor(host)["free_ram_mb"] for host in (PROXY, *KVM_HOSTS)}
    free = real_free(scenario)
    assert all(seen[PROXY] > seen[kvm] > max(free.values()) for kvm in KVM_HOSTS), (seen, free)
    assert sorted(free.values()) == [6144, 6144, 6144]

    server, builds, _events = boot(scenario, "stock-4g", "4g")
    assert server["status"] == "ACTIVE", server.get("fault")
    assert hosts_of(builds) == [PROXY] and server["OS-EXT-SRV-ATTR:host"] == PROXY
    # vCenter ran it on one of Cluster-A's hosts, which now has 2 GiB left.
    vm = next(vm for vm in scenario["vcenter"].read()["vms"] if vm["uuid"] == server["id"])
    assert vm["power"] == "poweredOn" and vm["host"] in free
    assert real_free(scenario)[vm["host"]] == free[vm["host"]] - 4096
    delete(scenario, "stock-4g")
    assert real_free(scenario) == free


def test_traits_alone_make_placement_refuse_the_cluster_for_a_10g_flavor(scenario):
    nova, lab = scenario["nova"], scenario["lab"]
    scheduler = Scheduler(lab, scenario["work"])
    # Nothing of the collection's in nova: stock filters and weighers, no package.
    assert not scheduler.package_installed()
    assert "VsphereHostFitFilter" not in scheduler.enabled()["filters"]
    provider, kvm_providers = nova.provider(PROXY), {nova.provider(host) for host in KVM_HOSTS}
    assert provider in nova.allocation_candidates(10240)  # stock placement offers the cluster for 10 GiB

    run = feed(lab, scenario["vcenter"], flavors=[PREFIX + "10g-traits", PREFIX + "10g-vsphere-traits"])
    node = next(node for node in run.result["nodes"] if node["host"] == PROXY)
    assert node["largest_free_ram_mb"] == 6144
    ours = {t for t in nova.provider_traits(provider) if t.startswith("CUSTOM_VSPHERE_NOFIT_RAM_")}
    assert NOFIT_10G in ours and "CUSTOM_VSPHERE_NOFIT_RAM_6G" not in ours, ours
    for name in ("10g-traits", "10g-vsphere-traits"):
        specs = nova.extra_specs(scenario["flavors"][name])
        assert specs["trait:" + NOFIT_10G] == "forbidden", specs
    assert "trait:" + NOFIT_10G not in nova.extra_specs(scenario["flavors"]["10g"])

    # Placement itself: the cluster is no candidate for 10 GiB that forbids the trait; the KVM hosts are; a 4 GiB
    # request (which fits a 6 GiB host) still gets the cluster.
    refused = nova.allocation_candidates(10240, required=["!" + NOFIT_10G])
    assert provider not in refused and kvm_providers <= refused
    assert provider in nova.allocation_candidates(4096, required=["!CUSTOM_VSPHERE_NOFIT_RAM_4G"])

    server, builds, _events = boot(scenario, "traits-10g", "10g-traits")
    assert server["status"] == "ACTIVE", server.get("fault")
    assert len(builds) == 1 and builds[0]["host"] in KVM_HOSTS, builds  # straight to KVM, no attempt on the cluster

    offset = scheduler.log_size()
    server, builds, events = boot(scenario, "traits-10g-vsphere", "10g-vsphere-traits")
    assert server["status"] == "ERROR" and "No valid host was found" in server["fault"]["message"], server.get("fault")
    assert builds == [], events  # no compute was even tried
    # Placement offered only hosts outside the flavor's aggregate (the KVM hosts): the one host that passes
    # AggregateInstanceExtraSpecsFilter, the cluster, was not among its candidates.
    log = scheduler.log_since(offset)
    assert "Filtering removed all hosts for the request with instance ID '%s'" % server["id"] in log, log[-3000:]
    assert re.search(r"AggregateInstanceExtraSpecsFilter: \(start: \d+, end: 0\)", log), log[-3000:]
    assert not any(vm["uuid"] == server["id"] for vm in scenario["vcenter"].read()["vms"])
    delete(scenario, "traits-")


@pytest.fixture(scope="class")
def installed(scenario):
    """The capacity_scheduling role on the lab's scheduler for one class's tests, then stock nova again."""
    scheduler = Scheduler(scenario["lab"], scenario["work"])
    feed(scenario["lab"], scenario["vcenter"])  # fresh figures (the filter ignores those older than 900 s)
    try:
        scheduler.install()
        lists = scheduler.enabled()
        assert "VsphereHostFitFilter" in lists["filters"], lists
        assert "nova_vsphere_capacity.weights.RealFreeRAMWeigher" in lists["weighers"], lists
        assert "nova.scheduler.weights.ram.RAMWeigher" not in lists["weighers"], lists
        yield scheduler
    finally:
        scheduler.restore()


class TestWithTheFilterAndWeigher:
    """The capacity_scheduling role applied to the lab's scheduler; stock nova again after the class."""

    def test_case_2_the_weigher_sends_the_4g_vm_to_the_kvm_host_with_more_real_room(self, scenario, installed):
        nova = scenario["nova"]
        seen = {host: nova.hypervisor(host)["free_ram_mb"] for host in (PROXY, *KVM_HOSTS)}
        assert all(seen[PROXY] > seen[kvm] for kvm in KVM_HOSTS), seen  # what stock nova weighed by
        server, builds, _events = boot(scenario, "with-4g", "4g")
        assert server["status"] == "ACTIVE", server.get("fault")
        assert len(builds) == 1 and builds[0]["host"] in KVM_HOSTS, builds
        assert server["OS-EXT-SRV-ATTR:host"] == builds[0]["host"]
        delete(scenario, "with-4g")

    def test_case_1_the_filter_sends_the_10g_vm_to_a_kvm_host_or_says_why_none(self, scenario, installed):
        server, builds, _events = boot(scenario, "with-10g", "10g")  # the plain flavor: no trait, the filter decides
        assert server["status"] == "ACTIVE", server.get("fault")
        assert len(builds) == 1 and builds[0]["host"] in KVM_HOSTS, builds

        offset = installed.log_size()
        server, builds, events = boot(scenario, "with-10g-vsphere", "10g-vsphere")
        assert server["status"] == "ERROR" and "No valid host was found" in server["fault"]["message"], server.get("fault")
        assert builds == [], events
        log = installed.log_since(offset)
        # nova's own summary names the filter that removed the cluster, for this instance ...
        assert "Filtering removed all hosts for the request with instance ID '%s'" % server["id"] in log, log[-3000:]
        assert "VsphereHostFitFilter: (start: 1, end: 0)" in log, log[-3000:]
        # ... and the filter says why: the flavor's size against the cluster's largest free host.
        assert ("%s (" % PROXY) in log and "fails VsphereHostFitFilter" in log, log[-3000:]
        assert "10240 MB RAM" in log and "largest free host RAM 6144 MB" in log, log[-3000:]
        delete(scenario, "with-")


def test_stock_nova_sends_the_10g_vm_to_the_cluster_where_it_fails_at_power_on(scenario):
    """Last: it leaves the proxy with failed builds."""
    nova, lab = scenario["nova"], scenario["lab"]
    scheduler = Scheduler(lab, scenario["work"])
    assert "VsphereHostFitFilter" not in scheduler.enabled()["filters"] and not scheduler.package_installed()
    free = real_free(scenario)
    assert max(free.values()) < 10240 and nova.provider(PROXY) in nova.allocation_candidates(10240)

    # Cluster-A or KVM: the scheduler picks the cluster (72 GiB in its eyes); vCenter refuses the power-on; nova
    # reschedules to its alternate, a KVM host.
    conductor = scheduler.log_size(scheduler.conductor_log)
    server, builds, events = boot(scenario, "stock-10g", "10g")
    assert hosts_of(builds)[0] == PROXY, events
    assert len(builds) == 2 and builds[1]["host"] in KVM_HOSTS, builds
    assert server["status"] == "ACTIVE" and server["OS-EXT-SRV-ATTR:host"] == builds[1]["host"], server.get("fault")
    failed = scheduler.log_since(conductor, scheduler.conductor_log)
    assert "Error from last host: %s" % PROXY in failed and INSUFFICIENT in failed, failed[-3000:]
    assert server["id"] in failed

    # Cluster-A alone: the boot lands on it, fails there, and the instance ends in ERROR.
    conductor = scheduler.log_size(scheduler.conductor_log)
    server, builds, events = boot(scenario, "stock-10g-vsphere", "10g-vsphere")
    assert server["status"] == "ERROR", server
    assert hosts_of(builds) == [PROXY], events
    assert "Exhausted all hosts available for retrying build failures" in server["fault"]["message"], server["fault"]
    failed = scheduler.log_since(conductor, scheduler.conductor_log)
    assert "Error from last host: %s" % PROXY in failed and INSUFFICIENT in failed, failed[-3000:]
    assert "InsufficientHostMemoryCapacityFault" in failed or "InsufficientMemoryResourcesFault" in failed

    # vCenter ran neither: no VM of nova's is left powered on, every host has its 6 GiB free still.
    assert not [vm for vm in scenario["vcenter"].read()["vms"] if vm["power"] == "poweredOn" and vm["uuid"] in (
        server["id"],)]
    assert real_free(scenario) == free
    delete(scenario, "stock-10g")
