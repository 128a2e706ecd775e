import hashlib

import pytest

from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._common.errors import BackendError
from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._openstack.glance import (
    content_matches,
    file_hash,
    plan,
    property_patch,
    view,
)

GLANCE_IMAGE = {"id": "i1", "name": "img", "status": "active", "disk_format": "vmdk", "container_format": "bare",
                "visibility": "shared", "os_hash_algo": "sha512", "os_hash_value": "abc", "checksum": "m",
                "size": 3, "tags": [], "hypervisor_type": "vmware", "vmware_disktype": "sparse",
                "os_glance_importing_to_stores": "", "stores": "fs"}
WANTED = {"name": "img", "disk_format": "vmdk", "container_format": "bare", "visibility": None,
          "properties": {"hypervisor_type": "vmware", "vmware_disktype": "streamOptimized",
                         "vmware_adaptertype": "lsiLogic"}}


def test_view_separates_properties_from_glance_attributes():
    assert view(GLANCE_IMAGE)["properties"] == {"hypervisor_type": "vmware", "vmware_disktype": "sparse"}


def test_content_is_compared_by_hash_and_formats():
    current = view(GLANCE_IMAGE)
    assert content_matches(current, WANTED, "abc")
    assert not content_matches(current, WANTED, "abd")
    assert not content_matches(current, dict(WANTED, disk_format="qcow2"), "abc")
    assert not content_matches(dict(current, status="queued"), WANTED, "abc")


def test_patch_touches_only_what_differs():
    ops = property_patch(view(GLANCE_IMAGE), dict(WANTED, visibility="public"))
    assert ops == [
        {"op": "add", "path": "/vmware_adaptertype", "value": "lsiLogic"},
        {"op": "replace", "path": "/vmware_disktype", "value": "streamOptimized"},
        {"op": "replace", "path": "/visibility", "value": "public"},
    ]
    assert property_patch(view(GLANCE_IMAGE), dict(WANTED, properties={"hypervisor_type": "vmware"})) == []


def test_file_hash_is_glances_multihash(tmp_path):
    path = tmp_path / "disk"
    path.write_bytes(b"x" * (3 << 20))
    assert file_hash(path, "sha512") == hashlib.sha512(b"x" * (3 << 20)).hexdigest()


def test_plan_a_new_image_a_kept_one_and_a_queued_one():
    wanted = dict(WANTED, filename="/srv/img.vmdk", replace=False)
    after, changes, ops = plan(None, wanted, "abc")
    assert (changes, ops) == (["create", "upload"], [])
    assert after["properties"] == WANTED["properties"] and after["visibility"] is None
    after, changes, ops = plan(GLANCE_IMAGE, wanted, "abc")
    assert changes == ["set vmware_adaptertype", "set vmware_disktype"] and len(ops) == 2
    assert after["visibility"] == "shared"
    # A queued image has no data and takes no second upload: it is replaced.
    assert plan(dict(GLANCE_IMAGE, status="queued"), wanted, "abc")[1] == ["create", "upload", "delete old"]


def test_other_content_is_replaced_only_when_asked():
    wanted = dict(WANTED, filename="/srv/img.vmdk", replace=False)
    with pytest.raises(BackendError, match="glance cannot change an active image; set replace: true"):
        plan(GLANCE_IMAGE, wanted, "abd")
    assert plan(GLANCE_IMAGE, dict(wanted, replace=True), "abd")[1] == ["create", "upload", "delete old"]
    with pytest.raises(BackendError, match=r"^Image img \(i1\) is saving; fix or delete it first"):
        plan(dict(GLANCE_IMAGE, status="saving"), wanted, "abd")
