"""The lab's paths and environment, and the clean environment every run of ansible starts from."""

from __future__ import annotations

import os
import shlex
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
LAB = [sys.executable, str(ROOT / "tests" / "lab" / "lab")]
VENV_BIN = Path(sys.executable).parent


class LabEnv(dict):
    """Environment variables, with passwords masked wherever pytest prints them."""

    def __repr__(self):
        return repr({key: "********" if "PASSWORD" in key else value for key, value in self.items()})


def lab_env() -> LabEnv:
    """The variables `lab env` exports (the lab's VMWARE_*, OS_* and SSL_CERT_FILE)."""
    out = subprocess.run(LAB + ["env"], check=True, capture_output=True, text=True).stdout
    env = LabEnv()
    for line in out.splitlines():
        name, value = line.removeprefix("export ").split("=", 1)
        env[name] = shlex.split(value)[0] if value else ""
    return env


def clean_env(**overrides):
    """This process's environment without any lab or cloud credentials, plus overrides (None removes)."""
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
