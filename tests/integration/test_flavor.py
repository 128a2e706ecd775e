"""flavor against the lab's nova: create, idempotence, purge, delete, extra specs checked by nova (2.86),
and nothing half-made when nova refuses them."""

import pytest

from helpers.cloud import Cloud
from helpers.playbook import run_module

NAME = "test-flavor"
SPEC = "aggregate_instance_extra_specs:hypervisor_type"


@pytest.fixture
def cloud(admin_env):
    env = admin_env
    yield env
    run_module("flavor", {"name": NAME, "state": "absent"}, env=env)


def flavor(env, name):
    """The flavor of that name as nova lists it (extra specs included), or None."""
    flavors = Cloud(env).listing("/flavors/detail?is_public=None", "flavors", microversion="2.61")
    return next((item for item in flavors if item["name"] == name), None)


def test_lifecycle(cloud):
    wanted = {"name": NAME, "vcpus": 1, "ram": 128, "extra_specs": {SPEC: "qemu", "hw:cpu_policy": "shared"}}
    created = run_module("flavor", wanted, env=cloud)
    assert not created.failed, created.output
    assert created.result["changes"] == ["create", "set_extra_specs %s, hw:cpu_policy" % SPEC]
    assert flavor(cloud, NAME)["extra_specs"] == wanted["extra_specs"]
    again = run_module("flavor", wanted, env=cloud)
    assert again.result["changed"] is False and again.result["changes"] == []

    purged = run_module("flavor", dict(wanted, extra_specs={SPEC: "qemu"}, purge_extra_specs=True), env=cloud)
    assert purged.result["changes"] == ["delete_extra_spec hw:cpu_policy"]
    assert flavor(cloud, NAME)["extra_specs"] == {SPEC: "qemu"}
    assert run_module("flavor", {"name": NAME, "state": "absent"}, env=cloud).result["changed"] is True


def test_a_refused_extra_spec_value_deletes_the_new_flavor(cloud):
    # At 2.61 nova took any value; at 2.86 it checks them, after the flavor exists.
    wanted = {"name": NAME, "vcpus": 1, "ram": 128, "extra_specs": {SPEC: "qemu", "hw:cpu_policy": "bogus"}}
    run = run_module("flavor", wanted, env=cloud)
    assert run.failed and run.result["changed"] is False
    assert "'bogus' is not one of: dedicated, shared, mixed" in run.msg, run.msg
    assert ". Undone: deleted flavor %s (" % NAME in run.msg
    assert flavor(cloud, NAME) is None

    fixed = run_module("flavor", dict(wanted, extra_specs={SPEC: "qemu", "hw:cpu_policy": "dedicated"}), env=cloud)
    assert not fixed.failed, fixed.output
    assert flavor(cloud, NAME)["extra_specs"]["hw:cpu_policy"] == "dedicated"
    # On a flavor that exists nothing is written: it keeps its specs.
    refused = run_module("flavor", wanted, env=cloud)
    assert refused.failed and refused.result["changed"] is False and "(HTTP 400)" in refused.msg
    assert flavor(cloud, NAME)["extra_specs"]["hw:cpu_policy"] == "dedicated"


def test_an_extra_spec_key_nova_refuses_is_refused_before_anything_is_made(cloud):
    run = run_module("flavor", {"name": NAME, "vcpus": 1, "ram": 128, "extra_specs": {"bad key!": "x"}}, env=cloud)
    assert run.failed and run.result["changed"] is False
    assert run.msg.startswith("Nothing was changed: nova refuses these extra specs of flavor %s: key 'bad key!'"
                              % NAME), run.msg
    assert flavor(cloud, NAME) is None
