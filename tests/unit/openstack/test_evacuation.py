"""The evacuation loop against a simulated nova on a simulated clock: no network, no real waiting."""

import threading

import pytest

from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._common.errors import BackendError
from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._openstack.evacuation import (
    FASTEST_POLL,
    POLL_INTERVAL,
    Evacuation,
    in_threads,
)

NO_VALID_HOST = "No valid host was found. There are not enough hosts available."


class Clock:
    def __init__(self):
        self.now = 0.0
        self.sleeps = []

    def __call__(self):
        return self.now

    def sleep(self, seconds):
        assert 0 <= seconds <= POLL_INTERVAL
        self.sleeps.append(seconds)
        self.now += seconds


class Nova:
    """Evacuations that take `duration` seconds and end as `outcomes` says, attempt by attempt.

    outcomes[name] is a list, one entry per attempt: "done", "error" (NoValidHost), "never"
    (the migration stays pre-migrating), or "active" (done, but the instance comes back active).
    """

    def __init__(self, clock, servers, outcomes=None, duration=3.0, refuse=()):
        self.clock, self.duration, self.refuse = clock, duration, set(refuse)
        self.servers = {s["id"]: s for s in servers}
        self.outcomes = {("id-" + name): list(attempts) for name, attempts in (outcomes or {}).items()}
        self.records = []
        self.calls = []
        self.most_in_flight = 0
        self.poll_failures = 0

    def evacuate(self, server_id, target_host=None):
        self.calls.append(("evacuate", server_id, target_host))
        if server_id in self.refuse:
            raise BackendError("OpenStack refused to evacuate instance %s (HTTP 409): locked" % server_id)
        outcome = (self.outcomes.get(server_id) or ["done"]).pop(0) if self.outcomes.get(server_id) else "done"
        self.records.append({"id": len(self.records) + 100, "instance_uuid": server_id, "status": "accepted",
                             "dest_compute": target_host or "kvm-2", "ends": self.clock() + self.duration,
                             "outcome": outcome})
        self.servers[server_id]["OS-EXT-STS:task_state"] = "rebuilding"
        self.most_in_flight = max(self.most_in_flight, sum(r["status"] == "accepted" for r in self.records))

    def reset_to_error(self, server_id):
        self.calls.append(("reset", server_id))
        self.servers[server_id].update({"OS-EXT-STS:vm_state": "error", "OS-EXT-STS:task_state": None})

    def stop(self, server_id):
        self.calls.append(("stop", server_id))
        self.servers[server_id]["OS-EXT-STS:vm_state"] = "stopped"

    def server(self, server_id):
        return dict(self.servers[server_id])

    def migrations(self):
        if self.poll_failures:
            self.poll_failures -= 1
            raise BackendError("Lost the connection to OpenStack while trying to list the evacuations")
        for record in self.records:
            if record["status"] == "accepted" and self.clock() >= record["ends"] and record["outcome"] != "never":
                self._end(record)
        return [dict(record) for record in self.records]

    def _end(self, record):
        server = self.servers[record["instance_uuid"]]
        server["OS-EXT-STS:task_state"] = None
        if record["outcome"] == "error":
            record["status"] = "error"
            server.update({"OS-EXT-STS:vm_state": "error", "fault": {"message": NO_VALID_HOST}})
            return
        record["status"] = "done"
        before = server["OS-EXT-STS:vm_state"]
        state = "active" if record["outcome"] == "active" or before == "error" else before
        server.update({"OS-EXT-STS:vm_state": state, "OS-EXT-SRV-ATTR:host": record["dest_compute"], "fault": None})


def server(name, vm_state="active"):
    return {"id": "id-" + name, "name": name, "OS-EXT-STS:vm_state": vm_state, "OS-EXT-STS:task_state": None,
            "OS-EXT-SRV-ATTR:host": "kvm-1"}


