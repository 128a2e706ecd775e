# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One recovery per failed host, whoever else reacts to the same failure.

Two events for one outage (a duplicate, or a second rulebook, AWX schedule or controller
watching the same cloud) must lead to one fence and one evacuation. The claim is a nova host
aggregate named after the host: nova's API database keeps aggregate names unique, so of two
runs creating it at once exactly one succeeds, on any number of controllers, with nothing
to run beside nova. The aggregate holds no hosts (the scheduler ignores it); its
``created_at`` is when the host was claimed, its metadata who claimed it and how the
recovery went. It stays after a recovery for ``cooldown`` seconds, so a host that flaps is
not fenced again and again; a failed fence releases it, so that the next event tries again.
"""

from __future__ import annotations

from .._common.errors import BackendError
from . import nova
from .host_health import stamp_seconds

PREFIX = "mixed-cloud-ha-recovery:"
OUTCOMES = ("recovering", "recovered", "not_recovered")


def claim_name(host):
    return PREFIX + host


def claim_view(aggregate):
    """An aggregate of this kind as the claim it is: host, id, claimed_at (epoch), owner, outcome."""
    metadata = aggregate.get("metadata") or {}
    return {
        "host": aggregate["name"][len(PREFIX):],
        "id": aggregate["id"],
        "claimed_at": aggregate.get("created_at"),
        "claimed_at_epoch": stamp_seconds(aggregate.get("created_at")),
        "owner": metadata.get("owner"),
        "outcome": metadata.get("outcome", "recovering"),
        "detail": metadata.get("detail"),
    }


def find_claim(aggregates, host):
    found = [aggregate for aggregate in aggregates if aggregate["name"] == claim_name(host)]
    return claim_view(found[0]) if found else None


def plan_claim(existing, owner, now, cooldown):
    """What claiming the host means now: (action, reason), action one of take, keep, replace, refuse."""
    if existing is None:
        return "take", "no recovery of this host is under way or cooling down"
    if existing["owner"] == owner:
        return "keep", "this run holds the claim"
    age = None if existing["claimed_at_epoch"] is None else now - existing["claimed_at_epoch"]
    if age is not None and age >= cooldown:
        return "replace", "the last claim (%s by %s, %s) is older than the cooldown of %d s" % (
            existing["claimed_at"], existing["owner"], existing["outcome"], cooldown)
    return "refuse", "%s is already claimed by %s since %s (%s); cooldown %d s" % (
        existing["host"], existing["owner"] or "another run", existing["claimed_at"], existing["outcome"], cooldown)


def metadata(owner, outcome, detail=None):
    """The claim's metadata; nova keeps values of at most 255 characters."""
    # A key set to None is removed, so no detail of an earlier outcome stays behind.
    return {"owner": owner[:255], "outcome": outcome, "detail": detail[:255] if detail else None}


def take(client, host, owner, outcome, detail=None):
    """Create the claim; None when another run created it first (nova refused a second of that name)."""
    try:
        aggregate = nova.create_aggregate(client, claim_name(host))
    except BackendError:
        if find_claim(nova.list_aggregates(client), host) is not None:
            return None
        raise
    try:
        aggregate = nova.aggregate_action(client, aggregate, "set_metadata",
                                          {"metadata": metadata(owner, outcome, detail)},
                                          "record the recovery claim of %s" % host)
    except BackendError:
        # A claim without its owner would refuse every run until the cooldown: undo it.
        nova.delete_aggregate(client, aggregate)
        raise
    return claim_view(aggregate)


def record(client, claim, owner, outcome, detail=None):
    """Set the outcome of a claim this run holds; the claim after it."""
    aggregate = nova.aggregate_action(client, {"id": claim["id"]}, "set_metadata",
                                      {"metadata": metadata(owner, outcome, detail)},
                                      "record the recovery outcome of %s" % claim["host"])
    return claim_view(aggregate)


def release(client, claim):
    nova.delete_aggregate(client, {"id": claim["id"], "name": claim_name(claim["host"])})
