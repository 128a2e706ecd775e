# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The skeleton of a module: parse, connect, read, plan, apply unless check mode, report.

A module hands ``run_module`` its argument spec, the session of its backend and one
function ``work(module, client) -> Outcome``. The runner owns the rest: the session is
closed before the module exits, a ``BackendError`` raised anywhere below becomes one
failed task with its one-line message (reported once, here), and every module reports
the same way: ``changed``, a ``diff`` of plain before/after data (always returned, so a
caller need not ask for it; Ansible shows it under ``--diff``), and one named result.
"""

from __future__ import annotations

import contextlib

from ansible.module_utils.basic import AnsibleModule

from .errors import BackendError, failing_cleanly


class Outcome:
    """What a module did or, in check mode, would do.

    ``before``/``after`` are the managed state as plain data ({} where nothing exists);
    ``result`` is returned under ``name``; ``extra`` are further top-level return values.
    """

    def __init__(self, changed, before, after, name=None, result=None, warnings=(), **extra):
        self.changed = bool(changed)
        self.before = before if before is not None else {}
        self.after = after if after is not None else {}
        self.name = name
        self.result = result
        self.warnings = list(warnings)
        self.extra = extra

    def as_result(self):
        """The module's return values."""
        returned = dict(self.extra, changed=self.changed, diff={"before": self.before, "after": self.after})
        if self.name:
            returned[self.name] = self.result
        return returned


def run_module(argument_spec, session, work, module_class=AnsibleModule, **module_options):
    """Run ``work(module, client)`` inside ``session(params)`` and report its Outcome.

    ``module_class`` is the backend's AnsibleModule (the OpenStack modules pass
    ``OpenStackModule``, which masks only the connection's secrets).
    """
    module_options.setdefault("supports_check_mode", True)
    module = module_class(argument_spec=argument_spec, **module_options)
    with failing_cleanly(module):
        with session(module.params) as client:
            outcome = work(module, client)
    for warning in outcome.warnings:
        module.warn(warning)
    module.exit_json(**outcome.as_result())


class Journal:
    """The writes of one run, so that when a later one fails the run undoes what it created.

    A run that creates something creates it first and then writes only to it, so undoing
    what it created (newest first) undoes the whole run: the task fails with changed false.
    A run that created nothing, or whose undoing fails too, fails with changed true, the
    changes it made and what to do about them. A re-run then finishes the work.
    """

    def __init__(self):
        self.changes = []
        self._created = []

    def done(self, change):
        self.changes.append(change)

    def created(self, change, what, undo):
        """``change`` created ``what`` (such as "flavor x (id)"); ``undo()`` deletes it."""
        self.done(change)
        self._created.append((what, undo))

    def failure(self, error):
        """The BackendError that reports ``error``, a failed write, once the run is undone."""
        if not self.changes:
            return error
        text = str(error).rstrip(".")
        left = dict(error.details, changed=True, changes=list(self.changes))
        if not self._created:
            return BackendError("%s. Done before the failure: %s; run the task again once the cause is fixed."
                                % (text, ", ".join(self.changes)), **left)
        for what, undo in reversed(self._created):
            try:
                undo()
            except BackendError as undo_error:
                return BackendError("%s. Undoing failed too (%s): %s, created by this run, is left behind; delete "
                                    "it, or run the task again once the cause is fixed." % (text, undo_error, what),
                                    **left)
        return BackendError("%s. Undone: deleted %s, which this run had created." % (
            text, ", ".join(what for what, _undo in self._created)), **dict(error.details, changed=False))


@contextlib.contextmanager
def journal():
    """A Journal whose ``failure`` replaces any BackendError raised in the block."""
    record = Journal()
    try:
        yield record
    except BackendError as error:
        raise record.failure(error) from None
