# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Carrying out planned evacuations: bounded submits in turn, parallel reads, one polling loop, retries.

Nova's evacuate call reports nothing back: the outcome lands in the instance's evacuation
migration record. So the loop keeps at most ``concurrency`` evacuations in flight, asks nova
once per tick for the source host's evacuation migrations (one listing, whatever the number
of instances), and reads a server only once its migration has ended. A failed attempt
(NoValidHost from concurrent claims, a target without room) is submitted again, to the
scheduler's choice, up to ``retries`` times.

The evacuate calls that fill free slots go out one after the other, in the plan's order: sent
at once, nova's scheduler placed a whole burst on one destination (it weighs hosts by their last
report, which the burst's claims have not reached yet), and a destination takes its claims one
at a time, so the burst ended later than the same calls made in turn. The reads of the servers
whose migrations ended in a tick are made in parallel, at most ``CALLS_AT_ONCE`` at a time.
The loop polls every ``POLL_INTERVAL`` with few evacuations in flight and sooner with many,
down to ``FASTEST_POLL``, never spending more than half its time polling; waits are bounded
by the nearest deadline, never blind.

``nova`` is any object with the calls of ``nova.NovaEvacuation``: evacuate,
reset_to_error, stop, server and migrations. ``clock``, ``sleep`` and ``parallel`` (a map
over threads) are injectable, so the unit tests run the loop on a simulated clock.
"""

from __future__ import annotations

import collections
import time
from concurrent.futures import ThreadPoolExecutor

from .._common.errors import BackendError
from .evacuation_plan import FAILED, IN_PROGRESS, latest_migrations

POLL_INTERVAL = 1.0
# With many evacuations in flight one ends every few tenths of a second: poll sooner, to fill its
# slot and report it at once; POLL_INTERVAL up to BUSY / 2 in flight, FASTEST_POLL from BUSY on. Not
# faster: on a control plane short of CPU, polls slow down the evacuations they wait for.
FASTEST_POLL = 0.5
BUSY = 8
# nova API calls made at once: openstacksdk's HTTP connection pool holds 10 per endpoint.
CALLS_AT_ONCE = 10
EVACUATING_ACTIONS = ("evacuate", "reset_and_evacuate", "follow")


class _Task:
    """One instance's way through the loop: queued -> evacuating -> checking -> finished."""

    def __init__(self, row, after, target):
        self.row = row
        self.after = after  # migrations up to this id belong to earlier attempts
        self.target = target
        self.phase = "queued"
        self.started = self.deadline = self.migration = None
        self.stop_sent = False


