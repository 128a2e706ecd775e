"""Run modules of the collection on localhost, one task each in one playbook, and return their registered results.

One ansible-playbook run costs seconds before its first task: steps that need no look at the lab between
them go in one playbook (``run_modules``) rather than one run each (``run_module``).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from pathlib import Path

from helpers.lab import VENV_BIN, clean_env


def recap_changed(stdout):
    """Changed tasks per host, from the last PLAY RECAP of an ansible-playbook run's output."""
    recap = stdout.rpartition("PLAY RECAP")[2]
    return {host: int(count) for host, count in re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", recap, re.M)}


class ModuleRun:
    def __init__(self, completed, result):
        self.completed = completed
        self.result = result
        self.output = completed.stdout + completed.stderr

    @property
    def failed(self):
        return bool(self.result.get("failed"))

    @property
    def msg(self):
        return self.result.get("msg", "")


PLAY = """
- hosts: localhost
  gather_facts: false
  tasks:
"""

# Every step runs whatever the steps before it returned, as separate runs would.
TASK = """
    - name: Run the module under test (step {index})
      {module}: {args}
      ignore_errors: true
      check_mode: {check_mode}
      diff: true
"""

# The results are kept by a callback (callback_plugins/keep_results.py): a task writing them would run two modules.
CALLBACKS = Path(__file__).resolve().parent / "callback_plugins"


def write_playbook(workdir: Path, steps) -> Path:
    """A playbook in WORKDIR running each (module, args, check_mode) of STEPS in order."""
    tasks = [TASK.format(index=index, module=f"nova_vsphere.mixed_cloud.{name}", args=json.dumps(args or {}),
                         check_mode=json.dumps(check_mode))
             for index, (name, args, check_mode) in enumerate(steps)]
    playbook = workdir / "play.yml"
    playbook.write_text(PLAY + "".join(tasks))
    return playbook


def keeping_results(env, result_file: Path) -> dict:
    """ENV with the keep_results callback on, writing every task's registered result to RESULT_FILE."""
    enabled = ",".join(filter(None, [env.get("ANSIBLE_CALLBACKS_ENABLED"), "keep_results"]))
    plugins = os.pathsep.join(filter(None, [env.get("ANSIBLE_CALLBACK_PLUGINS"), str(CALLBACKS)]))
    return dict(env, ANSIBLE_CALLBACKS_ENABLED=enabled, ANSIBLE_CALLBACK_PLUGINS=plugins,
                KEEP_RESULTS_FILE=str(result_file))


def run_modules(steps, env=None, interpreter=None) -> list[ModuleRun]:
    """Run each (module, args, check_mode) of STEPS on localhost, in order, in one playbook; return their results."""
    with tempfile.TemporaryDirectory() as workdir:
        playbook = write_playbook(Path(workdir), steps)
        result_file = Path(workdir) / "result.json"
        command = [str(VENV_BIN / "ansible-playbook"), str(playbook)]
        if interpreter:
            command += ["-e", f"ansible_python_interpreter={interpreter}"]
        completed = subprocess.run(command, env=keeping_results(env or clean_env(), result_file), capture_output=True,
                                   text=True, timeout=900, check=False)
        results = json.loads(result_file.read_text()) if result_file.exists() else []
    if len(results) != len(steps) or not all(results):
        raise AssertionError(f"the playbook produced no result:\n{completed.stdout}\n{completed.stderr}")
    return [ModuleRun(completed, result) for result in results]


def run_module(name, args=None, env=None, check_mode=False, interpreter=None) -> ModuleRun:
    """Run one module on localhost in a one-task playbook; return its registered result."""
    (run,) = run_modules([(name, args, check_mode)], env=env, interpreter=interpreter)
    return run
