from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._aggregate import plan, view

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
