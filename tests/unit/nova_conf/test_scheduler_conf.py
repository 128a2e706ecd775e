"""What nova_scheduler_conf makes of nova-scheduler's filter and weigher lists (pure logic)."""

import pytest

from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._nova_conf.ini import read
from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._nova_conf.scheduler import DEFAULT_FILTERS
from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._nova_conf.scheduler_conf import (
    ALL_FILTERS,
    ALL_WEIGHERS,
    SchedulerConfError,
    effective,
    plan,
    wanted,
)

FILTER = "nova_vsphere_capacity.filters.VsphereHostFitFilter"
WEIGHER = "nova_vsphere_capacity.weights.RealFreeRAMWeigher"
RAM = "nova.scheduler.weights.ram.RAMWeigher"
NOVA_WEIGHERS = ["nova.scheduler.weights.cpu.CPUWeigher", RAM, "nova.scheduler.weights.disk.DiskWeigher"]
OURS = dict(available_filters=[FILTER], enabled_filters=["VsphereHostFitFilter"], weight_classes=[WEIGHER],
            remove_weight_classes=[RAM], all_weighers=NOVA_WEIGHERS)
NOVA_CONF = """\
[DEFAULT]
transport_url = rabbit://nova:secret@127.0.0.1:5672/
# the operator's own comment
[filter_scheduler]
enabled_filters = ComputeFilter,ImagePropertiesFilter,AggregateInstanceExtraSpecsFilter
host_subset_size = 2

[api]
max_limit = 5
"""


def apply(texts, path="nova.conf", request=None, present=True):
    target = wanted(effective(texts), request or OURS, present)
    new = plan(texts, path, target)
    return new, effective([(name, new if name == path else text) for name, text in texts])


def test_nova_defaults_when_nothing_is_set():
    assert effective([("nova.conf", "[DEFAULT]\n")]) == dict(
        available_filters=[ALL_FILTERS], enabled_filters=list(DEFAULT_FILTERS), weight_classes=[ALL_WEIGHERS])


def test_adds_ours_and_keeps_the_operators_entries_in_place():
    new, after = apply([("nova.conf", NOVA_CONF)])
    assert after["enabled_filters"] == ["ComputeFilter", "ImagePropertiesFilter", "AggregateInstanceExtraSpecsFilter",
                                        "VsphereHostFitFilter"]
    # nova's default all_filters stays available beside ours.
    assert read(new, "filter_scheduler")["available_filters"] == [ALL_FILTERS, FILTER]
    # all_weighers expanded, RAMWeigher replaced by ours.
    assert after["weight_classes"] == ["nova.scheduler.weights.cpu.CPUWeigher", "nova.scheduler.weights.disk.DiskWeigher",
                                       WEIGHER]
    # Nothing else changed: the other lines are still there, in order.
    kept = [line for line in NOVA_CONF.splitlines() if not line.startswith("enabled_filters")]
    assert [line for line in new.splitlines() if line in kept] == kept
    assert "host_subset_size = 2\n" in new and "transport_url = rabbit://nova:secret@127.0.0.1:5672/\n" in new


def test_a_second_run_changes_nothing():
    new, _after = apply([("nova.conf", NOVA_CONF)])
    assert apply([("nova.conf", new)])[0] == new


def test_absent_restores_what_the_scheduler_ran():
    new, _after = apply([("nova.conf", NOVA_CONF)])
    back, after = apply([("nova.conf", new)], present=False)
    assert after["enabled_filters"] == effective([("nova.conf", NOVA_CONF)])["enabled_filters"]
    assert after["available_filters"] == [ALL_FILTERS]
    assert "available_filters" not in read(back, "filter_scheduler")
    assert set(after["weight_classes"]) == set(NOVA_WEIGHERS)


def test_the_operators_own_available_filters_and_weighers_stay():
    conf = ("[filter_scheduler]\navailable_filters = my.filters.A\navailable_filters = my.filters.B\n"
            "weight_classes = my.weights.W,%s\n" % RAM)
    new, after = apply([("nova.conf", conf)])
    assert read(new, "filter_scheduler")["available_filters"] == ["my.filters.A", "my.filters.B", FILTER]
    assert after["weight_classes"] == ["my.weights.W", WEIGHER]
    assert after["enabled_filters"] == list(DEFAULT_FILTERS) + ["VsphereHostFitFilter"]


def test_available_filters_of_another_file_count_and_stay_there():
    files = [("nova.conf", "[filter_scheduler]\navailable_filters = %s\n" % ALL_FILTERS), ("sched.conf", "[DEFAULT]\n")]
    new, after = apply(files, path="sched.conf")
    assert read(new, "filter_scheduler")["available_filters"] == [FILTER]
    assert after["available_filters"] == [ALL_FILTERS, FILTER]


def test_a_later_file_that_sets_the_list_is_an_error():
    files = [("nova.conf", NOVA_CONF), ("nova.conf.d/50-sched.conf", "[filter_scheduler]\nenabled_filters = ComputeFilter\n")]
    with pytest.raises(SchedulerConfError, match="50-sched.conf sets .filter_scheduler. enabled_filters after nova.conf"):
        apply(files)


def test_removing_from_all_weighers_needs_its_classes():
    with pytest.raises(SchedulerConfError, match="give all_weighers"):
        apply([("nova.conf", NOVA_CONF)], request=dict(OURS, all_weighers=[]))


def test_crlf_files_keep_their_line_endings():
    new, _after = apply([("nova.conf", NOVA_CONF.replace("\n", "\r\n"))])
    assert "\n" not in new.replace("\r\n", "")
    assert "available_filters = %s\r\navailable_filters = %s\r\n" % (ALL_FILTERS, FILTER) in new