def row(name, action="evacuate", expected="active", migration_id=None):
    return {"id": "id-" + name, "name": name, "action": action, "status": "planned", "from": "kvm-1", "to": None,
            "migration_id": migration_id, "vm_state": "active", "task_state": None, "expected_vm_state": expected,
            "attempts": 0,
            "seconds": None, "error": None, "earlier_errors": []}


class Serial:
    """The loop's parallel map, run in order in this thread (the simulated nova is not thread-safe); records each batch."""

    def __init__(self):
        self.batches = []

    def __call__(self, function, items):
        self.batches.append([item.row["name"] for item in items])
        return [function(item) for item in items]


def run(nova, clock, rows, migrations=(), **settings):
    settings = dict(dict(concurrency=10, retries=2, timeout=60, parallel=Serial()), **settings)
    evacuation = Evacuation(nova, rows, list(migrations), clock=clock, sleep=clock.sleep, **settings)
    changed = evacuation.run()
    return changed, {r["name"]: r for r in rows}


@pytest.fixture
def clock():
    return Clock()


def test_every_instance_is_evacuated_with_at_most_concurrency_in_flight(clock):
    names = ["vm%02d" % i for i in range(12)]
    nova = Nova(clock, [server(name) for name in names])
    changed, rows = run(nova, clock, [row(name) for name in names], concurrency=4)
    assert changed
    assert {r["status"] for r in rows.values()} == {"done"}
    assert nova.most_in_flight == 4
    assert rows["vm00"]["to"] == "kvm-2" and rows["vm00"]["migration_id"] == 100
    assert rows["vm00"]["attempts"] == 1 and rows["vm00"]["seconds"] == pytest.approx(3.0)
    # Three waves of four, each three seconds: the loop waits for nova, not for itself.
    assert clock.now == pytest.approx(9.0)


def test_a_slot_freed_in_a_tick_is_filled_in_that_tick(clock):
    nova = Nova(clock, [server("stuck"), server("quick"), server("next")], outcomes={"stuck": ["never"]})
    submitted = {}
    evacuate = nova.evacuate

    def timed_evacuate(server_id, target_host=None):
        submitted.setdefault(server_id, clock.now)
        evacuate(server_id, target_host)

    nova.evacuate = timed_evacuate
    rows = run(nova, clock, [row("stuck"), row("quick"), row("next")], concurrency=2, timeout=20)[1]
    # "quick" ended at 3 s while "stuck" was still in flight: "next" took its slot at once, not a tick later.
    assert submitted == {"id-stuck": 0.0, "id-quick": 0.0, "id-next": 3.0}
    assert (rows["next"]["status"], rows["stuck"]["status"]) == ("done", "failed")


def test_each_tick_costs_one_migrations_request_however_many_instances(clock):
    names = ["vm%02d" % i for i in range(30)]
    nova = Nova(clock, [server(name) for name in names])
    polls = []
    listing = nova.migrations
    nova.migrations = lambda: polls.append(1) or listing()
    run(nova, clock, [row(name) for name in names], concurrency=30)
    assert len(polls) == 7  # at 0, 0.5, ... 3 s: many in flight, polled every FASTEST_POLL


def test_few_in_flight_are_polled_every_second_many_every_half_second(clock):
    polls = []
    for count in (3, 8):
        nova = Nova(clock, [server("vm%d" % i) for i in range(count)], duration=4.0)
        listing = nova.migrations
        nova.migrations = lambda listing=listing: polls.append(clock.now) or listing()
        clock.now = 0.0
        run(nova, clock, [row("vm%d" % i) for i in range(count)])
        assert polls == pytest.approx([i * (POLL_INTERVAL if count < 8 else FASTEST_POLL) for i in range(len(polls))])
        assert polls[-1] == pytest.approx(4.0)
        polls.clear()


