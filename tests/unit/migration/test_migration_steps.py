"""The cold migration's step machine over its durable record: resuming, re-running, rolling back, finalizing."""

import pytest

from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._common.errors import BackendError
from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._migration import steps

SHA = "a" * 64


def plan(power="poweredOn", disks=(2000, 2001), nics=1, nova="uuid-1"):
    return {"source": {"moref": "vm-42", "power_state": power, "nova_id": nova},
            "disks": [{"key": key} for key in disks], "nics": [{}] * nics}


def facts_of(step, disk):
    """What each step records, as the module would."""
    return {
        "download": {"disk.%s.stream_sha1" % disk: "1" * 40, "disk.%s.sha256" % disk: SHA},
        "hash_target": {"disk.%s.target_sha256" % disk: SHA},
        "upload": {"disk.%s.image" % disk: "image-%s" % disk},
        "ports": {"port.0": "port-1:moved", "port.1": "port-9:created"},
        "create_server": {"server": "server-1"},
    }.get(step, {})


def run(record, stop_after=None, done=None):
    """Runs steps in order as a module would, recording each; stops (an interruption) after stop_after steps."""
    done = [] if done is None else done
    if record is None:
        record = steps.claim_record(plan())
        done.append(("claim", None))
    while True:
        if stop_after is not None and len(done) >= stop_after:
            return record, done
        step = steps.next_step(record)
        if step is None:
            return record, done
        record = steps.completed(record, *step, **facts_of(*step))
        done.append(step)


def test_the_steps_follow_from_the_record():
    record = steps.claim_record(plan())
    assert record == {"state": "running", "at": "claim", "source": "vm-42", "source_power": "poweredOn",
                      "disks": "2000,2001", "nics": "1", "nova": "uuid-1"}
    assert steps.steps(record) == [
        ("claim", None), ("stop_source", None),
        ("download", "2000"), ("convert", "2000"), ("hash_target", "2000"), ("upload", "2000"),
        ("download", "2001"), ("convert", "2001"), ("hash_target", "2001"), ("upload", "2001"),
        ("ports", None), ("create_server", None), ("wait_active", None)]
    off = steps.claim_record(plan(power="poweredOff", disks=(2000,), nics=0, nova=None))
    assert "nova" not in off
    assert steps.steps(off) == [("claim", None), ("download", "2000"), ("convert", "2000"), ("hash_target", "2000"),
                                ("upload", "2000"), ("create_server", None), ("wait_active", None)]
    assert steps.next_step(None) == ("claim", None)


def test_a_run_ends_done_and_a_rerun_changes_nothing():
    record, done = run(None)
    assert done == steps.steps(record)
    assert record["state"] == "done" and record["at"] == "wait_active"
    assert record["stopped"] == "1" and record["server"] == "server-1"
    assert steps.next_step(record) is None
    again, more = run(record, done=[])
    assert again == record and more == []


@pytest.mark.parametrize("interrupted_after", range(1, 13))
def test_an_interrupted_run_resumes_at_the_next_step_and_ends_as_an_uninterrupted_one(interrupted_after):
    whole = run(None)[0]
    partial, first = run(None, stop_after=interrupted_after)
    assert partial["state"] == "running"
    resumed, rest = run(partial, done=[])
    assert first + rest == steps.steps(whole)  # every step once, none again
    assert resumed == whole


def test_steps_out_of_order_are_refused():
    record = steps.claim_record(plan())
    with pytest.raises(BackendError, match="Step download:2000 completed but the migration's next step is stop_source"):
        steps.completed(record, "download", "2000")
    done = run(None)[0]
    with pytest.raises(BackendError, match="next step is none"):
        steps.completed(done, "wait_active")
    with pytest.raises(BackendError, match="which is no step of this migration"):
        steps.next_step(dict(record, at="convert:9999"))


def test_the_record_fits_nova_metadata():
    record = steps.claim_record(plan())
    with pytest.raises(BackendError, match="does not fit nova's metadata"):
        steps.completed(record, "stop_source", note="x" * 256)
    with pytest.raises(BackendError, match="does not fit"):
        steps.check({"at": 5})
    with pytest.raises(BackendError, match="does not fit"):
        steps.check({"disk/2000": "x"})
    whole = run(None)[0]
    assert steps.check(whole) == whole


def test_a_disk_whose_hashes_differ_starts_again_from_its_download():
    record = run(None, stop_after=4)[0]  # claim, stop, download and convert of 2000
    assert record["at"] == "convert:2000"
    again = steps.restart_disk(record, "2000")
    assert again["at"] == "stop_source" and "disk.2000.sha256" not in again
    assert steps.next_step(again) == ("download", "2000")
    early = steps.claim_record(plan())
    assert steps.restart_disk(early, "2000") == early  # not copied yet: nothing to undo


def rollback(record):
    done = []
    while True:
        actions = steps.rollback_actions(record)
        if not actions:
            return record, done
        record = steps.undone(record, actions[0])
        done.append(actions[0]["action"])


