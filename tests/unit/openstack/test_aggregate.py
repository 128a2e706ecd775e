from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._openstack.aggregates import (
    describe,
    plan,
    refusals,
    view,
)

NOVA_AGGREGATE = {"id": 7, "name": "kvm", "availability_zone": "kvm-az", "hosts": ["kvm-compute-2", "kvm-compute-1"],
                  "metadata": {"availability_zone": "kvm-az", "hypervisor_type": "qemu", "old": "x"}}


def test_view_keeps_the_zone_out_of_the_metadata():
    assert view(NOVA_AGGREGATE) == {"name": "kvm", "availability_zone": "kvm-az",
                                    "hosts": ["kvm-compute-1", "kvm-compute-2"],
                                    "metadata": {"hypervisor_type": "qemu", "old": "x"}}
    assert view(None) is None


def test_create_with_everything():
    after, steps = plan(None, {"name": "kvm", "availability_zone": "z", "hosts": ["b", "a"],
                               "metadata": {"hypervisor_type": "qemu", "n": 1}}, True, False)
    assert steps == [("create", "z"), ("add_host", "a"), ("add_host", "b"),
                     ("set_metadata", {"hypervisor_type": "qemu", "n": "1"})]
    assert after == {"name": "kvm", "availability_zone": "z", "hosts": ["a", "b"],
                     "metadata": {"hypervisor_type": "qemu", "n": "1"}}


def test_nothing_to_do_when_equal_and_unmanaged_fields_untouched():
    current = view(NOVA_AGGREGATE)
    after, steps = plan(current, {"name": "kvm", "availability_zone": None, "hosts": None,
                                  "metadata": {"hypervisor_type": "qemu"}}, True, False)
    assert steps == [] and after == current


def test_purge_hosts_and_metadata():
    current = view(NOVA_AGGREGATE)
    wanted = {"name": "kvm", "availability_zone": "other", "hosts": ["kvm-compute-1", "kvm-compute-3"],
              "metadata": {"hypervisor_type": "qemu"}}
    after, steps = plan(current, wanted, True, True)
    assert steps == [("set_az", "other"), ("add_host", "kvm-compute-3"), ("remove_host", "kvm-compute-2"),
                     ("set_metadata", {"old": None})]
    assert after["hosts"] == ["kvm-compute-1", "kvm-compute-3"]
    assert after["metadata"] == {"hypervisor_type": "qemu"}


def test_without_purge_extra_hosts_stay():
    after, steps = plan(view(NOVA_AGGREGATE), {"name": "kvm", "hosts": ["kvm-compute-3"], "metadata": {}},
                        False, False)
    assert steps == [("add_host", "kvm-compute-3")]
    assert after["hosts"] == ["kvm-compute-1", "kvm-compute-2", "kvm-compute-3"]


ZONED = [{"id": 1, "name": "az1", "availability_zone": "z1", "hosts": ["h1"]},
         {"id": 2, "name": "plain", "availability_zone": None, "hosts": ["h1", "h2"]},
         {"id": 3, "name": "kvm", "availability_zone": None, "hosts": ["h1", "h2"]}]


def test_unknown_hosts_are_refused_before_any_write():
    after, steps = plan(None, {"name": "new", "hosts": ["h2", "ghost"]}, True, False)
    assert refusals(None, after, steps, ZONED, ["h1", "h2"]) == [
        "no nova-compute service runs on ghost (an aggregate holds nova-compute service hosts, as "
        "'openstack compute service list' shows them)"]


def test_a_host_is_in_one_zone_at_most():
    after, steps = plan(None, {"name": "new", "availability_zone": "z2", "hosts": ["h1", "h2"]}, True, False)
    assert refusals(None, after, steps, ZONED, ["h1", "h2"]) == [
        "host h1 is in availability zone z1 (aggregate az1) already, and a host is in one zone at most"]
    # The same zone, or an aggregate without one, is no conflict.
    for wanted in ({"name": "new", "availability_zone": "z1", "hosts": ["h1"]}, {"name": "new", "hosts": ["h1"]}):
        after, steps = plan(None, wanted, True, False)
        assert refusals(None, after, steps, ZONED, ["h1"]) == []


def test_a_new_zone_is_checked_against_the_hosts_the_aggregate_holds():
    existing = ZONED[2]
    after, steps = plan(view(existing), {"name": "kvm", "availability_zone": "z2", "hosts": ["h2"]}, True, False)
    assert steps[0] == ("set_az", "z2")  # nova checks h1 then, before it is removed
    assert refusals(existing, after, steps, ZONED, ["h1", "h2"]) == [
        "host h1 is in availability zone z1 (aggregate az1) already, and a host is in one zone at most"]
    # Its own zone is no conflict, nor are the hosts it keeps when the zone stays.
    after, steps = plan(view(ZONED[0]), {"name": "az1", "hosts": ["h1", "h2"]}, True, False)
    assert refusals(ZONED[0], after, steps, ZONED, ["h1", "h2"]) == []


def test_describe():
    assert [describe(step) for step in [("create", None), ("add_host", "h1"), ("create", "z")]] == [
        "create", "add_host h1", "create z"]