def test_a_slow_poll_makes_ticks_at_least_twice_as_long_as_the_poll(clock):
    nova = Nova(clock, [server("vm%d" % i) for i in range(10)], duration=4.0)
    ticks = []
    listing = nova.migrations

    def slow_listing():
        ticks.append(clock.now)
        clock.now += 0.4
        return listing()

    nova.migrations = slow_listing
    run(nova, clock, [row("vm%d" % i) for i in range(10)])
    # 10 in flight would poll every 0.5 s, but a poll takes 0.4 s: every 0.8 s, never more than half the time.
    assert [b - a for a, b in zip(ticks, ticks[1:])] == pytest.approx([0.8] * (len(ticks) - 1))


def test_the_instances_whose_migrations_ended_in_a_tick_are_read_in_one_parallel_batch(clock):
    names = ["vm%d" % i for i in range(6)]
    nova = Nova(clock, [server(name) for name in names])
    parallel = Serial()
    run(nova, clock, [row(name) for name in names], concurrency=4, parallel=parallel)
    # At 3 s the first four ended: their reads at once; at 6 s the last two. Not one call per tick and instance.
    assert [batch for batch in parallel.batches if batch] == [names[:4], names[4:]]


def test_submits_go_out_one_after_the_other_in_the_plans_order(clock):
    names = ["vm%d" % i for i in range(6)]
    nova = Nova(clock, [server(name) for name in names])
    run(nova, clock, [row(name) for name in names], concurrency=4)
    assert [call[1] for call in nova.calls] == ["id-" + name for name in names]


def test_in_threads_runs_calls_side_by_side_at_most_workers_at_once():
    running, most, lock = [0], [0], threading.Lock()
    four_at_once = threading.Barrier(4, timeout=5)

    def call(item):
        with lock:
            running[0] += 1
            most[0] = max(most[0], running[0])
        four_at_once.wait()  # only returns once four calls run at the same time
        with lock:
            running[0] -= 1
        return item * 2

    assert in_threads(4)(call, list(range(8))) == [0, 2, 4, 6, 8, 10, 12, 14]
    assert most[0] == 4


def test_ticks_keep_their_cadence_when_requests_are_slow(clock):
    nova = Nova(clock, [server("a")], duration=5.0)
    polls = []
    listing = nova.migrations

    def slow_listing():
        polls.append(clock.now)
        clock.now += 0.4
        return listing()

    nova.migrations = slow_listing
    run(nova, clock, [row("a")])
    assert polls == pytest.approx([0.0, 1.0, 2.0, 3.0, 4.0, 5.0])


def test_no_valid_host_from_concurrent_claims_is_retried(clock):
    nova = Nova(clock, [server("a"), server("b")], outcomes={"a": ["error", "done"]})
    rows = run(nova, clock, [row("a"), row("b")])[1]
    assert rows["a"]["status"] == "done"
    assert rows["a"]["attempts"] == 2
    assert rows["a"]["migration_id"] == 102
    assert rows["a"]["earlier_errors"] == ["attempt 1: evacuation failed (migration 100 error): " + NO_VALID_HOST]
    assert rows["b"]["status"] == "done"


def test_a_named_target_that_refuses_is_left_to_the_scheduler_next_time(clock):
    nova = Nova(clock, [server("a")], outcomes={"a": ["error", "done"]})
    run(nova, clock, [row("a")], target_host="kvm-3")
    assert [call[2] for call in nova.calls] == ["kvm-3", None]


def test_when_retries_run_out_the_instance_fails_and_the_others_complete(clock):
    nova = Nova(clock, [server("big"), server("small")], outcomes={"big": ["error"] * 3})
    rows = run(nova, clock, [row("big"), row("small")], retries=2)[1]
    assert rows["big"]["status"] == "failed"
    assert rows["big"]["error"] == ("evacuation failed (migration 103 error): %s (after 3 attempts)" % NO_VALID_HOST)
    assert rows["big"]["vm_state"] == "error"
    assert rows["small"]["status"] == "done"


