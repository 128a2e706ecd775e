"""host_recovery_claim and compute_host_health against the lab's real nova.

The claim is a nova aggregate whose name nova keeps unique; these tests take, keep, refuse,
replace and release it, and claim it from several runs at once, of which exactly one may win.
"""

import concurrent.futures

import pytest

from helpers.cloud import Cloud
from helpers.playbook import run_module

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


def claims(cloud):
    return [a for a in cloud.call("GET", "/os-aggregates", microversion="2.41")["aggregates"] if a["name"] == CLAIM]


def test_a_claim_is_taken_kept_refused_replaced_and_released(cloud, admin_env):
    checked = claim(admin_env, "run-a", check_mode=True)
    assert checked.result["changed"] and checked.result["claim"]["action"] == "take"
    assert not claims(cloud)

    taken = claim(admin_env, "run-a")
    assert not taken.failed, taken.output
    assert (taken.result["changed"], taken.result["claim"]["held"]) == (True, True)
    [aggregate] = claims(cloud)
    assert (aggregate["hosts"], aggregate["metadata"]) == ([], {"owner": "run-a", "outcome": "recovering"})
    assert taken.result["diff"] == {"before": {}, "after": {"owner": "run-a", "outcome": "recovering", "detail": None,
                                                            "claimed_at": aggregate["created_at"]}}

    again = claim(admin_env, "run-a")
    assert (again.result["changed"], again.result["claim"]["held"]) == (False, True)

    refused = claim(admin_env, "run-b")
    assert not refused.failed and not refused.result["changed"]
    assert not refused.result["claim"]["held"]
    assert refused.result["claim"]["reason"].startswith("kvm-compute-1 is already claimed by run-a since ")

    recorded = claim(admin_env, "run-a", outcome="recovered", detail="fenced, 3 evacuated")
    assert recorded.result["changed"]
    assert claims(cloud)[0]["metadata"] == {"owner": "run-a", "outcome": "recovered", "detail": "fenced, 3 evacuated"}

    # Past the cooldown (0 s here), another run replaces the claim.
    replaced = claim(admin_env, "run-b", cooldown=0)
    assert (replaced.result["changed"], replaced.result["claim"]["held"], replaced.result["claim"]["action"]) == (
        True, True, "replace")
    assert [a["metadata"]["owner"] for a in claims(cloud)] == ["run-b"]

    left = claim(admin_env, "run-a", state="released")
    assert not left.result["changed"] and claims(cloud)
    for check_mode, changed, remaining in ((True, True, 1), (False, True, 0), (False, False, 0)):
        released = claim(admin_env, "run-b", state="released", check_mode=check_mode)
        assert (released.result["changed"], len(claims(cloud))) == (changed, remaining), released.output


def test_of_runs_claiming_at_once_exactly_one_holds_the_claim(cloud, admin_env):
    owners = ["run-%d" % index for index in range(4)]
    with concurrent.futures.ThreadPoolExecutor(len(owners)) as pool:
        runs = list(pool.map(lambda owner: claim(admin_env, owner), owners))
    assert not [run.output for run in runs if run.failed]
    holders = [owner for owner, run in zip(owners, runs) if run.result["claim"]["held"]]
    assert len(holders) == 1, [run.result["claim"] for run in runs]
    assert [a["metadata"]["owner"] for a in claims(cloud)] == holders


def test_health_reads_every_kvm_host_up(admin_env):
    run = run_module("compute_host_health", {"host": HOST, "samples": 2, "interval": 1}, env=admin_env)
    assert not run.failed, run.output
    health = run.result["health"]
    assert {row["host"] for row in health["hosts"]} >= {"kvm-compute-1", "kvm-compute-2"}
    assert not [row for row in health["hosts"] if row["host"].startswith("vmware")]
    assert (health["down"], health["samples"]) == ([], 2)
    assert (health["verdict"]["recover"], health["verdict"]["gate"]) == (False, "up")
    unknown = run_module("compute_host_health", {"host": "no-such-host"}, env=admin_env)
    assert unknown.result["health"]["verdict"]["gate"] == "not_kvm"
    bad = run_module("compute_host_health", {"samples": 0}, env=admin_env)
    assert bad.failed and "samples and stale_after must be at least 1" in bad.msg
