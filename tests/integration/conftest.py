"""Integration tests run the collection's modules through ansible against the real lab.

The session fixture brings the lab up itself (tests/lab/lab up, idempotent) unless
LAB_EXTERNAL=1 says someone else manages it.
"""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import socket
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAB = [sys.executable, str(ROOT / "tests" / "lab" / "lab")]
VENV_BIN = Path(sys.executable).parent


def lab_env() -> dict:
    """The variables `lab env` exports, as a dict."""
    out = subprocess.run(LAB + ["env"], check=True, capture_output=True, text=True).stdout
    env = {}
    for line in out.splitlines():
        name, value = line.removeprefix("export ").split("=", 1)
        env[name] = shlex.split(value)[0] if value else ""
    return env


@pytest.fixture(scope="session")
def lab():
    if os.environ.get("LAB_EXTERNAL") != "1":
        subprocess.run(LAB + ["up"], check=True, stdout=subprocess.DEVNULL)
    env = lab_env()
    state = Path(os.environ.get("LAB_DIR", ROOT / ".lab"))
    return {"env": env, "state": state, "secrets": json.loads((state / "secrets.json").read_text())}


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


def clean_env(**overrides):
    """This process's environment without any lab or cloud credentials, plus overrides."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VMWARE_", "OS_"))}
    env.update(
        PATH=f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}",
        ANSIBLE_CONFIG=str(ROOT / "tests" / "ansible.cfg"),
        ANSIBLE_COLLECTIONS_PATH=str(ROOT / "build" / "collections"),
    )
    env.update({k: v for k, v in overrides.items() if v is not None})
    for name in [k for k, v in overrides.items() if v is None]:
        env.pop(name, None)
    return env


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


@pytest.fixture(scope="session")
def bare_python(tmp_path_factory):
    """A Python with none of the modules' libraries, for the missing-library errors."""
    venv = tmp_path_factory.mktemp("bare-venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    return str(venv / "bin" / "python")


@contextlib.contextmanager
def private_simulator(lab, workdir: Path, inventory: dict, password: str, *options: str):
    """The lab's simulator program serving inventory on a free port of its own, with the lab's
    certificate; yields the port. options go to the program as they are (e.g. --wsdl)."""
    (workdir / "inventory.json").write_text(json.dumps(inventory))
    password_file = workdir / "password"
    password_file.write_text(password)
    password_file.chmod(0o600)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    state = lab["state"]
    with open(workdir / "vcsim.log", "wb") as log:
        process = subprocess.Popen(
            [str(state / "bin" / "vcsim"), "--listen", "127.0.0.1:%d" % port, "--username", "administrator@vsphere.local",
             "--password-file", str(password_file), "--cert", str(state / "pki" / "vcenter.crt"),
             "--key", str(state / "pki" / "vcenter.key"), "--inventory", str(workdir / "inventory.json"),
             "--state-dir", str(workdir / "state"), *options],
            stdout=subprocess.PIPE, stderr=log, start_new_session=True)
    try:
        assert process.stdout.readline().startswith(b"VCSIM READY"), (workdir / "vcsim.log").read_text()
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stdout.close()
