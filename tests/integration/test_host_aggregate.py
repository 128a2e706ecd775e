"""host_aggregate against the lab's nova: create, idempotence, check mode, purge, delete."""

import pytest

from conftest import clean_env, run_module

NAME = "test-host-aggregate"


@pytest.fixture
def cloud(lab):
    env = clean_env(OS_CLIENT_CONFIG_FILE=str(lab["state"] / "clouds.yaml"), OS_CLOUD="lab-admin")
    yield env
    run_module("host_aggregate", {"name": NAME, "state": "absent"}, env=env)


def test_lifecycle(cloud):
    wanted = {"name": NAME, "availability_zone": "test-kvm-az", "hosts": ["kvm-compute-1", "kvm-compute-2"],
              "metadata": {"hypervisor_type": "qemu"}}
    check = run_module("host_aggregate", wanted, env=cloud, check_mode=True)
    assert check.result["changed"] and check.result["changes"][0] == "create test-kvm-az"
    assert run_module("host_aggregate", {"name": NAME, "state": "absent"}, env=cloud).result["changed"] is False

    created = run_module("host_aggregate", wanted, env=cloud)
    assert not created.failed, created.output
    assert created.result["aggregate"]["hosts"] == ["kvm-compute-1", "kvm-compute-2"]
    assert created.result["aggregate"]["metadata"] == {"hypervisor_type": "qemu"}
    assert created.result["aggregate"]["availability_zone"] == "test-kvm-az"
    assert created.result["diff"]["after"] == check.result["diff"]["after"]

    again = run_module("host_aggregate", wanted, env=cloud)
    assert again.result["changed"] is False and again.result["changes"] == []

    moved = dict(wanted, hosts=["kvm-compute-2", "kvm-compute-3"])
    check = run_module("host_aggregate", moved, env=cloud, check_mode=True)
    assert check.result["changes"] == ["add_host kvm-compute-3", "remove_host kvm-compute-1"]
    purged = run_module("host_aggregate", moved, env=cloud)
    assert purged.result["aggregate"]["hosts"] == ["kvm-compute-2", "kvm-compute-3"]
    assert purged.result["diff"]["before"]["hosts"] == ["kvm-compute-1", "kvm-compute-2"]

    deleted = run_module("host_aggregate", {"name": NAME, "state": "absent"}, env=cloud)
    assert deleted.result["changed"] is True


def test_unknown_host_is_nova_s_clear_refusal(cloud):
    run = run_module("host_aggregate", {"name": NAME, "hosts": ["no-such-compute"]}, env=cloud)
    assert run.failed
    assert "add host no-such-compute to aggregate %s (HTTP 404)" % NAME in run.msg


def test_zone_as_metadata_is_refused(cloud):
    run = run_module("host_aggregate", {"name": NAME, "metadata": {"availability_zone": "z"}}, env=cloud)
    assert run.failed and "availability_zone option" in run.msg
