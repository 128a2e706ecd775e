"""host_recovery_claim and compute_host_health against the lab's real nova.

The claim is a nova aggregate whose name nova keeps unique; these tests take, keep, refuse,
replace and release it, and claim it from several runs at once, of which exactly one may win.
"""

import concurrent.futures

import pytest

from helpers.cloud import Cloud
from helpers.playbook import run_module, run_modules

HOST = "kvm-compute-1"
CLAIM = "mixed-cloud-ha-recovery:" + HOST


@pytest.fixture
def cloud(lab, admin_env):
    cloud = Cloud(lab["env"])
    cloud.delete_aggregate(CLAIM)
    yield cloud
    cloud.delete_aggregate(CLAIM)


def claim(env, owner, check_mode=False, **args):
    return run_module("host_recovery_claim", dict(host=HOST, owner=owner, **args), env=env, check_mode=check_mode)


def claim_steps(env, *steps):
    """Several claims in one playbook, in order: each step is (owner, check_mode, other arguments)."""
    return run_modules([("host_recovery_claim", dict(host=HOST, owner=owner, **args), check_mode)
                        for owner, check_mode, args in steps], env=env)


def claims(cloud):
    return [a for a in cloud.call("GET", "/os-aggregates", microversion="2.41")["aggregates"] if a["name"] == CLAIM]


def test_a_claim_is_taken_kept_refused_replaced_and_released(cloud, admin_env):
    """Nova is read after each playbook; steps between two reads change nothing the later read would not show."""
    checked = claim(admin_env, "run-a", check_mode=True)
    assert checked.result["changed"] and checked.result["claim"]["action"] == "take"
    assert not claims(cloud)

    # Taken, then kept by its owner and refused to another: the aggregate is the one the take made.
    taken, again, refused = claim_steps(admin_env, ("run-a", False, {}), ("run-a", False, {}), ("run-b", False, {}))
    assert not taken.failed, taken.output
    assert (taken.result["changed"], taken.result["claim"]["held"]) == (True, True)
    [aggregate] = claims(cloud)
    assert (aggregate["hosts"], aggregate["metadata"]) == ([], {"owner": "run-a", "outcome": "recovering"})
    assert taken.result["diff"] == {"before": {}, "after": {"owner": "run-a", "outcome": "recovering", "detail": None,
                                                            "claimed_at": aggregate["created_at"]}}
    assert (again.result["changed"], again.result["claim"]["held"]) == (False, True)
    assert not refused.failed and not refused.result["changed"]
    assert not refused.result["claim"]["held"]
    assert refused.result["claim"]["reason"].startswith("kvm-compute-1 is already claimed by run-a since ")

    recorded = claim(admin_env, "run-a", outcome="recovered", detail="fenced, 3 evacuated")
    assert recorded.result["changed"]
    assert claims(cloud)[0]["metadata"] == {"owner": "run-a", "outcome": "recovered", "detail": "fenced, 3 evacuated"}

    # Past the cooldown (0 s here), another run replaces the claim; the old owner's release leaves it, as does
    # the new owner's release in check mode.
    replaced, left, checked = claim_steps(admin_env, ("run-b", False, {"cooldown": 0}),
                                          ("run-a", False, {"state": "released"}),
                                          ("run-b", True, {"state": "released"}))
    assert (replaced.result["changed"], replaced.result["claim"]["held"], replaced.result["claim"]["action"]) == (
        True, True, "replace")
    assert not left.result["changed"]
    assert checked.result["changed"], checked.output
    assert [a["metadata"]["owner"] for a in claims(cloud)] == ["run-b"]

    # Released by its owner; released again, nothing is left to change.
    released, again = claim_steps(admin_env, ("run-b", False, {"state": "released"}),
                                  ("run-b", False, {"state": "released"}))
    assert (released.result["changed"], again.result["changed"]) == (True, False), released.output
    assert not claims(cloud)


def test_of_runs_claiming_at_once_exactly_one_holds_the_claim(cloud, admin_env):
    owners = ["run-%d" % index for index in range(4)]
    with concurrent.futures.ThreadPoolExecutor(len(owners)) as pool:
        runs = list(pool.map(lambda owner: claim(admin_env, owner), owners))
    assert not [run.output for run in runs if run.failed]
    holders = [owner for owner, run in zip(owners, runs) if run.result["claim"]["held"]]
    assert len(holders) == 1, [run.result["claim"] for run in runs]
    assert [a["metadata"]["owner"] for a in claims(cloud)] == holders


def test_health_reads_every_kvm_host_up(admin_env):
    run, unknown, bad = run_modules([("compute_host_health", {"host": HOST, "samples": 2, "interval": 1}, False),
                                     ("compute_host_health", {"host": "no-such-host"}, False),
                                     ("compute_host_health", {"samples": 0}, False)], env=admin_env)
    assert not run.failed, run.output
    health = run.result["health"]
    assert {row["host"] for row in health["hosts"]} >= {"kvm-compute-1", "kvm-compute-2"}
    assert not [row for row in health["hosts"] if row["host"].startswith("vmware")]
    assert (health["down"], health["samples"]) == ([], 2)
    assert (health["verdict"]["recover"], health["verdict"]["gate"]) == (False, "up")
    assert unknown.result["health"]["verdict"]["gate"] == "not_kvm"
    assert bad.failed and "samples and stale_after must be at least 1" in bad.msg
