from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._flavor import (
    size_differences,
    spec_changes,
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
