import pytest

from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._common.errors import BackendError
from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._common.runner import journal


def refuse(message):
    raise BackendError(message)


def failure_of(writes):
    """The error a journal raises when ``writes(record)`` fails."""
    with pytest.raises(BackendError) as raised:
        with journal() as record:
            writes(record)
    return raised.value


def test_a_failure_before_any_write_is_reported_as_it_is():
    error = failure_of(lambda record: refuse("nova refused."))
    assert (str(error), error.details) == ("nova refused.", {})


def test_what_the_run_created_is_undone_newest_first():
    undone = []

    def writes(record):
        record.created("create", "flavor f (1)", lambda: undone.append("f"))
        record.created("create", "image i (2)", lambda: undone.append("i"))
        record.done("set extra specs")
        refuse("nova refused (HTTP 400): no.")

    error = failure_of(writes)
    assert undone == ["i", "f"]
    assert str(error) == "nova refused (HTTP 400): no. Undone: deleted flavor f (1), image i (2), which this run had created."
    assert error.details == {"changed": False}


def test_changes_to_what_existed_are_reported():
    def writes(record):
        record.done("add_host a")
        refuse("nova refused")

    error = failure_of(writes)
    assert str(error) == "nova refused. Done before the failure: add_host a; run the task again once the cause is fixed."
    assert error.details == {"changed": True, "changes": ["add_host a"]}


def test_an_undo_that_fails_says_what_is_left():
    def writes(record):
        record.created("create", "aggregate a (7)", lambda: refuse("nova is down"))
        refuse("nova refused")

    error = failure_of(writes)
    assert str(error) == ("nova refused. Undoing failed too (nova is down): aggregate a (7), created by this run, "
                          "is left behind; delete it, or run the task again once the cause is fixed.")
    assert error.details == {"changed": True, "changes": ["create"]}
