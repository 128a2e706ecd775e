# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Follow a vm_migrate job started with async, showing its copy's progress as it goes (docs in modules/vm_migrate_wait.py).

A module's output reaches the controller only when it ends, so the progress of a long copy
is shown from here: every ``poll`` seconds this action asks ``async_status`` whether the job
ended and reads the progress file the running migration keeps on the same host
(``<staging_dir>/<migration id>/progress.json``), and prints it when it changed.
"""

from __future__ import annotations

import base64
import json
import time

from ansible.errors import AnsibleActionFail
from ansible.plugins.action import ActionBase
from ansible.utils.display import Display

display = Display()
MIB = float(1 << 20)


def progress_line(figures):
    """One line of a copy's figures, as a person reads them."""
    left = figures.get("seconds_left")
    return "disk %s of %s disk(s): %d%%, %.1f of %.1f MiB at %.1f MiB/s%s" % (
        figures.get("disk"), figures.get("disks"), figures.get("percent", 0), figures.get("bytes_done", 0) / MIB,
        figures.get("bytes_total", 0) / MIB, figures.get("bytes_per_second", 0) / MIB,
        ", %d s left" % left if left is not None else "")


class ActionModule(ActionBase):
    TRANSFERS_FILES = False
    _VALID_ARGS = frozenset(("jid", "progress_file", "poll", "timeout"))

    def _module(self, name, args, task_vars):
        return self._execute_module(module_name=name, module_args=args, task_vars=task_vars)

    def _job(self, jid, mode, task_vars):
        # As async_status's own action: its module reads the job file from the shell's async_dir.
        async_dir = self.get_shell_option("async_dir", default="~/.ansible_async")
        return self._module("ansible.builtin.async_status", {"jid": jid, "mode": mode, "_async_dir": async_dir},
                            task_vars)

    def _progress(self, path, task_vars):
        read = self._module("ansible.builtin.slurp", {"src": path}, task_vars)
        if read.get("failed"):
            return None  # not written yet (the copy has not started), or gone (the job just ended)
        try:
            return json.loads(base64.b64decode(read["content"]))
        except ValueError:
            return None

    def run(self, tmp=None, task_vars=None):
        result = super().run(tmp, task_vars)
        args = self._task.args
        if not args.get("jid"):
            raise AnsibleActionFail("jid is required: the ansible_job_id of the vm_migrate task run with async")
        poll, timeout = int(args.get("poll", 10)), int(args.get("timeout", 14400))
        deadline, shown = time.monotonic() + timeout, None
        while True:
            status = self._job(args["jid"], "status", task_vars)
            if status.get("finished") or status.get("failed"):
                self._job(args["jid"], "cleanup", task_vars)
                result.update({k: v for k, v in status.items() if k not in ("started", "finished", "results_file")})
                return result
            figures = self._progress(args["progress_file"], task_vars) if args.get("progress_file") else None
            line = progress_line(figures) if figures else None
            if line and line != shown:
                display.display("vm_migrate %s: %s" % (args["jid"], line))
                shown = line
            if time.monotonic() >= deadline:
                where = shown or "no progress yet"
                raise AnsibleActionFail("vm_migrate job %s is still running after %d s (%s); it goes on: follow it "
                                        "again, or read its record in nova." % (args["jid"], timeout, where))
            time.sleep(poll)
