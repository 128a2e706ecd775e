# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Nova host aggregates: what to change to reach the wanted state, what nova would refuse, and the calls.

Nova keeps the availability zone as the metadata key ``availability_zone`` too, so it is
compared as its own field, never as metadata. A host is in one zone at most: nova refuses
to give an aggregate a zone, or to add a host to an aggregate with a zone, when another
aggregate already puts that host in another zone (``is_safe_to_update_az``). ``refusals``
finds that, and hosts that are no nova-compute service, before the first write.
"""

from __future__ import annotations

from .._common.errors import BackendError
from . import nova

AZ_KEY = "availability_zone"


def view(aggregate):
    """The fields the module manages, as plain data (None: no aggregate)."""
    if aggregate is None:
        return None
    return {
        "name": aggregate["name"],
        "availability_zone": aggregate.get("availability_zone"),
        "hosts": sorted(aggregate.get("hosts") or []),
        "metadata": {k: v for k, v in (aggregate.get("metadata") or {}).items() if k != AZ_KEY},
    }


def find(aggregates, name):
    """The aggregate of that name among nova's (the first, names being unique in practice), or None."""
    return next((item for item in aggregates if item["name"] == name), None)


def plan(current, wanted, purge_hosts, purge_metadata):
    """(after, steps) to go from ``current`` (a view, or None) to ``wanted``.

    ``wanted`` holds name and, when managed, availability_zone (str), hosts (list) and
    metadata (dict). Steps are ("create"|"set_az"|"add_host"|"remove_host"|"set_metadata", arg).
    """
    before = current or {"name": wanted["name"], "availability_zone": None, "hosts": [], "metadata": {}}
    steps = [] if current else [("create", wanted.get("availability_zone"))]
    after = dict(before, hosts=list(before["hosts"]), metadata=dict(before["metadata"]))
    zone = wanted.get("availability_zone")
    if zone is not None and zone != before["availability_zone"]:
        after["availability_zone"] = zone
        if current:
            steps.append(("set_az", zone))
    if wanted.get("hosts") is not None:
        hosts = set(wanted["hosts"])
        steps += [("add_host", host) for host in sorted(hosts - set(before["hosts"]))]
        keep = hosts if purge_hosts else hosts | set(before["hosts"])
        steps += [("remove_host", host) for host in sorted(set(before["hosts"]) - keep)]
        after["hosts"] = sorted(keep)
    metadata = {k: str(v) for k, v in (wanted.get("metadata") or {}).items()}
    changes = {k: v for k, v in metadata.items() if before["metadata"].get(k) != v}
    if purge_metadata:
        changes.update({k: None for k in before["metadata"] if k not in metadata})
    if changes:
        steps.append(("set_metadata", changes))
        after["metadata"].update(changes)
        after["metadata"] = {k: v for k, v in after["metadata"].items() if v is not None}
    return after, steps


def describe(step):
    """A step as the module reports it ("add_host kvm-compute-2")."""
    action, argument = step
    return action if argument is None else "%s %s" % (action, argument)


def refusals(existing, after, steps, aggregates, service_hosts):
    """Why nova would refuse ``steps``, one line each (empty: nothing foreseen).

    ``existing`` is nova's aggregate (None before creation), ``after`` the planned view,
    ``aggregates`` every aggregate of the cloud and ``service_hosts`` the hosts of its
    nova-compute services.
    """
    added = [host for action, host in steps if action == "add_host"]
    unknown = sorted(set(added) - set(service_hosts))
    found = []
    if unknown:
        found.append("no nova-compute service runs on %s (an aggregate holds nova-compute service hosts, as "
                     "'openstack compute service list' shows them)" % ", ".join(unknown))
    zone = after["availability_zone"]
    if not zone:
        return found
    # Nova checks the hosts it holds when the zone changes, and each host it adds.
    checked = set(added) - set(unknown)
    if existing and any(action == "set_az" for action, _argument in steps):
        checked |= set(existing.get("hosts") or [])
    for host in sorted(checked):
        others = sorted("%s (aggregate %s)" % (item["availability_zone"], item["name"]) for item in aggregates
                        if host in (item.get("hosts") or []) and item.get("availability_zone") not in (None, zone)
                        and not (existing and item["id"] == existing["id"]))
        if others:
            found.append("host %s is in availability zone %s already, and a host is in one zone at most"
                         % (host, ", ".join(others)))
    return found


def check(existing, after, steps, aggregates, service_hosts):
    """Raise BackendError, before anything is written, when nova would refuse ``steps``."""
    found = refusals(existing, after, steps, aggregates, service_hosts)
    if found:
        raise BackendError("Nothing was changed: aggregate %s cannot be made as asked: %s." % (
            after["name"], "; ".join(found)))


def apply(client, existing, name, steps, journal):
    """Carry out ``steps``, each recorded in ``journal``; the aggregate as nova reports it after the last.

    An aggregate this run creates is recorded with its undoing: its hosts removed, then it
    deleted (nova refuses to delete an aggregate that still has hosts).
    """
    aggregate = existing

    def undo():
        delete(client, aggregate)  # as nova reported it after the last step that succeeded

    for step in steps:
        action, argument = step
        if action == "create":
            aggregate = nova.create_aggregate(client, name, argument)
            journal.created(describe(step), "aggregate %s (%s)" % (name, aggregate["id"]), undo)
            continue
        if action == "set_az":
            aggregate = nova.update_aggregate(client, aggregate, {"availability_zone": argument},
                                              "set the availability zone of aggregate %s" % name)
        else:
            doing = {"add_host": "add host %s to aggregate %s", "remove_host": "remove host %s from aggregate %s",
                     "set_metadata": "set metadata %s on aggregate %s"}[action] % (argument, name)
            payload = {"metadata": argument} if action == "set_metadata" else {"host": argument}
            aggregate = nova.aggregate_action(client, aggregate, action, payload, doing)
        journal.done(describe(step))
    return aggregate


def delete(client, aggregate):
    """Remove the aggregate's hosts (nova refuses to delete a non-empty one), then it."""
    for host in aggregate.get("hosts") or []:
        nova.aggregate_action(client, aggregate, "remove_host", {"host": host},
                              "remove host %s from aggregate %s" % (host, aggregate["name"]))
    nova.delete_aggregate(client, aggregate)
