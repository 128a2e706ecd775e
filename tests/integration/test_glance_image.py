"""glance_image against the lab's glance: upload once by hash, properties, check mode, replace."""

import subprocess

import pytest

from helpers.cloud import Cloud
from helpers.playbook import run_module

NAME = "test-glance-image"


@pytest.fixture
def cloud(admin_env):
    env = admin_env
    yield env
    run_module("glance_image", {"name": NAME, "state": "absent"}, env=env)


def qcow2(path, size):
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(path), size], check=True)
    return str(path)


def test_upload_once_then_properties_then_replace(cloud, tmp_path):
    wanted = {"name": NAME, "filename": qcow2(tmp_path / "a.qcow2", "16M"), "disk_format": "qcow2",
              "properties": {"hypervisor_type": "qemu"}}
    check = run_module("glance_image", wanted, env=cloud, check_mode=True)
    assert check.result["changes"] == ["create", "upload"], check.output

    first = run_module("glance_image", wanted, env=cloud)
    assert not first.failed, first.output
    image = first.result["image"]
    assert image["status"] == "active" and image["properties"]["hypervisor_type"] == "qemu"
    assert image["os_hash_value"] == check.result["diff"]["after"]["os_hash_value"]

    again = run_module("glance_image", wanted, env=cloud)
    assert again.result["changed"] is False and again.result["image"]["id"] == image["id"]

    more = dict(wanted, properties={"hypervisor_type": "qemu", "hw_disk_bus": "virtio"}, visibility="public")
    updated = run_module("glance_image", more, env=cloud)
    assert updated.result["changes"] == ["set hw_disk_bus", "set visibility"]
    assert updated.result["image"]["id"] == image["id"]
    assert updated.result["image"]["visibility"] == "public"

    other = dict(more, filename=qcow2(tmp_path / "b.qcow2", "32M"))
    refused = run_module("glance_image", other, env=cloud)
    assert refused.failed and "glance cannot change an active image; set replace: true" in refused.msg
    replaced = run_module("glance_image", dict(other, replace=True), env=cloud)
    assert replaced.result["changes"] == ["create", "upload", "delete old"]
    assert replaced.result["image"]["id"] != image["id"]
    assert replaced.result["image"]["properties"]["hw_disk_bus"] == "virtio"


def images(env):
    """The lab's images of NAME, as glance lists them."""
    return [image for image in Cloud(env).conn.image.images() if image.name == NAME]


def test_glance_checks_the_data_against_the_disk_format(cloud, tmp_path):
    wanted = {"name": NAME, "filename": qcow2(tmp_path / "a.qcow2", "1M"), "disk_format": "vmdk"}
    run = run_module("glance_image", wanted, env=cloud)
    assert run.failed
    assert run.msg.startswith("Glance refused to upload")
    # The image it created is gone again, so the next run with a good file succeeds.
    assert "(HTTP 415)" in run.msg and ". Undone: deleted image %s (" % NAME in run.msg, run.msg
    assert run.result["changed"] is False and images(cloud) == []
    good = run_module("glance_image", dict(wanted, disk_format="qcow2"), env=cloud)
    assert not good.failed, good.output
    assert good.result["image"]["status"] == "active"


def test_an_image_left_queued_is_replaced(cloud, tmp_path):
    # What an earlier failed upload left: glance takes no second upload into such an image (HTTP 500).
    conn = Cloud(cloud).conn
    queued = conn.image.create_image(name=NAME, disk_format="vmdk", container_format="bare")
    path = qcow2(tmp_path / "a.qcow2", "1M")
    with open(path, "rb") as data:
        response = conn.image.put("/images/%s/file" % queued.id, data=data,
                                  headers={"Content-Type": "application/octet-stream"})
    assert response.status_code == 415 and conn.image.get_image(queued.id).status == "queued"

    run = run_module("glance_image", {"name": NAME, "filename": path, "disk_format": "qcow2"}, env=cloud)
    assert not run.failed, run.output
    assert run.result["changes"] == ["create", "upload", "delete old"]
    assert [(image.id, image.status) for image in images(cloud)] == [(run.result["image"]["id"], "active")]


def test_missing_file(cloud):
    run = run_module("glance_image", {"name": NAME, "filename": "/nonexistent.qcow2"}, env=cloud)
    assert run.failed and run.msg.startswith("No image file at /nonexistent.qcow2")
