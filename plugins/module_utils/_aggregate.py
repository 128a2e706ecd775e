# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Nova host aggregates: what to change to reach the wanted state (pure logic), and the calls.

Microversion 2.41 is the first that returns aggregates' UUIDs; nothing the module uses
changed after it. Nova keeps the availability zone as the metadata key
``availability_zone`` too, so it is compared as its own field, never as metadata.
"""

from __future__ import annotations

AGGREGATE_MICROVERSION = "2.41"
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


def find(client, name):
    body = client.request("compute", "GET", "/os-aggregates", microversion=AGGREGATE_MICROVERSION,
                          doing="list host aggregates")
    return next((item for item in body["aggregates"] if item["name"] == name), None)


def apply(client, aggregate_id, name, steps):
    """Carry out ``steps``; returns the aggregate as nova reports it after the last one."""
    result = None
    for action, argument in steps:
        if action == "create":
            body = {"aggregate": dict({"name": name}, **({"availability_zone": argument} if argument else {}))}
            result = client.request("compute", "POST", "/os-aggregates", microversion=AGGREGATE_MICROVERSION,
                                    json=body, doing="create host aggregate %s" % name)["aggregate"]
            aggregate_id = result["id"]
        elif action == "set_az":
            result = client.request("compute", "PUT", "/os-aggregates/%s" % aggregate_id,
                                    microversion=AGGREGATE_MICROVERSION,
                                    json={"aggregate": {"availability_zone": argument}},
                                    doing="set the availability zone of aggregate %s" % name)["aggregate"]
        else:
            doing = {"add_host": "add host %s to aggregate %s", "remove_host": "remove host %s from aggregate %s",
                     "set_metadata": "set metadata %s on aggregate %s"}[action] % (argument, name)
            payload = {"metadata": argument} if action == "set_metadata" else {"host": argument}
            result = client.request("compute", "POST", "/os-aggregates/%s/action" % aggregate_id,
                                    microversion=AGGREGATE_MICROVERSION, json={action: payload},
                                    doing=doing)["aggregate"]
    return result


def delete(client, aggregate):
    """Remove the aggregate's hosts (nova refuses to delete a non-empty one), then it."""
    apply(client, aggregate["id"], aggregate["name"], [("remove_host", host) for host in aggregate["hosts"]])
    client.request("compute", "DELETE", "/os-aggregates/%s" % aggregate["id"], microversion=AGGREGATE_MICROVERSION,
                   doing="delete host aggregate %s" % aggregate["name"])
