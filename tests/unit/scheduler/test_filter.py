"""VsphereHostFitFilter against nova's real HostState, RequestSpec, Flavor and Aggregate objects.

Run with the lab venv's python (nova is there): tests/run-tests.sh unit, or
LAB_DIR/venv/bin/python -m unittest discover -s tests/unit/scheduler
"""

from scheduler_fixtures import (
    OverridesTestCase,
    aggregate,
    capacity_metadata,
    kvm_host,
    passing,
    request,
    stamp,
    vsphere_host,
)

from nova_vsphere_capacity.filters import VsphereHostFitFilter

LOGGER = "nova_vsphere_capacity.filters"
# A cluster whose summed free RAM (20 GiB) would take a 10 GiB VM, though no host has 10 GiB free:
# one host with RAM and few vCPUs, one with vCPUs and less RAM, one small.
PAIRS = [(8192, 2), (6144, 16), (6144, 4)]


class FitTest(OverridesTestCase):
    def setUp(self):
        self.filter = VsphereHostFitFilter()
        self.cluster = vsphere_host("proxy-a", PAIRS, free_ram_mb=20480)

    def test_passes_when_one_host_has_both_the_ram_and_the_vcpus(self):
        self.assertEqual(passing(self.filter, [self.cluster], request(8192, 2)), ["proxy-a"])
        self.assertEqual(passing(self.filter, [self.cluster], request(6000, 16)), ["proxy-a"])
        self.assertEqual(passing(self.filter, [self.cluster], request(512, 1)), ["proxy-a"])

    def test_refuses_when_ram_and_vcpus_fit_only_on_different_hosts(self):
        # 8192 MB is on the first host, 16 vCPUs on the second: no one host has both.
        self.assertEqual(passing(self.filter, [self.cluster], request(8192, 4)), [])
        self.assertEqual(passing(self.filter, [self.cluster], request(6145, 16)), [])

    def test_refuses_a_flavor_bigger_than_any_host_though_the_sum_would_hold_it(self):
        self.assertEqual(passing(self.filter, [self.cluster], request(10240, 1)), [])

    def test_refuses_every_flavor_when_the_cluster_has_no_usable_host(self):
        empty = vsphere_host("proxy-empty", [], free_ram_mb=40960)
        self.assertEqual(passing(self.filter, [empty], request(512, 1)), [])

    def test_kvm_hosts_always_pass(self):
        plain = kvm_host("kvm-1", free_ram_mb=1024)
        other = kvm_host("kvm-2", 1024, [aggregate(900, "kvm", ["kvm-2"], {"availability_zone": "kvm"})])
        hosts = [plain, other, self.cluster]
        self.assertEqual(passing(self.filter, hosts, request(10240, 1)), ["kvm-1", "kvm-2"])

    def test_a_rebuild_is_not_filtered(self):
        self.assertEqual(passing(self.filter, [self.cluster], request(10240, 1, rebuild=True)), ["proxy-a"])

    def test_debug_log_says_why_a_host_was_refused(self):
        with self.assertLogs(LOGGER, level="DEBUG") as logs:
            passing(self.filter, [self.cluster], request(10240, 3))
        refusal = [line for line in logs.output if "fails VsphereHostFitFilter" in line]
        self.assertEqual(len(refusal), 1, logs.output)
        for part in ("proxy-a", self.cluster.nodename, "10240 MB RAM", "3 vCPUs", "m10240-c3",
                     "largest free host RAM 8192 MB", "8192 MB/2 vCPU"):
            self.assertIn(part, refusal[0])


class FallbackTest(OverridesTestCase):
    def setUp(self):
        self.filter = VsphereHostFitFilter()

    def test_stale_figures_pass_with_one_warning_per_host_and_age(self):
        stale = vsphere_host("proxy-old", PAIRS, free_ram_mb=20480, age_seconds=901)
        with self.assertLogs(LOGGER, level="WARNING") as logs:
            for _attempt in range(3):
                self.assertEqual(passing(self.filter, [stale], request(10240, 1)), ["proxy-old"])
        self.assertEqual(len(logs.output), 1, logs.output)
        self.assertIn("proxy-old", logs.output[0])
        self.assertIn("max_age_seconds = 900", logs.output[0])
        # Figures that are newer but still stale: warned about again, once.
        stale.aggregates[0].metadata["vsphere_capacity_updated_at"] = stamp(1800)
        with self.assertLogs(LOGGER, level="WARNING") as logs:
            passing(self.filter, [stale], request(10240, 1))
            passing(self.filter, [stale], request(10240, 1))
        self.assertEqual(len(logs.output), 1, logs.output)

    def test_fresh_figures_within_max_age_are_used(self):
        recent = vsphere_host("proxy-recent", PAIRS, free_ram_mb=20480, age_seconds=850)
        self.assertEqual(passing(self.filter, [recent], request(10240, 1)), [])

    def test_max_age_seconds_is_an_option(self):
        self.override("max_age_seconds", 60, "vsphere_capacity")
        aged = vsphere_host("proxy-aged", PAIRS, free_ram_mb=20480, age_seconds=120)
        with self.assertLogs(LOGGER, level="WARNING"):
            self.assertEqual(passing(self.filter, [aged], request(10240, 1)), ["proxy-aged"])

    def test_unreadable_figures_pass_with_a_warning(self):
        garbage = {
            "vsphere_capacity_hosts": "8192:2 lots",
            "vsphere_capacity_version": "2",
            "vsphere_capacity_updated_at": "yesterday",
            "vsphere_capacity_largest_free_ram_mb": "-5",
        }
        for key, value in garbage.items():
            with self.subTest(key=key):
                host = vsphere_host("proxy-bad", [(1024, 1)], free_ram_mb=20480, **{key: value})
                with self.assertLogs(LOGGER, level="WARNING") as logs:
                    self.assertEqual(passing(self.filter, [host], request(10240, 1)), ["proxy-bad"])
                self.assertEqual(len(logs.output), 1, logs.output)
                self.assertIn(key, logs.output[0])
                self.assertIn("unreadable capacity figures", logs.output[0])

    def test_figures_of_another_node_are_not_used(self):
        host = vsphere_host("proxy-moved", [(1024, 1)], free_ram_mb=20480)
        host.aggregates[0].metadata["vsphere_capacity_node"] = "domain-c99.other-vcenter"
        with self.assertLogs(LOGGER, level="WARNING") as logs:
            self.assertEqual(passing(self.filter, [host], request(10240, 1)), ["proxy-moved"])
        self.assertIn("domain-c99.other-vcenter", logs.output[0])

    def test_other_metadata_beside_the_figures_is_ignored(self):
        metadata = capacity_metadata("n", PAIRS)
        host = kvm_host("proxy-b", 20480, [aggregate(7, "vsphere", ["proxy-b"], {"ram_weight_multiplier": "2"}),
                                           aggregate(8, "vsphere-capacity-proxy-b", ["proxy-b"], metadata)])
        host.nodename = "n"
        self.assertEqual(passing(self.filter, [host], request(10240, 1)), [])
        self.assertEqual(passing(self.filter, [host], request(8192, 1)), ["proxy-b"])
