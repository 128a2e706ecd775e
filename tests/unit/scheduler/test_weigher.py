"""RealFreeRAMWeigher against nova's real HostState, RequestSpec and Aggregate objects, weighed by
nova's own weight handler (normalisation and multipliers as the scheduler applies them).

Run with the lab venv's python (nova is there): tests/run-tests.sh unit, or
LAB_DIR/venv/bin/python -m unittest discover -s tests/unit/scheduler
"""

from scheduler_fixtures import OverridesTestCase, aggregate, kvm_host, ranking, request, vsphere_host

from nova.scheduler.weights.ram import RAMWeigher
from nova_vsphere_capacity.weights import RealFreeRAMWeigher

# Seed 001's case 2: a cluster of small, busy hosts whose summed free RAM (40 GB) outweighs a
# KVM host with 16 GB free, though no ESXi host has more than 6 GB.
CLUSTER_PAIRS = [(6144, 8), (5120, 8), (4096, 8)]


class WeigherTest(OverridesTestCase):
    def setUp(self):
        self.weigher = RealFreeRAMWeigher()
        self.cluster = vsphere_host("proxy-a", CLUSTER_PAIRS, free_ram_mb=40960)
        self.kvm = kvm_host("kvm-1", free_ram_mb=16384)
        self.spec = request(4096, 2)

    def test_nova_ram_weigher_prefers_the_cluster(self):
        # What the package fixes: nova's own weigher.
        self.assertEqual(ranking(RAMWeigher(), [self.cluster, self.kvm], self.spec), ["proxy-a", "kvm-1"])

    def test_kvm_host_with_more_real_room_ranks_above_the_cluster(self):
        self.assertEqual(ranking(self.weigher, [self.cluster, self.kvm], self.spec), ["kvm-1", "proxy-a"])

    def test_weights_are_the_largest_free_host_and_free_ram_mb(self):
        self.assertEqual(self.weigher._weigh_object(self.cluster, self.spec), 6144)
        self.assertEqual(self.weigher._weigh_object(self.kvm, self.spec), 16384)

    def test_a_cluster_with_a_big_free_host_ranks_above_a_smaller_kvm_host(self):
        roomy = vsphere_host("proxy-b", [(32768, 8), (1024, 2)], free_ram_mb=33792)
        self.assertEqual(ranking(self.weigher, [self.kvm, roomy, self.cluster], self.spec),
                         ["proxy-b", "kvm-1", "proxy-a"])

    def test_negative_multiplier_stacks(self):
        self.override("ram_weight_multiplier", -1.0, "filter_scheduler")
        self.assertEqual(self.weigher.weight_multiplier(self.kvm), -1.0)
        self.assertEqual(ranking(self.weigher, [self.kvm, self.cluster], self.spec), ["proxy-a", "kvm-1"])

    def test_per_aggregate_multiplier_overrides_the_option(self):
        # The KVM host's aggregate weighs RAM at 0.1: its 1.0 (normalised) becomes 0.1, below
        # the cluster's 6144/16384 = 0.375.
        kvm = kvm_host("kvm-1", 16384, [aggregate(50, "kvm", ["kvm-1"], {"ram_weight_multiplier": "0.1"})])
        self.assertEqual(self.weigher.weight_multiplier(kvm), 0.1)
        self.assertEqual(self.weigher.weight_multiplier(self.cluster), 1.0)
        self.assertEqual(ranking(self.weigher, [kvm, self.cluster], self.spec), ["proxy-a", "kvm-1"])

    def test_stale_figures_fall_back_to_free_ram_mb(self):
        stale = vsphere_host("proxy-old", CLUSTER_PAIRS, free_ram_mb=40960, age_seconds=1000)
        self.assertEqual(self.weigher._weigh_object(stale, self.spec), 40960)
        self.assertEqual(ranking(self.weigher, [self.kvm, stale], self.spec), ["proxy-old", "kvm-1"])

    def test_unreadable_figures_fall_back_to_free_ram_mb(self):
        bad = vsphere_host("proxy-bad", CLUSTER_PAIRS, free_ram_mb=40960, vsphere_capacity_largest_free_ram_mb="many")
        self.assertEqual(self.weigher._weigh_object(bad, self.spec), 40960)

    def test_an_overcommitted_host_weighs_no_less_than_zero(self):
        full = kvm_host("kvm-full", free_ram_mb=-2048)
        weights = self.weigher.weigh_objects([type("W", (), {"obj": full})()], self.spec)
        self.assertEqual(weights, [0])
