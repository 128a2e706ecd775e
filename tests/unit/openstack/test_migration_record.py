"""A migration's record in a nova aggregate: the claim, the writes of what changed, a lost race."""

import pytest

from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._common.errors import BackendError
from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._migration import steps
from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._openstack import migration_record

UUID = "5003a1b2-0000-4000-8000-000000000042"


class FakeNova:
    """Keeps aggregates as nova does: unique names, set_metadata with null removing a key."""

    def __init__(self, fail=None):
        self.aggregates, self.calls, self.fail = {}, [], fail

    def request(self, service, method, path, microversion=None, json=None, doing=None):
        self.calls.append((method, path, json))
        if self.fail and self.fail in (doing or ""):
            raise BackendError("nova refused to %s (HTTP 500)" % doing)
        if method == "GET" and path.startswith("/os-aggregates"):
            return {"aggregates": list(self.aggregates.values())}
        if method == "POST" and path == "/os-aggregates":
            name = json["aggregate"]["name"]
            if any(a["name"] == name for a in self.aggregates.values()):
                raise BackendError("nova refused to create host aggregate %s (HTTP 409)" % name)
            aggregate = {"id": len(self.aggregates) + 1, "name": name, "hosts": [], "metadata": {}}
            self.aggregates[aggregate["id"]] = aggregate
            return {"aggregate": aggregate}
        if method == "POST" and path.endswith("/action"):
            aggregate = self.aggregates[int(path.split("/")[2])]
            for key, value in json["set_metadata"]["metadata"].items():
                if value is None:
                    aggregate["metadata"].pop(key, None)
                else:
                    aggregate["metadata"][key] = value
            return {"aggregate": aggregate}
        if method == "DELETE":
            del self.aggregates[int(path.split("/")[2])]
            return None
        raise AssertionError((method, path))


def claim_record():
    plan = {"source": {"moref": "vm-42", "power_state": "poweredOn", "nova_id": None},
            "disks": [{"key": 2000}], "nics": []}
    return steps.claim_record(plan)


def test_only_what_changed_is_sent_and_removed_facts_are_null():
    assert migration_record.metadata_update({"a": "1", "b": "2"}, {"a": "1", "c": "3"}) == {"c": "3", "b": None}
    assert migration_record.metadata_update(None, {"a": "1"}) == {"a": "1"}


def test_the_claim_the_steps_and_the_undoing_read_back_from_nova():
    nova = FakeNova()
    aggregate_id, record = migration_record.claim(nova, UUID, claim_record())
    assert nova.aggregates[aggregate_id]["name"] == "mixed-cloud-migration:" + UUID
    assert nova.aggregates[aggregate_id]["hosts"] == []
    assert migration_record.find_record(nova.request("compute", "GET", "/os-aggregates")["aggregates"], UUID) == (
        aggregate_id, record)
    new = steps.completed(record, "stop_source")
    record = migration_record.write(nova, aggregate_id, UUID, record, new)
    assert record == new
    assert nova.calls[-1][2] == {"set_metadata": {"metadata": {"at": "stop_source", "stopped": "1"}}}
    calls = len(nova.calls)
    assert migration_record.write(nova, aggregate_id, UUID, record, dict(record)) == record
    assert len(nova.calls) == calls  # nothing changed, nothing sent
    undone = steps.undone(record, steps.rollback_actions(record)[0])  # power_on_source removes "stopped"
    record = migration_record.write(nova, aggregate_id, UUID, record, undone)
    assert "stopped" not in record and nova.calls[-1][2] == {"set_metadata": {"metadata": {"stopped": None}}}
    migration_record.delete(nova, aggregate_id, UUID)
    assert nova.aggregates == {}


def test_a_second_run_loses_the_claim_and_a_failed_write_leaves_no_empty_record():
    nova = FakeNova()
    first = migration_record.claim(nova, UUID, claim_record())
    assert migration_record.claim(nova, UUID, claim_record()) == (None, None)
    assert len(nova.aggregates) == 1 and first[0] in nova.aggregates
    broken = FakeNova(fail="record the claim")
    with pytest.raises(BackendError, match="HTTP 500"):
        migration_record.claim(broken, UUID, claim_record())
    assert broken.aggregates == {}
    other = FakeNova(fail="create host aggregate")
    with pytest.raises(BackendError, match="HTTP 500"):
        migration_record.claim(other, UUID, claim_record())
