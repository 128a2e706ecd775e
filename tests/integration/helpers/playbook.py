"""Run one module of the collection on localhost in a one-task playbook and return its registered result."""

from __future__ import annotations

import json
import subprocess
import tempfile
from pathlib import Path

from helpers.lab import VENV_BIN, clean_env


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


PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - name: Run the module under test
      {module}: {args}
      register: result
      ignore_errors: true
      check_mode: {check_mode}
      diff: true
    - name: Keep its result for the test
      ansible.builtin.copy:
        content: "{{{{ result | to_nice_json }}}}"
        dest: "{result_file}"
        mode: "0600"
      check_mode: false
"""


def run_module(name, args=None, env=None, check_mode=False, interpreter=None) -> ModuleRun:
    """Run one module on localhost in a one-task playbook; return its registered result."""
    with tempfile.TemporaryDirectory() as workdir:
        result_file = Path(workdir) / "result.json"
        playbook = Path(workdir) / "play.yml"
        playbook.write_text(PLAYBOOK.format(
            module=f"nova_vsphere.mixed_cloud.{name}", args=json.dumps(args or {}),
            check_mode=json.dumps(check_mode), result_file=result_file))
        command = [str(VENV_BIN / "ansible-playbook"), str(playbook)]
        if interpreter:
            command += ["-e", f"ansible_python_interpreter={interpreter}"]
        completed = subprocess.run(command, env=env or clean_env(), capture_output=True, text=True, timeout=900,
                                   check=False)
        result = json.loads(result_file.read_text()) if result_file.exists() else {}
    if not result:
        raise AssertionError(f"the playbook produced no result:\n{completed.stdout}\n{completed.stderr}")
    return ModuleRun(completed, result)