def test_a_rollback_undoes_newest_first_and_powers_the_source_on_last():
    record = run(None)[0]
    rolled, done = rollback(record)
    assert done == ["delete_server", "delete_port", "reattach_port", "delete_image", "delete_image",
                    "power_on_source", "delete_staging"]
    assert rolled["state"] == "rolled_back"
    assert steps.rollback_actions(rolled) == []
    assert steps.next_step(rolled) is None  # rolled back is final; a new migration needs a new record


def test_a_rollback_undoes_only_what_was_done_and_resumes():
    record = run(None, stop_after=6)[0]  # up to the upload of 2000
    actions = steps.rollback_actions(record)
    assert [(a["action"], a.get("image")) for a in actions] == [("delete_image", "image-2000"),
                                                                ("power_on_source", None), ("delete_staging", None)]
    half = steps.undone(record, actions[0])
    assert [a["action"] for a in steps.rollback_actions(half)] == ["power_on_source", "delete_staging"]
    off = steps.claim_record(plan(power="poweredOff"))
    assert [a["action"] for a in steps.rollback_actions(off)] == ["delete_staging"]
    assert steps.rollback_actions(None) == []


def test_finalize_only_a_done_migration_and_resume_it():
    running = run(None, stop_after=3)[0]
    with pytest.raises(steps.MigrationRefused, match="Only a migration that is done can be finalized; this one is "
                                                     "running \\(at download:2000\\)"):
        steps.finalize_actions(running)
    record = run(None)[0]
    actions = steps.finalize_actions(record)
    assert [a["action"] for a in actions] == ["delete_source", "mark_server_finalized", "delete_record"]
    assert actions[0] == {"action": "delete_source", "nova": "uuid-1", "source": "vm-42"}
    half = steps.finalized(record, actions[0])
    assert [a["action"] for a in steps.finalize_actions(half)] == ["mark_server_finalized", "delete_record"]
    with pytest.raises(steps.MigrationRefused, match="source is deleted"):
        steps.rollback_actions(half)
    marked = steps.finalized(half, steps.finalize_actions(half)[0])
    assert steps.finalized(marked, {"action": "delete_record"}) is None
    assert steps.finalize_actions(None) == []


def test_ports_read_back_from_the_record():
    assert steps.ports({"port.1": "p-9:created", "port.0": "p-1:moved", "disks": "1"}) == [(0, "p-1", "moved"),
                                                                                           (1, "p-9", "created")]


def test_one_run_at_a_time_and_a_dead_run_is_taken_over():
    record = steps.heartbeat(steps.claim_record(plan()), "run-a", 1000)
    assert (record["owner"], record["heartbeat"]) == ("run-a", "1000")
    assert steps.may_run(record, "run-a", 1001) == (True, None)
    allowed, why = steps.may_run(record, "run-b", 1100)
    assert not allowed
    assert why == "run run-a is working on this migration (at claim, its last heartbeat 100 s ago); wait for it, or " \
                  "for 600 s without a heartbeat"
    assert steps.may_run(record, "run-b", 1600) == (True, None)
    assert steps.may_run(dict(record, state="done"), "run-b", 1100) == (True, None)
    assert steps.may_run(None, "run-b", 0) == (True, None)
    assert steps.next_step(steps.heartbeat(record, "run-b", 1600)) == ("stop_source", None)


def test_a_source_that_changed_between_runs_is_refused():
    facts = {"change_version": "2026-12-01T20:00:00Z", "disks": [["[nfs-a] vm/vm-flat.vmdk", 1024, "20:00"]]}
    fp = steps.source_fingerprint(facts)
    assert len(fp) == 64 and fp == steps.source_fingerprint(dict(reversed(list(facts.items()))))
    record = steps.claim_record(plan(power="poweredOff"), source_fp=fp)
    steps.check_source_unchanged(record, fp)
    steps.check_source_unchanged(steps.claim_record(plan()), fp)  # not stopped yet: nothing to compare
    later = steps.source_fingerprint(dict(facts, change_version="2026-12-01T20:30:00Z"))
    with pytest.raises(steps.MigrationRefused, match="The source changed since this migration stopped it"):
        steps.check_source_unchanged(record, later)
    stopped = steps.completed(steps.claim_record(plan()), "stop_source", source_fp=fp)
    assert stopped["source_fp"] == fp and stopped["stopped"] == "1"


def test_facts_learnt_inside_a_step_are_noted_without_completing_it():
    record = run(None, stop_after=10)[0]  # up to the upload of 2001: next, the ports
    half = steps.noted(record, **{"port.0": "port-1:moved", "progress": "5/10 1 B/s"})
    assert steps.next_step(half) == ("ports", None)
    assert [a["action"] for a in steps.rollback_actions(half)][:1] == ["reattach_port"]
    with pytest.raises(BackendError, match="only in a running migration"):
        steps.noted(run(None)[0], progress="x")
