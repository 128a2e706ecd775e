# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Whether evacuating a failed compute host is safe, and what to do with each of its instances.

Pure logic over nova's own records as plain dicts: compute services and hypervisors
(microversion 2.53), servers (2.53, which embeds the flavor with its extra specs: 2.47 and
later) and evacuation migrations (2.59). A gate that fails raises ``EvacuationRefused`` before
anything is changed; otherwise each instance gets one row saying what will happen to it.
"""

from __future__ import annotations

import datetime

from .._common.errors import BackendError
from .nova import hypervisor_kind

# nova's compute API evacuates an instance only in these vm_states, and only with no task.
EVACUABLE_STATES = ("active", "stopped", "error")
# Instances on a host that nova cannot or should not rebuild elsewhere, and what to do instead
# (shelved-offloaded and deleted ones are on no host).
CANNOT_EVACUATE = {
    "building": "it never finished building on the failed host: delete it and create it again",
    "shelved": "it is shelved: unshelve it, which rebuilds it from its snapshot on a live host",
    "soft-deleted": "it is soft-deleted: restore it first, or let nova reclaim it",
}
# nova refuses to evacuate an instance with a vTPM (reject_vtpm_instances in nova/compute/api.py).
VTPM_EXTRA_SPECS = ("hw:tpm_version", "hw:tpm_model")
REBUILD_TASK_STATES = ("rebuilding", "rebuild_block_device_mapping", "rebuild_spawning")
# Statuses of an evacuation migration: accepted -> pre-migrating -> done (-> completed once the
# source nova-compute restarts and destroys its stale copy), or failed / error.
IN_PROGRESS = ("accepted", "pre-migrating")
FAILED = ("failed", "error")
POWER_RUNNING = 1
# An instance opts in to evacuation with its metadata or its flavor's extra spec opt_in_key set to
# one of these (any case), like masakari's HA_Enabled and Red Hat InstanceHA's evacuable.
TRUE_WORDS = ("true", "yes", "1")
OPT_IN_SOURCES = {"all": (), "metadata": ("metadata",), "flavor": ("flavor",), "any": ("metadata", "flavor")}
# Written into the source service's disabled_reason, so that people and later runs see who
# disabled it and how to undo it.
DISABLED_REASON = "instance_evacuate: host failed and was evacuated; bring it back with state=restored"
# How far before nova's newest heartbeat to ask os-migrations for changes: covers clock
# differences between nova's own services.
CHANGES_SINCE_MARGIN = datetime.timedelta(minutes=5)


class EvacuationRefused(BackendError):
    """A safety gate refused; nothing was changed."""


def source_service(host, services):
    """The nova-compute service of host, or a refusal naming the known hosts."""
    for service in services:
        if service["host"] == host and service.get("binary", "nova-compute") == "nova-compute":
            return service
    known = ", ".join(sorted(service["host"] for service in services)) or "none"
    raise EvacuationRefused("There is no nova-compute service on host %s (known hosts: %s)." % (host, known))


def check_source(host, services, hypervisors, fenced):
    """Refuse unless host can be evacuated; return its service and the update to make to it.

    The update disables the service with DISABLED_REASON (so it takes no new instances when it
    comes back) and, when the caller asserts the host is fenced, forces it down: nova then
    accepts evacuations at once instead of after service_down_time without heartbeats.
    """
    service = source_service(host, services)
    kinds = {hypervisor_kind(hv.get("hypervisor_type")) for hv in hypervisors if _host_of(hv) == host}
    if "vsphere" in kinds:
        raise EvacuationRefused(
            "%s is a vSphere proxy: nova's VMware driver does not support evacuate, and vSphere HA already "
            "restarts the cluster's VMs on its other ESXi hosts. If the proxy itself failed, start nova-compute "
            "with the same host name on another machine instead." % host)
    if service["state"] == "up" and not fenced:
        raise EvacuationRefused(
            "nova-compute on %s is up (last heartbeat %s). Evacuating from a host that is still alive starts a "
            "second copy of its instances and corrupts shared disks. Fence the host (power it off), then run "
            "again with fenced: true, or wait until nova reports the service down." % (host, service.get("updated_at")))
    update = {}
    if service["status"] != "disabled":
        update.update(status="disabled", disabled_reason=DISABLED_REASON)
    if fenced and not service.get("forced_down"):
        update["forced_down"] = True
    return service, update


def check_targets(host, services, hypervisors, target_host=None):
    """Refuse unless another enabled, up compute (and target_host, if named, is one) can take instances."""
    proxies = {_host_of(hv) for hv in hypervisors if hypervisor_kind(hv.get("hypervisor_type")) == "vsphere"}
    usable = sorted(service["host"] for service in services
                    if service["host"] != host and service["status"] == "enabled" and service["state"] == "up"
                    and service["host"] not in proxies)
    if target_host:
        if target_host == host:
            raise EvacuationRefused("target_host is %s itself: name another host, or none to let the scheduler choose."
                                    % host)
        if target_host not in usable:
            target = next((s for s in services if s["host"] == target_host), None)
            why = ("there is no nova-compute service on it" if target is None
                   else "it is a vSphere proxy" if target_host in proxies
                   else "its nova-compute is %s and %s" % (target["status"], target["state"]))
            raise EvacuationRefused("target_host %s cannot take instances: %s. Usable hosts: %s."
                                    % (target_host, why, ", ".join(usable) or "none"))
    if not usable:
        raise EvacuationRefused("No other nova-compute is enabled and up, so there is nowhere to evacuate the "
                                "instances of %s to." % host)
    return usable


def changes_since(services):
    """An os-migrations changes-since value on nova's own clock: its newest heartbeat, minus a margin.

    Taken from nova rather than from this machine, so that a skewed clock here cannot hide
    updates; the margin covers skew between nova's own services.
    """
    stamps = [service["updated_at"] for service in services if service.get("updated_at")]
    if not stamps:
        return None
    newest = max(datetime.datetime.strptime(stamp[:19], "%Y-%m-%dT%H:%M:%S") for stamp in stamps)
    return (newest - CHANGES_SINCE_MARGIN).strftime("%Y-%m-%dT%H:%M:%SZ")


def moving_or_moved(servers, migrations):
    """Ids of instances to read again, because an evacuation has moved them or may be moving them.

    The servers are read before the migrations, so an evacuation that ended in between shows
    here as a 'done' migration of an instance still listed on the host; one in its last step
    has already left the listing while its migration is not yet 'done'.
    """
    here = {server["id"] for server in servers}
    return sorted(uuid for uuid, migration in latest_migrations(migrations).items()
                  if migration["status"] == "done" or (migration["status"] in IN_PROGRESS and uuid not in here))


def plan_instances(host, servers, migrations, reread, options):
    """One row per instance on host, or evacuated from it while it was down.

    servers: the instances listed on host, read before migrations; reread: the instances
    moving_or_moved() named, read afterwards (deleted ones left out). options: target_state
    (preserve|stopped), opt_in (all|metadata|flavor|any), opt_in_key, shared_storage, skip_local_disks.
    Actions: evacuate, reset_and_evacuate (its state must be reset to error first), follow
    (an evacuation already started), already_evacuated, filtered_out, cannot (with the reason).
    """
    latest = latest_migrations(migrations)
    current = dict((server["id"], server) for server in servers)
    current.update((server["id"], server) for server in reread)
    rows = []
    for server in current.values():
        migration = latest.get(server["id"])
        if server.get("OS-EXT-SRV-ATTR:host") == host:
            rows.append(_plan_server(host, server, migration, options))
        elif migration["status"] == "done":
            row = _row(host, server, "already_evacuated", "evacuated earlier (migration %s)" % migration["id"],
                       status="done")
            row.update(to=migration["dest_compute"], migration_id=migration["id"])
            rows.append(row)
        else:
            rows.append(_follow(host, server, migration, options))
    return sorted(rows, key=lambda row: (row["name"] or "", row["id"]))


def latest_migrations(migrations):
    """The newest evacuation migration of each instance, by instance id."""
    latest = {}
    for migration in sorted(migrations, key=lambda m: m["id"]):
        latest[migration["instance_uuid"]] = migration
    return latest


def expected_state(server, target_state):
    """The vm_state an evacuated instance must end in.

    Under preserve nova keeps active and stopped instances as they were, but boots every
    instance it rebuilds from error; for those (and for instances whose odd state is reset to
    error first) the last power state nova knew tells whether the guest was running.
    """
    vm_state = _vm_state(server)
    if target_state == "stopped":
        return "stopped"
    if vm_state in ("active", "stopped"):
        return vm_state
    return "active" if server.get("OS-EXT-STS:power_state") == POWER_RUNNING else "stopped"


def check_restore(host, services, migrations):
    """The service update that brings a repaired host back, or a refusal while nova still needs it down."""
    service = source_service(host, services)
    running = [m for m in migrations if m["status"] in IN_PROGRESS]
    if running:
        raise EvacuationRefused("%d evacuation(s) from %s are still in progress (migrations %s): wait until they "
                                "end, then restore the host." % (len(running), host, _ids(running)))
    done = [m for m in migrations if m["status"] == "done"]
    if done:
        raise EvacuationRefused(
            "nova-compute on %s has not yet cleaned up after the evacuation: migrations %s are still 'done'. Start "
            "nova-compute on the repaired host; at start it destroys its stale copies of the evacuated instances "
            "and marks those migrations completed. Then run this again." % (host, _ids(done)))
    update = {}
    if service.get("forced_down"):
        update["forced_down"] = False
    if service["status"] == "disabled":
        update["status"] = "enabled"
    return service, update


def _plan_server(host, server, migration, options):
    vm_state, task_state = _vm_state(server), server.get("OS-EXT-STS:task_state")
    # An evacuation is under way while its instance has a rebuild task, and also once nova has
    # claimed a destination (pre-migrating): the task is cleared a moment before the instance
    # changes host. Evacuating it again then would start a second copy.
    if migration and migration["status"] in IN_PROGRESS and (
            task_state in REBUILD_TASK_STATES or migration["status"] == "pre-migrating"):
        return _follow(host, server, migration, options)
    refusal = not_opted_in(server, options["opt_in"], options["opt_in_key"])
    if refusal:
        return _row(host, server, "filtered_out", refusal, status="skipped")
    if vm_state in CANNOT_EVACUATE:
        return _row(host, server, "cannot", CANNOT_EVACUATE[vm_state], status="skipped")
    extra_specs = (server.get("flavor") or {}).get("extra_specs") or {}
    if any(key in extra_specs for key in VTPM_EXTRA_SPECS):
        return _row(host, server, "cannot", "it has a vTPM, which nova does not evacuate", status="skipped")
    loss = None if options["shared_storage"] else _local_data(server)
    if loss and options["skip_local_disks"]:
        return _row(host, server, "cannot", "evacuation would lose its %s (skip_local_disks)" % loss,
                    status="skipped")
    if vm_state not in EVACUABLE_STATES or task_state is not None:
        action = "reset_and_evacuate"
        reason = "nova evacuates only active, stopped or error instances with no task; this one is %s%s" % (
            vm_state, " (task %s)" % task_state if task_state else "")
    else:
        action, reason = "evacuate", None
    row = _row(host, server, action, reason)
    row.update(expected_vm_state=expected_state(server, options["target_state"]), data_loss=loss)
    return row


def _follow(host, server, migration, options):
    row = _row(host, server, "follow", "its evacuation had already started (migration %s)" % migration["id"])
    row.update(migration_id=migration["id"], expected_vm_state=expected_state(server, options["target_state"]))
    return row


def _local_data(server):
    """What an evacuation without shared instance storage loses of this instance, if anything."""
    flavor = server.get("flavor") or {}
    lost = []
    if server.get("image"):  # "" for a volume-backed instance
        lost.append("image-backed root disk (rebuilt from image %s)" % server["image"].get("id"))
    if flavor.get("ephemeral"):
        lost.append("ephemeral disk of %s GB" % flavor["ephemeral"])
    return " and ".join(lost) or None


def not_opted_in(server, opt_in, key):
    """None if the instance is to be evacuated under opt_in, else why not.

    metadata: the server's metadata KEY; flavor: the extra spec KEY of the flavor embedded in the
    server (as it was booted or last resized); any: either; all: every instance. A value of true,
    yes or 1, in any case, opts in.
    """
    values = {"metadata": (server.get("metadata") or {}).get(key),
              "flavor": ((server.get("flavor") or {}).get("extra_specs") or {}).get(key)}
    sources = OPT_IN_SOURCES[opt_in]
    if not sources or any(str(values[source]).strip().lower() in TRUE_WORDS for source in sources
                          if values[source] is not None):
        return None
    found = ["%s %s %s" % ("metadata" if source == "metadata" else "flavor extra spec", key,
                           "is not set" if values[source] is None else "is %r" % values[source]) for source in sources]
    return "not opted in (opt_in %s): %s; true, yes or 1 opts in" % (opt_in, " and ".join(found))


def _row(host, server, action, reason, status="planned"):
    return {
        "id": server["id"], "name": server.get("name"), "action": action, "reason": reason, "status": status,
        "from": host, "to": None, "migration_id": None, "vm_state": _vm_state(server),
        "task_state": server.get("OS-EXT-STS:task_state"), "expected_vm_state": None,
        "attempts": 0, "seconds": None, "error": None, "data_loss": None, "earlier_errors": [],
    }


def _vm_state(server):
    return server.get("OS-EXT-STS:vm_state")


def _host_of(hypervisor):
    return (hypervisor.get("service") or {}).get("host")


def _ids(migrations):
    return ", ".join(str(number) for number in sorted(m["id"] for m in migrations))
