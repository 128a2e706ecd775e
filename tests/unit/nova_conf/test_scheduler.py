from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._nova_conf.scheduler import (
    DEFAULT_FILTERS,
    enabled_filters,
    missing_filters,
)


def test_default_list_when_no_file_sets_it():
    assert enabled_filters([]) == (list(DEFAULT_FILTERS), "nova's default")
    assert enabled_filters([("nova.conf", "[filter_scheduler]\nhost_subset_size = 2\n")])[1] == "nova's default"


def test_last_file_wins_and_list_is_stripped():
    files = [("nova.conf", "[filter_scheduler]\nenabled_filters = ComputeFilter\n"),
             ("scheduler.conf", "[Filter_Scheduler]\nenabled_filters = ComputeFilter, ImagePropertiesFilter,\n"
                                "  AggregateInstanceExtraSpecsFilter\n")]
    assert enabled_filters(files) == (
        ["ComputeFilter", "ImagePropertiesFilter", "AggregateInstanceExtraSpecsFilter"], "scheduler.conf")


def test_missing_in_the_order_required():
    required = ["AggregateInstanceExtraSpecsFilter", "ImagePropertiesFilter", "AggregateImagePropertiesIsolation"]
    assert missing_filters(list(DEFAULT_FILTERS), required) == [
        "AggregateInstanceExtraSpecsFilter", "AggregateImagePropertiesIsolation"]
