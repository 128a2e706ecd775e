# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which KVM hosts stopped reporting, and whether recovering one is safe: plain data in and out.

A nova-compute writes its heartbeat (the service's ``updated_at``) every ``report_interval``
(10 s by default); nova calls a service down once it is older than ``service_down_time``
(60 s) on the reading API's clock. Here a heartbeat's age is measured against the newest
heartbeat of every compute service instead: no clock of the reader is involved, and when the
whole control plane stalls (the database or the message bus gone, so that nobody's heartbeat
moves) no host looks older than the others and none is called down. That is the failure
HA must not act on.

``Watch`` adds the debounce of an event source: a host is reported only after ``samples``
reads in a row found it silent, once per outage, and reported as back once it is up again.
A host found forced down before its outage was seen is not reported: someone fenced it
already.
"""

from __future__ import annotations

import calendar
import time

from . import nova

DEFAULT_STALE_AFTER = 25
DEFAULT_MAX_DOWN_FRACTION = 0.5


def stamp_seconds(stamp):
    """nova's ``updated_at`` (UTC, ``2026-12-01T15:00:00.000000``, with or without zone) as epoch seconds."""
    if not stamp:
        return None
    text = stamp.rstrip("Z").split("+")[0]
    whole, _dot, fraction = text.partition(".")
    seconds = calendar.timegm(time.strptime(whole, "%Y-%m-%dT%H:%M:%S"))
    return seconds + (float("0." + fraction) if fraction.isdigit() else 0.0)


def heartbeats(services, hypervisors, kinds=("libvirt",)):
    """One row per nova-compute service whose hypervisor is of ``kinds``, and the newest heartbeat of all.

    The newest heartbeat is taken over every nova service (conductor, scheduler, vSphere
    proxies too): it is nova's "now" as its services last wrote it. The conductor and the
    scheduler write theirs to the database themselves, the computes through the conductor
    over the message bus: when the bus fails, every compute lags, and the threshold refuses.
    """
    kind_of = {(hypervisor.get("service") or {}).get("host"): nova.hypervisor_kind(hypervisor.get("hypervisor_type"))
               for hypervisor in hypervisors}
    stamps = [stamp_seconds(service.get("updated_at")) for service in services]
    newest = max([stamp for stamp in stamps if stamp is not None], default=None)
    rows = []
    for service in services:
        if service.get("binary", "nova-compute") != "nova-compute" or kind_of.get(service["host"]) not in kinds:
            continue
        rows.append({
            "host": service["host"],
            "service_id": service["id"],
            "status": service.get("status"),
            "forced_down": bool(service.get("forced_down")),
            "disabled_reason": service.get("disabled_reason"),
            "nova_state": service.get("state"),
            "updated_at": service.get("updated_at"),
            "heartbeat": stamp_seconds(service.get("updated_at")),
        })
    return sorted(rows, key=lambda row: row["host"]), newest


def read_heartbeats(client, kinds=("libvirt",)):
    """``heartbeats`` of the cloud now: two listings (services, hypervisors), each followed through its pages."""
    return heartbeats(nova.list_services(client), nova.list_hypervisors(client), kinds)


def assess(rows, newest, stale_after=DEFAULT_STALE_AFTER):
    """Each row with ``silent_for`` (seconds its heartbeat lags the newest) and ``down``, and the totals.

    A host is down when its heartbeat lags by ``stale_after`` or more, or when it is forced
    down (someone fenced it). A service that never reported is down. A service disabled but not
    forced down is out of service (maintenance, or retired): it is left out, of the totals too.
    """
    assessed = []
    for row in rows:
        if row["status"] == "disabled" and not row["forced_down"]:
            continue
        lag = None if row["heartbeat"] is None or newest is None else max(0.0, newest - row["heartbeat"])
        down = row["forced_down"] or lag is None or lag >= stale_after
        assessed.append(dict(row, silent_for=None if lag is None else round(lag, 1), down=down))
    return _totals(assessed)


def _totals(hosts):
    """The assessed rows with the hosts down among them, their number and fraction."""
    down = [row["host"] for row in hosts if row["down"]]
    return {"hosts": hosts, "total": len(hosts), "down": down,
            "down_fraction": round(len(down) / len(hosts), 3) if hosts else 0.0}


def confirm(assessments):
    """The last of several assessments, with a host down only if every one found it down (debounce)."""
    last = assessments[-1]
    down_in_all = set(last["down"]).intersection(*[set(each["down"]) for each in assessments])
    hosts = [dict(row, down=row["host"] in down_in_all) for row in last["hosts"]]
    return dict(last, samples=len(assessments), **_totals(hosts))


def verdict(assessment, host, max_down_fraction=DEFAULT_MAX_DOWN_FRACTION):
    """Whether recovering ``host`` is safe now: {host, recover, gate, reason, silent_for, down, total}.

    ``gate`` names the gate that refused (not_kvm, up, too_many_down), or is ``pass``.

    Refused when the host is not a watched compute, when it reports again (it came back, or
    never failed), or when more than ``max_down_fraction`` of the watched hosts are down at
    once: that is a network or control-plane failure, and fencing would make it worse.
    """
    row = next((row for row in assessment["hosts"] if row["host"] == host), None)
    base = {"host": host, "down": assessment["down"], "total": assessment["total"],
            "down_fraction": assessment["down_fraction"],
            "silent_for": row["silent_for"] if row else None}
    if row is None:
        return dict(base, recover=False, gate="not_kvm", reason="%s is not a KVM compute host of this cloud" % host)
    if not row["down"]:
        return dict(base, recover=False, gate="up", reason="%s reports again (its heartbeat lags the newest by %s s)" % (
            host, row["silent_for"]))
    if assessment["down_fraction"] > max_down_fraction:
        numbers = (len(assessment["down"]), assessment["total"], ", ".join(assessment["down"]),
                   round(max_down_fraction * 100))
        return dict(base, recover=False, gate="too_many_down", reason=(
            "%d of %d KVM hosts are down at once (%s), more than %d%%: a network or control-plane failure, "
            "not a host failure; nothing is fenced" % numbers))
    if row["forced_down"]:
        reason = "%s is forced down (fenced earlier); its instances may still need evacuating" % host
        return dict(base, recover=True, gate="pass", reason=reason)
    return dict(base, recover=True, gate="pass", reason="%s has not reported for %s s" % (host, row["silent_for"]))


class Watch:
    """Debounced down and back events over successive reads (for the event source)."""

    def __init__(self, stale_after=DEFAULT_STALE_AFTER, samples=3):
        self.stale_after, self.samples = stale_after, samples
        self.silent_reads = {}  # host -> consecutive reads that found it down
        self.reported = set()  # hosts whose outage was reported and has not ended

    def read(self, rows, newest):
        """The events of one read: ``host_down`` once per outage after ``samples`` reads, ``host_up`` after one."""
        assessment = assess(rows, newest, self.stale_after)
        events = []
        for row in assessment["hosts"]:
            host = row["host"]
            if not row["down"]:
                self.silent_reads.pop(host, None)
                if host in self.reported:
                    self.reported.remove(host)
                    events.append(self._event("host_up", row, assessment))
                continue
            if row["forced_down"] and host not in self.silent_reads:
                # Someone fenced it before this watch began: not a failure to react to, but it counts as down.
                continue
            self.silent_reads[host] = self.silent_reads.get(host, 0) + 1
            # Reported once until it reports again: the service's updated_at also moves when it is
            # forced down or disabled (by the recovery itself), which is no new outage.
            if self.silent_reads[host] >= self.samples and host not in self.reported:
                self.reported.add(host)
                events.append(self._event("host_down", row, assessment))
        return events

    def _event(self, kind, row, assessment):
        others = [host for host in assessment["down"] if host != row["host"]]
        return {
            "type": kind,
            "host": row["host"],
            "service_id": row["service_id"],
            "down_for": row["silent_for"],
            "last_heartbeat": row["updated_at"],
            "forced_down": row["forced_down"],
            "status": row["status"],
            "samples": self.silent_reads.get(row["host"], 0),
            "other_hosts_down": others,
            "hosts_down": len(assessment["down"]),
            "hosts_total": assessment["total"],
            "down_fraction": assessment["down_fraction"],
        }