def test_a_refused_submit_fails_that_instance_only(clock):
    nova = Nova(clock, [server("locked"), server("fine")], refuse={"id-locked"})
    rows = run(nova, clock, [row("locked"), row("fine")])[1]
    assert rows["locked"]["status"] == "failed"
    assert "HTTP 409" in rows["locked"]["error"]
    assert rows["locked"]["attempts"] == 0
    assert rows["fine"]["status"] == "done"


def test_an_instance_that_must_end_stopped_is_stopped_after_nova_boots_it(clock):
    nova = Nova(clock, [server("e", "error")])
    rows = run(nova, clock, [row("e", expected="stopped")])[1]
    assert ("stop", "id-e") in nova.calls
    assert (rows["e"]["status"], rows["e"]["vm_state"]) == ("done", "stopped")


def test_an_odd_state_is_reset_once_before_the_first_attempt(clock):
    nova = Nova(clock, [server("p", "paused")], outcomes={"p": ["error", "done"]})
    rows = run(nova, clock, [dict(row("p", action="reset_and_evacuate", expected="stopped"), vm_state="paused")])[1]
    assert [call[0] for call in nova.calls] == ["reset", "evacuate", "evacuate", "stop"]
    assert rows["p"]["vm_state"] == "stopped"


def test_no_reset_when_the_instance_changed_since_the_plan(clock):
    nova = Nova(clock, [server("p", "active")])
    rows = run(nova, clock, [dict(row("p", action="reset_and_evacuate"), vm_state="paused")])[1]
    assert nova.calls == []
    assert rows["p"]["status"] == "failed"
    assert rows["p"]["error"] == "it changed since it was planned (now on kvm-1, active, task None): run again"


def test_stopped_is_accepted_where_nova_knew_better_than_the_plan(clock):
    nova = Nova(clock, [server("s", "stopped")])
    rows = run(nova, clock, [row("s", expected="active")])[1]
    assert (rows["s"]["status"], rows["s"]["vm_state"]) == ("done", "stopped")


def test_a_migration_that_never_ends_times_out_with_a_hint(clock):
    nova = Nova(clock, [server("slow"), server("quick")], outcomes={"slow": ["never"]})
    rows = run(nova, clock, [row("slow"), row("quick")], timeout=20)[1]
    assert rows["slow"]["status"] == "failed"
    assert rows["slow"]["error"] == ("its evacuation (migration 100) had not ended after 20 s; "
                                     "nova may still finish it: run again to follow it")
    assert rows["quick"]["status"] == "done"
    assert clock.now == pytest.approx(20.0)


def test_an_evacuation_an_earlier_run_started_is_followed_not_submitted(clock):
    nova = Nova(clock, [server("f")])
    nova.evacuate("id-f")
    nova.calls.clear()
    changed, rows = run(nova, clock, [row("f", action="follow", migration_id=100)])
    assert not changed
    assert nova.calls == []
    assert (rows["f"]["status"], rows["f"]["migration_id"]) == ("done", 100)


def test_migrations_of_earlier_attempts_are_not_mistaken_for_this_one(clock):
    nova = Nova(clock, [server("e", "error")])
    earlier = {"id": 50, "instance_uuid": "id-e", "status": "error", "dest_compute": None}
    nova.records.append(dict(earlier, ends=0, outcome="error"))
    rows = run(nova, clock, [row("e")], migrations=[earlier])[1]
    assert (rows["e"]["status"], rows["e"]["attempts"]) == ("done", 1)


def test_a_failed_poll_is_retried_on_the_next_tick(clock):
    nova = Nova(clock, [server("a")])
    nova.poll_failures = 2
    rows = run(nova, clock, [row("a")])[1]
    assert rows["a"]["status"] == "done"


def test_nothing_to_evacuate_changes_nothing_and_does_not_wait(clock):
    nova = Nova(clock, [server("x")])
    changed, rows = run(nova, clock, [dict(row("x"), action="filtered_out", status="skipped")])
    assert not changed and nova.calls == [] and clock.sleeps == []
    assert rows["x"]["status"] == "skipped"
