"""The lab's BMCs as the tests reach them: each KVM host's ``bmc`` host variable (what the site inventory gives
playbooks, minilab.bmc.endpoints), and what `lab status` reads through each."""

from __future__ import annotations

import subprocess
import sys

from helpers.lab import LAB, ROOT

sys.path.insert(0, str(ROOT / "tests" / "lab"))
from minilab import bmc as lab_bmc  # noqa: E402  pylint: disable=wrong-import-position
from minilab.config import LabConfig  # noqa: E402  pylint: disable=wrong-import-position


def endpoints():
    """KVM host -> its BMC: agent, address, port, username, password, system, validate_certs, ca_path."""
    return lab_bmc.endpoints(LabConfig.from_env())


def status_line(host):
    """The line of `lab status` for the host's BMC: its program, PID, memory, URL and the power it reads."""
    name = lab_bmc.bmc(LabConfig.from_env(), host).name
    out = subprocess.run(LAB + ["status"], capture_output=True, text=True, check=False).stdout
    return next(line for line in out.splitlines() if line.split()[:1] == [name])
