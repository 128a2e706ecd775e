"""The callback of helpers/playbook.py: each task's result, as ``register`` would keep it, written at the end of the
run as a JSON list to the file $KEEP_RESULTS_FILE names (a task of its own would cost the run a second or so)."""

from __future__ import annotations

import json
import os

from ansible.plugins.callback import CallbackBase

DOCUMENTATION = """
    name: keep_results
    type: aggregate
    short_description: every task's result, as register keeps it, in the file $KEEP_RESULTS_FILE names
    description: for the collection's integration tests (tests/integration/helpers/playbook.py)
    requirements:
      - enabled in callbacks_enabled, and KEEP_RESULTS_FILE set
"""


class CallbackModule(CallbackBase):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "keep_results"
    CALLBACK_NEEDS_ENABLED = True

    def __init__(self):
        super().__init__()
        self.results = []

    def _keep(self, result, failed):
        # What register keeps: no invocation, no internal keys; the callback's copy lacks the failed flag.
        kept = {key: value for key, value in result.result.items()
                if key != "invocation" and not key.startswith("_ansible_")}
        kept["failed"] = failed
        self.results.append(kept)

    def v2_runner_on_ok(self, result):
        self._keep(result, False)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._keep(result, True)

    def v2_playbook_on_stats(self, stats):
        fd = os.open(os.environ["KEEP_RESULTS_FILE"], os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as handle:
            json.dump(self.results, handle)