class Evacuation:
    def __init__(self, nova, rows, migrations, target_host=None, concurrency=20, retries=2, timeout=180,
                 clock=time.monotonic, sleep=time.sleep, parallel=None):
        self.nova, self.clock, self.sleep = nova, clock, sleep
        self.parallel = parallel or in_threads(min(concurrency, CALLS_AT_ONCE))
        self.poll_seconds = 0.0
        self.concurrency, self.retries, self.timeout = concurrency, retries, timeout
        self.changed = False
        self.poll_error = None
        seen = collections.defaultdict(int)
        for migration in migrations:
            seen[migration["instance_uuid"]] = max(seen[migration["instance_uuid"]], migration["id"])
        self.tasks = [_Task(row, seen[row["id"]], target_host) for row in rows if row["action"] in EVACUATING_ACTIONS]
        self.queue = collections.deque()
        now = self.clock()
        for task in self.tasks:
            if task.row["action"] == "follow":
                task.after = task.row["migration_id"] - 1
                self._enter(task, "evacuating", now)
                task.started = now
            else:
                self.queue.append(task)

    def run(self):
        """Evacuate every task's instance; fill in each row's outcome. True if anything was changed."""
        while True:
            tick = self.clock()
            self._tick()
            waiting = [task for task in self.tasks if task.phase in ("evacuating", "checking")]
            if not waiting and not self.queue:
                return self.changed
            if waiting:
                # One tick per interval, however long its requests took, or sooner for a deadline.
                wake = min([tick + self.interval()] + [task.deadline for task in waiting])
                self.sleep(max(0.0, wake - self.clock()))

    def interval(self):
        """Seconds from one tick to the next: POLL_INTERVAL, shorter with many in flight, at least twice the last poll."""
        in_flight = len(self._in("evacuating"))
        busy = FASTEST_POLL * BUSY / in_flight if in_flight else POLL_INTERVAL
        return min(POLL_INTERVAL, max(FASTEST_POLL, busy, 2 * self.poll_seconds))

    def _tick(self):
        self._fill()
        evacuating = self._in("evacuating")
        if evacuating:
            latest = latest_migrations(self._poll())
            for task in evacuating:
                migration = latest.get(task.row["id"])
                if migration and migration["id"] > task.after:
                    task.row["migration_id"] = migration["id"]
                    if migration["status"] not in IN_PROGRESS:
                        task.migration = migration
                        task.phase = "checking"
        checking = self._in("checking")
        for task, (server, error) in zip(checking, self.parallel(self._read, checking)):
            self._check(task, server, error)
        now = self.clock()
        for task in self._in("evacuating") + self._in("checking"):
            if now >= task.deadline:
                self._time_out(task)
        # Slots freed by evacuations that ended in this tick are filled at once, not a tick later.
        self._fill()

    def _fill(self):
        while self.queue and len(self._in("evacuating")) < self.concurrency:
            task = self.queue.popleft()
            self._submitted(task, *self._send(task))

    def _in(self, phase):
        return [task for task in self.tasks if task.phase == phase]

    def _enter(self, task, phase, now):
        task.phase, task.deadline = phase, now + self.timeout

    def _send(self, task):
        """The nova calls of one submit: (whether anything changed, the error or None)."""
        row, changed = task.row, False
        try:
            if row["action"] == "reset_and_evacuate" and not row["attempts"]:
                changed = self._reset(row)
            self.nova.evacuate(row["id"], task.target)
        except BackendError as error:
            return changed, str(error)
        return True, None

    def _submitted(self, task, changed, error):
        self.changed = self.changed or changed
        if error:
            self._finish(task, "failed", error=error)
            return
        now = self.clock()
        task.row["attempts"] += 1
        task.started = task.started if task.started is not None else now
        self._enter(task, "evacuating", now)

    def _reset(self, row):
        # A reset writes blindly, so it is made only to the state the plan saw.
        server = self.nova.server(row["id"])
        now = (server.get("OS-EXT-SRV-ATTR:host"), server.get("OS-EXT-STS:vm_state"),
               server.get("OS-EXT-STS:task_state"))
        if now != (row["from"], row["vm_state"], row["task_state"]):
            raise BackendError("it changed since it was planned (now on %s, %s, task %s): run again" % now)
        self.nova.reset_to_error(row["id"])
        return True

    def _poll(self):
        """The recent evacuation migrations; a failed poll is retried on the next tick until deadlines."""
        started = self.clock()
        try:
            migrations = self.nova.migrations()
        except BackendError as error:
            self.poll_error = str(error)
            return []
        finally:
            self.poll_seconds = self.clock() - started
        self.poll_error = None
        return migrations

    def _read(self, task):
        """The instance of a task whose migration ended, in a worker thread: (server, None) or (None, the error)."""
        try:
            return self.nova.server(task.row["id"]), None
        except BackendError as error:
            return None, str(error)

    def _check(self, task, server, error):
        """Decide what an ended migration means for its instance, read again in each tick until it settles."""
        row, migration = task.row, task.migration
        if error:
            self._finish(task, "failed", error=error)
            return
        vm_state, task_state = server.get("OS-EXT-STS:vm_state"), server.get("OS-EXT-STS:task_state")
        row["vm_state"] = vm_state
        if task_state:  # nova is still winding the attempt up (or stopping the instance)
            return
        if migration["status"] in FAILED:
            self._retry_or_fail(task, "evacuation failed (migration %s %s): %s" % (
                migration["id"], migration["status"], _fault(server)))
            return
        host = row["to"] = server.get("OS-EXT-SRV-ATTR:host")
        if host == row["from"]:
            return
        # Stopped is always final: nova brings back stopped only what was stopped, or what 2.95 asked for.
        if vm_state in (row["expected_vm_state"], "stopped"):
            self._finish(task, "done")
        elif vm_state == "error":
            self._finish(task, "failed", error="evacuated to %s but in error: %s" % (host, _fault(server)))
        elif vm_state == "active" and row["expected_vm_state"] == "stopped" and not task.stop_sent:
            self._stop(task)

    def _stop(self, task):
        # nova boots every instance it rebuilds from error, and before 2.95 every active one.
        try:
            self.nova.stop(task.row["id"])
        except BackendError as error:
            self._finish(task, "failed", error="evacuated to %s but not stopped: %s" % (task.row["to"], error))
            return
        task.stop_sent = True
        self._enter(task, "checking", self.clock())

    def _retry_or_fail(self, task, error):
        row = task.row
        if row["attempts"] > self.retries:
            self._finish(task, "failed", error=error if row["attempts"] == 1 else "%s (after %d attempts)" % (
                error, row["attempts"]))
            return
        row["earlier_errors"].append("attempt %d: %s" % (row["attempts"], error))
        # A named target that refused would refuse again: later attempts let the scheduler choose.
        task.after, task.target, task.migration = task.migration["id"], None, None
        task.phase = "queued"
        self.queue.append(task)

    def _time_out(self, task):
        row = task.row
        if task.phase == "evacuating":
            what = ("its evacuation (migration %s) had not ended" % row["migration_id"] if row["migration_id"]
                    else "nova had not started its evacuation")
            hint = "; nova may still finish it: run again to follow it"
            if self.poll_error:
                hint += " (last error reading migrations: %s)" % self.poll_error
        elif task.stop_sent:
            what, hint = "it was evacuated to %s but had not stopped" % row["to"], ""
        else:
            what, hint = "it was evacuated to %s but had not settled (vm_state %s)" % (row["to"], row["vm_state"]), ""
        self._finish(task, "failed", error="%s after %s s%s" % (what, self.timeout, hint))

    def _finish(self, task, status, error=None):
        row = task.row
        row.update(status=status, error=error)
        if task.started is not None:
            row["seconds"] = round(self.clock() - task.started, 1)
        task.phase = "finished"


def in_threads(workers):
    """A map that runs function over items in at most ``workers`` threads, in order; serial for one item."""
    def parallel(function, items):
        if len(items) <= 1 or workers <= 1:
            return [function(item) for item in items]
        with ThreadPoolExecutor(max_workers=min(workers, len(items))) as pool:
            return list(pool.map(function, items))
    return parallel


def _fault(server):
    fault = server.get("fault") or {}
    return fault.get("message") or "no fault recorded; see `openstack server event list %s`" % server.get("id")
