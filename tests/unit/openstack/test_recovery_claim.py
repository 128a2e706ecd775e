"""The recovery claim's plan and its view of an aggregate: plain data, no network."""

from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._openstack import recovery_claim
from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._openstack.host_health import stamp_seconds

CREATED = "2026-12-01T15:00:00.000000"
AT = stamp_seconds(CREATED)


def claim(owner="run-a", outcome="recovered"):
    aggregate = {"id": 7, "name": recovery_claim.claim_name("kvm-1"), "created_at": CREATED,
                 "metadata": {"owner": owner, "outcome": outcome}}
    return recovery_claim.claim_view(aggregate)


def test_a_claim_reads_back_from_its_aggregate():
    assert claim() == {"host": "kvm-1", "id": 7, "claimed_at": CREATED, "claimed_at_epoch": AT, "owner": "run-a",
                       "outcome": "recovered", "detail": None}
    others = [{"id": 1, "name": "kvm", "metadata": {}},
              {"id": 7, "name": "mixed-cloud-ha-recovery:kvm-1", "created_at": CREATED, "metadata": {}}]
    assert recovery_claim.find_claim(others, "kvm-1")["outcome"] == "recovering"  # metadata not written yet
    assert recovery_claim.find_claim(others, "kvm-2") is None


def test_the_plan():
    assert recovery_claim.plan_claim(None, "run-b", AT, 900)[0] == "take"
    assert recovery_claim.plan_claim(claim(), "run-a", AT + 5000, 900)[0] == "keep"
    action, reason = recovery_claim.plan_claim(claim(), "run-b", AT + 899, 900)
    assert action == "refuse"
    assert reason == "kvm-1 is already claimed by run-a since %s (recovered); cooldown 900 s" % CREATED
    assert recovery_claim.plan_claim(claim(), "run-b", AT + 900, 900)[0] == "replace"
    # A claim whose owner is not written yet is still someone's: refused.
    assert recovery_claim.plan_claim(claim(owner=None), "run-b", AT + 1, 900)[0] == "refuse"


def test_metadata_fits_nova_and_clears_an_old_detail():
    values = recovery_claim.metadata("x" * 300, "recovered", "y" * 300)
    assert (len(values["owner"]), len(values["detail"])) == (255, 255)
    expected = {"owner": "run-a", "outcome": "recovering", "detail": None}
    assert recovery_claim.metadata("run-a", "recovering") == expected
