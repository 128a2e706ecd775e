import pytest

from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._common.errors import BackendError
from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._openstack.flavors import (
    describe,
    plan,
    size_differences,
    spec_changes,
    spec_microversion,
    spec_refusals,
    view,
)

NOVA_FLAVOR = {"id": "f1", "name": "vmware.small", "vcpus": 1, "ram": 512, "disk": 1, "swap": "",
               "OS-FLV-EXT-DATA:ephemeral": 0, "os-flavor-access:is_public": True,
               "extra_specs": {"aggregate_instance_extra_specs:hypervisor_type": "vmware", "hw:cpu_policy": "shared"}}


def test_view_normalises_nova_s_swap_and_extension_names():
    flavor = view(NOVA_FLAVOR)
    assert (flavor["swap"], flavor["ephemeral"], flavor["is_public"]) == (0, 0, True)


def test_size_cannot_change():
    wanted = dict(view(NOVA_FLAVOR), ram=1024, is_public=False)
    assert size_differences(view(NOVA_FLAVOR), wanted) == ["ram: 512 -> 1024", "is_public: True -> False"]


def test_spec_changes_with_and_without_purge():
    current = view(NOVA_FLAVOR)["extra_specs"]
    wanted = {"aggregate_instance_extra_specs:hypervisor_type": "qemu"}
    assert spec_changes(current, wanted, False) == (wanted, [])
    assert spec_changes(current, wanted, True) == (wanted, ["hw:cpu_policy"])
    assert spec_changes(current, current, True) == ({}, [])


WANTED = {"name": "vmware.small", "vcpus": 1, "ram": 512, "disk": 1, "ephemeral": 0, "swap": 0, "is_public": True,
          "extra_specs": {"aggregate_instance_extra_specs:hypervisor_type": "vmware"}, "purge_extra_specs": True}


def test_plan_a_new_flavor_and_changes_to_an_existing_one():
    after, steps = plan(None, WANTED)
    assert steps == [("create", None), ("set_extra_specs", WANTED["extra_specs"])]
    assert after["extra_specs"] == WANTED["extra_specs"] and after["ram"] == 512
    after, steps = plan(view(NOVA_FLAVOR), WANTED)
    assert [describe(step) for step in steps] == ["delete_extra_spec hw:cpu_policy"]
    assert after["extra_specs"] == WANTED["extra_specs"]


def test_what_nova_refuses_is_refused_before_any_write():
    with pytest.raises(BackendError, match=r"exists with another size \(ram: 512 -> 1024\)"):
        plan(view(NOVA_FLAVOR), dict(WANTED, ram=1024))
    with pytest.raises(BackendError, match="^Nothing was changed: nova refuses these extra specs of flavor "
                                           "vmware.small: key 'bad key!' has characters"):
        plan(None, dict(WANTED, extra_specs={"bad key!": "x", "hw:cpu_policy": "shared"}))
    assert spec_refusals({"hw:cpu_policy": "x" * 256}) == ["the value of hw:cpu_policy is longer than 255 characters"]
    assert spec_refusals({"aggregate_instance_extra_specs:hypervisor_type": "vmware", "a.b c-d_e": "1"}) == []


def test_extra_specs_are_set_where_nova_checks_them():
    assert spec_microversion("2.104") == ("2.86", None)  # compared as numbers: 104 > 86
    assert spec_microversion("2.86") == ("2.86", None)
    microversion, warning = spec_microversion("2.79")
    assert microversion == "2.61"
    assert warning == ("The compute API of this cloud goes up to microversion 2.79, before 2.86: extra specs are "
                       "set at 2.61, where nova does not check their values.")
    assert spec_microversion(None)[0] == "2.61"
