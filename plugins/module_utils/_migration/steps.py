# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A cold migration as a resumable state machine over its durable record.

The record (the journal, docs/migration-design.md) is a flat dict of strings, each key and
value at most 255 characters, as nova keeps an aggregate's metadata. It holds:

- ``state``: ``running``, ``done``, ``rolled_back`` (a finalized migration has no record: finalizing
  deletes it last, and the server's metadata says so);
- ``at``: the last step completed, ``<step>`` or ``<step>:<disk key>``; the forward steps are a
  fixed list derived from the record alone (``steps``), so a resumed run starts at the one after;
- what the claim fixed: ``source_power`` (the power state before the migration), ``disks``
  (the plan's disk keys, comma-separated), ``nics`` (how many), ``nova`` (the source's nova ID);
- ``owner`` and ``heartbeat``: the run working on it (``may_run``: one run at a time, a dead one
  taken over); ``source_fp``: the stopped source's fingerprint (``check_source_unchanged``);
- the facts later steps and the undoing need: ``stopped``, ``disk.<key>.stream_sha1``,
  ``disk.<key>.sha256`` (the source disk's bytes), ``disk.<key>.target_sha256``,
  ``disk.<key>.image``, ``port.<n>`` (``<port id>:moved`` or ``<port id>:created``), ``server``.

Forward progress follows ``at``; the undoing follows the facts (each undo removes its fact),
so a rollback or a finalize interrupted half-way also resumes. A record in state ``done`` has
no next step: a re-run of a finished migration changes nothing.

A lease is never recorded: each ``download`` opens its own and completes it after its manifest
check (an interrupted run lets it lapse), so that no lease idles through a conversion or upload.
"""

from __future__ import annotations

import hashlib
import json
import re

from .._common.errors import BackendError

LIMIT = 255
# nova's schema for aggregate metadata keys (parameter_types.metadata_with_null).
KEY = re.compile(r"^[a-zA-Z0-9-_:. ]{1,255}$")
DISK_STEPS = ("download", "convert", "hash_target", "upload")
STATES = ("running", "done", "rolled_back")


class MigrationRefused(BackendError):
    """The record does not allow what was asked (e.g. finalize before done); nothing was changed."""


def disk_keys(record):
    return [key for key in (record.get("disks") or "").split(",") if key]


def steps(record):
    """The forward steps of the migration the record describes, in order: (step, disk key or None)."""
    out = [("claim", None)]
    if record.get("source_power") == "poweredOn":
        out.append(("stop_source", None))
    for key in disk_keys(record):
        out.extend((step, key) for step in DISK_STEPS)
    if int(record.get("nics") or 0):
        out.append(("ports", None))
    out.extend([("create_server", None), ("wait_active", None)])
    return out


def _name(step, disk):
    return step if disk is None else "%s:%s" % (step, disk)


def claim_record(plan, source_fp=None):
    """The record the claim writes: what the rest of the migration is fixed to.

    ``source_fp`` (``source_fingerprint()``) is the powered-off source's fingerprint; a source
    that runs gets it recorded by ``stop_source`` instead.
    """
    record = {
        "state": "running", "at": "claim", "source": plan["source"]["moref"],
        "source_power": plan["source"]["power_state"],
        "disks": ",".join(str(disk["key"]) for disk in plan["disks"]),
        "nics": str(len(plan["nics"])),
    }
    if plan["source"].get("nova_id"):
        record["nova"] = plan["source"]["nova_id"]
    if source_fp:
        record["source_fp"] = source_fp
    check(record)
    return record


def check(record):
    """Refuse a record nova's metadata could not hold (a key nova's schema refuses, a value over 255
    characters or not a string)."""
    for key, value in record.items():
        if not isinstance(value, str) or not KEY.match(key) or len(value) > LIMIT:
            raise BackendError("The migration record's %s does not fit nova's metadata (strings of at most %d "
                               "characters): %r" % (key, LIMIT, value))
    return record


def next_step(record):
    """(step, disk key) to run next, or None when there is nothing left to do forward."""
    if record is None:
        return ("claim", None)
    if record.get("state") != "running":
        return None
    order = steps(record)
    names = [_name(*s) for s in order]
    if record.get("at") not in names:
        raise BackendError("The migration record is at %r, which is no step of this migration (%s): it was "
                           "written by another version; roll it back." % (record.get("at"), ", ".join(names)))
    index = names.index(record["at"]) + 1
    return order[index] if index < len(order) else None


def completed(record, step, disk=None, **facts):
    """The record after (step, disk) completed with its facts; refuses a step out of order."""
    expected = next_step(record)
    if expected != (step, disk):
        raise BackendError("Step %s completed but the migration's next step is %s." % (
            _name(step, disk), _name(*expected) if expected else "none"))
    if step == "claim":
        raise BackendError("The claim's record is claim_record(plan).")
    new = dict(record, at=_name(step, disk))
    new.update({key: str(value) for key, value in facts.items()})
    if step == "stop_source":
        new["stopped"] = "1"
    if next_step(new) is None:
        new["state"] = "done"
    return check(new)


def noted(record, **facts):
    """The record with facts learnt inside a step that has not completed (a port moved, an image
    created, the progress), so that an interruption half-way through the step loses none of them."""
    if record is None or record.get("state") != "running":
        raise BackendError("Facts can be noted only in a running migration.")
    return check(dict(record, **{key: str(value) for key, value in facts.items()}))


def restart_disk(record, disk):
    """The record with one disk's copy to do again (its hashes differed): back to the step before its download."""
    order = steps(record)
    names = [_name(*s) for s in order]
    first = names.index(_name("download", disk))
    if names.index(record["at"]) < first:
        return dict(record)
    new = {key: value for key, value in record.items() if not key.startswith("disk.%s." % disk)}
    new["at"] = names[first - 1]
    new["state"] = "running"
    return new


def ports(record):
    """The ports the record says were moved or created: [(n, port id, "moved" | "created")]."""
    out = []
    for key, value in record.items():
        if key.startswith("port."):
            port_id, how = value.rsplit(":", 1)
            out.append((int(key[5:]), port_id, how))
    return sorted(out)


def rollback_actions(record):
    """What is left to undo, in order; each action names the fact its completion removes.

    Undo runs newest first: the server, then the ports (a moved port goes back to the source,
    a created one is deleted), the images, and last the source's power, so that the source
    runs again only once nothing else holds its ports.
    """
    if record is None or record.get("state") == "rolled_back":
        return []
    if record.get("source_deleted"):
        raise MigrationRefused("The migration is being finalized: its source is deleted and cannot be rolled back.")
    actions = []
    if record.get("server"):
        actions.append({"action": "delete_server", "server": record["server"], "fact": "server"})
    for n, port_id, how in reversed(ports(record)):
        action = "reattach_port" if how == "moved" else "delete_port"
        actions.append({"action": action, "port": port_id, "fact": "port.%d" % n})
    for key in reversed(disk_keys(record)):
        image = record.get("disk.%s.image" % key)
        if image:
            actions.append({"action": "delete_image", "image": image, "disk": key, "fact": "disk.%s.image" % key})
    if record.get("stopped") and record.get("source_power") == "poweredOn":
        actions.append({"action": "power_on_source", "fact": "stopped"})
    actions.append({"action": "delete_staging", "fact": None})
    return actions


def undone(record, action):
    """The record after one rollback action; the last (deleting the staging files) leaves it rolled back."""
    new = {key: value for key, value in record.items() if key != action.get("fact")}
    if action["action"] == "delete_staging":
        new["state"] = "rolled_back"
    return new


def finalize_actions(record):
    """What is left of finalizing a done migration: delete the source, mark the server, drop the record.

    The images stay: nova rebuilds an evacuated server from its image. With the record gone,
    the server's metadata (``mixed_cloud_migration: finalized``) is what tells a re-run.
    """
    if record is None:
        return []
    if record.get("state") != "done":
        raise MigrationRefused("Only a migration that is done can be finalized; this one is %s (at %s)." % (
            record.get("state"), record.get("at")))
    actions = []
    if not record.get("source_deleted"):
        actions.append({"action": "delete_source", "nova": record.get("nova"), "source": record.get("source")})
    if not record.get("server_marked"):
        actions.append({"action": "mark_server_finalized", "server": record.get("server")})
    actions.append({"action": "delete_record"})
    return actions


FINALIZE_FACTS = {"delete_source": "source_deleted", "mark_server_finalized": "server_marked"}


def finalized(record, action):
    """The record after one finalize action; None once the record itself is deleted."""
    if action["action"] == "delete_record":
        return None
    return dict(record, **{FINALIZE_FACTS[action["action"]]: "1"})


# A run writes its owner and a heartbeat into the record with every step and every progress
# report (at least every STALE_AFTER / 4): another run finding the record running and the heartbeat
# fresh refuses; a stale one (its run was killed) is taken over and resumed.
STALE_AFTER = 600


def may_run(record, owner, now, stale_after=STALE_AFTER, owner_alive=None):
    """Whether run ``owner`` may work on the migration at epoch ``now``: (True, None) or (False, why).

    ``owner_alive(owner)`` says whether the run that wrote the record still lives, where the caller
    can tell (a run of the same host): False lets this run take over at once, None (unknown)
    waits for its heartbeat to go stale.
    """
    if record is None or record.get("state") != "running" or record.get("owner") in (None, owner):
        return True, None
    if owner_alive is not None and owner_alive(record["owner"]) is False:
        return True, None
    try:
        beat = float(record.get("heartbeat") or 0)
    except ValueError:
        beat = 0.0
    if now - beat >= stale_after:
        return True, None
    return False, "run %s is working on this migration (at %s, its last heartbeat %d s ago); wait for it, or for " \
                  "%d s without a heartbeat" % (record["owner"], record.get("at"), now - beat, stale_after)


def heartbeat(record, owner, now):
    """The record with this run's owner and heartbeat (epoch seconds)."""
    return dict(record, owner=owner, heartbeat="%d" % now)


def source_fingerprint(facts):
    """A short fingerprint of the powered-off source, to tell whether it changed between two runs.

    ``facts`` is plain data read after the source stopped: the VM's ``config.changeVersion`` and,
    per disk, its extent's datastore path, size and modification time (a power-on or a write
    changes them). Any JSON-ready value will do; the fingerprint is its canonical sha256.
    """
    return hashlib.sha256(json.dumps(facts, sort_keys=True, separators=(",", ":")).encode()).hexdigest()


def check_source_unchanged(record, source_fp):
    """Refuse to go on copying a source that changed since it was stopped (someone powered it on)."""
    recorded = (record or {}).get("source_fp")
    if recorded and recorded != source_fp:
        raise MigrationRefused("The source changed since this migration stopped it (it was powered on or "
                               "reconfigured): the bytes copied so far are not its bytes any more. Roll the "
                               "migration back (state=rolled_back) and start it again.")
