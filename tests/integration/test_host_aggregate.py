"""host_aggregate against the lab's nova: create, idempotence, check mode, purge, delete, and
nothing half-made when nova refuses part of the work."""

import pytest

from helpers.cloud import Cloud
from helpers.playbook import run_module

NAME = "test-host-aggregate"
OTHER = "test-host-aggregate-other"


@pytest.fixture
def cloud(admin_env):
    env = admin_env
    yield env
    nova = Cloud(env)
    for name in (NAME, OTHER):
        nova.delete_aggregate(name)


def aggregate(env, name):
    """The aggregate of that name as nova lists it, or None."""
    return next((item for item in Cloud(env).call("GET", "/os-aggregates", microversion="2.41")["aggregates"]
                 if item["name"] == name), None)


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

    # kvm-compute-1 leaves (the lab runs two KVM hosts), then it comes back as kvm-compute-2 leaves.
    shrunk = dict(wanted, hosts=["kvm-compute-2"])
    check = run_module("host_aggregate", shrunk, env=cloud, check_mode=True)
    assert check.result["changes"] == ["remove_host kvm-compute-1"]
    purged = run_module("host_aggregate", shrunk, env=cloud)
    assert purged.result["aggregate"]["hosts"] == ["kvm-compute-2"]
    assert purged.result["diff"]["before"]["hosts"] == ["kvm-compute-1", "kvm-compute-2"]
    moved = dict(wanted, hosts=["kvm-compute-1"])
    check = run_module("host_aggregate", moved, env=cloud, check_mode=True)
    assert check.result["changes"] == ["add_host kvm-compute-1", "remove_host kvm-compute-2"]
    swapped = run_module("host_aggregate", moved, env=cloud)
    assert swapped.result["aggregate"]["hosts"] == ["kvm-compute-1"]

    deleted = run_module("host_aggregate", {"name": NAME, "state": "absent"}, env=cloud)
    assert deleted.result["changed"] is True


def test_unknown_host_is_refused_before_anything_is_made(cloud):
    wanted = {"name": NAME, "hosts": ["kvm-compute-1", "no-such-compute"], "metadata": {"hypervisor_type": "qemu"}}
    run = run_module("host_aggregate", wanted, env=cloud)
    assert run.failed and run.result["changed"] is False
    assert run.msg.startswith("Nothing was changed: aggregate %s cannot be made as asked: no nova-compute "
                              "service runs on no-such-compute" % NAME), run.msg
    assert aggregate(cloud, NAME) is None
    check = run_module("host_aggregate", wanted, env=cloud, check_mode=True)
    assert check.failed and check.msg == run.msg

    fixed = run_module("host_aggregate", dict(wanted, hosts=["kvm-compute-1"]), env=cloud)
    assert not fixed.failed, fixed.output
    assert fixed.result["aggregate"]["metadata"] == {"hypervisor_type": "qemu"}


def test_zone_conflict_is_refused_before_anything_is_made(cloud):
    other = run_module("host_aggregate", {"name": OTHER, "availability_zone": "test-az-1", "hosts": ["kvm-compute-1"]},
                       env=cloud)
    assert not other.failed, other.output
    wanted = {"name": NAME, "availability_zone": "test-az-2", "hosts": ["kvm-compute-1", "kvm-compute-2"]}
    run = run_module("host_aggregate", wanted, env=cloud)
    assert run.failed and run.result["changed"] is False
    assert ("host kvm-compute-1 is in availability zone test-az-1 (aggregate %s) already" % OTHER) in run.msg
    assert aggregate(cloud, NAME) is None

    # An existing aggregate given a zone that one of its hosts' other aggregates contradicts.
    assert not run_module("host_aggregate", dict(wanted, availability_zone=None), env=cloud).failed
    moved = run_module("host_aggregate", wanted, env=cloud)
    assert moved.failed and moved.result["changed"] is False and "kvm-compute-1 is in availability zone" in moved.msg
    assert aggregate(cloud, NAME)["availability_zone"] is None

    Cloud(cloud).delete_aggregate(OTHER)  # the conflict's cause gone, the same task succeeds
    fixed = run_module("host_aggregate", wanted, env=cloud)
    assert not fixed.failed, fixed.output
    assert (fixed.result["aggregate"]["hosts"], fixed.result["aggregate"]["availability_zone"]) == (
        ["kvm-compute-1", "kvm-compute-2"], "test-az-2")


def test_a_refusal_after_creation_deletes_the_aggregate_again(cloud):
    # Nova's schema refuses the metadata key only when it is set, after the aggregate exists.
    wanted = {"name": NAME, "availability_zone": "test-az-2", "hosts": ["kvm-compute-1"],
              "metadata": {"bad key!": "x"}}
    run = run_module("host_aggregate", wanted, env=cloud)
    assert run.failed and run.result["changed"] is False
    assert "set metadata {'bad key!': 'x'} on aggregate %s (HTTP 400)" % NAME in run.msg
    assert ". Undone: deleted aggregate %s (" % NAME in run.msg
    assert aggregate(cloud, NAME) is None

    fixed = run_module("host_aggregate", dict(wanted, metadata={"hypervisor_type": "qemu"}), env=cloud)
    assert not fixed.failed, fixed.output
    assert fixed.result["aggregate"]["hosts"] == ["kvm-compute-1"]


def test_a_refusal_on_an_existing_aggregate_reports_what_was_done(cloud):
    assert not run_module("host_aggregate", {"name": NAME, "hosts": ["kvm-compute-1"]}, env=cloud).failed
    wanted = {"name": NAME, "hosts": ["kvm-compute-1", "kvm-compute-2"], "metadata": {"bad key!": "x"}}
    run = run_module("host_aggregate", wanted, env=cloud)
    assert run.failed and run.result["changed"] is True
    assert run.result["changes"] == ["add_host kvm-compute-2"]
    assert run.msg.endswith("Done before the failure: add_host kvm-compute-2; run the task again once the cause "
                            "is fixed."), run.msg
    again = run_module("host_aggregate", dict(wanted, metadata={}), env=cloud)
    assert not again.failed and again.result["changed"] is False


def test_zone_as_metadata_is_refused(cloud):
    run = run_module("host_aggregate", {"name": NAME, "metadata": {"availability_zone": "z"}}, env=cloud)
    assert run.failed and "availability_zone option" in run.msg
