"""glance_image against the lab's glance: upload once by hash, properties, check mode, replace."""

import subprocess

import pytest

from conftest import clean_env, run_module

NAME = "test-glance-image"


@pytest.fixture
def cloud(lab):
    env = clean_env(OS_CLIENT_CONFIG_FILE=str(lab["state"] / "clouds.yaml"), OS_CLOUD="lab-admin")
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


def test_glance_checks_the_data_against_the_disk_format(cloud, tmp_path):
    run = run_module("glance_image", {"name": NAME, "filename": qcow2(tmp_path / "a.qcow2", "1M"),
                                      "disk_format": "vmdk"}, env=cloud)
    assert run.failed
    assert run.msg.startswith("Glance refused to upload")


def test_missing_file(cloud):
    run = run_module("glance_image", {"name": NAME, "filename": "/nonexistent.qcow2"}, env=cloud)
    assert run.failed and run.msg.startswith("No image file at /nonexistent.qcow2")
