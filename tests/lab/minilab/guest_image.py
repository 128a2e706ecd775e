"""The lab's guest image: built from Debian packages by tests/lab/guest/build_guest_image.py, kept
between runs, and read back from a guest's console.

The build lives in ``LAB_GUEST_DIR`` (default ``~/.cache/nova-vsphere-lab/guest``, shared by every
``LAB_DIR``: it depends on no lab's state) and is made again only when its inputs change. The
console lines are listed in docs/lab.md ("The guest image").
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

from .config import REPO_ROOT, LabError

BUILDER = REPO_ROOT / "tests" / "lab" / "guest" / "build_guest_image.py"
READY = "LAB-GUEST-READY"
_LINE = re.compile(r"^LAB-GUEST-(DATA|UUID|TOKEN|ERROR) (.*?)\r?$", re.MULTILINE)


def directory() -> Path:
    if os.environ.get("LAB_GUEST_DIR"):
        return Path(os.environ["LAB_GUEST_DIR"]).resolve()
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    return cache / "nova-vsphere-lab" / "guest"


def image() -> dict:
    """The built image's manifest (``qcow2``, ``vmdk``, ``data``, ...), building it first if needed."""
    result = subprocess.run([sys.executable, str(BUILDER), "--out", str(directory())], capture_output=True,
                            text=True, check=False)
    if result.returncode:
        raise LabError(f"the guest image could not be built: {result.stderr.strip()}")
    return json.loads(Path(result.stdout.strip()).read_text())


@dataclass
class Console:
    """What a guest printed: ``token_state`` is ``new`` (its disk's first boot), ``kept`` or ``unwritable``."""

    ready: bool
    data: str | None = None
    uuid: str | None = None
    token_state: str | None = None
    token: str | None = None
    error: str | None = None

    @property
    def complete(self) -> bool:
        """Every line of a boot is there (the token line comes last), or the guest said what failed."""
        return self.token_state is not None or self.error is not None


def parse_console(text: str) -> Console:
    """The last boot's lines in a console log (a log may hold several boots of the same disk)."""
    last = text.rfind(READY)
    if last < 0:
        return Console(ready=False)
    console = Console(ready=True)
    for kind, value in _LINE.findall(text[last:]):
        if kind == "DATA":
            console.data = value
        elif kind == "UUID":
            console.uuid = value
        elif kind == "TOKEN":
            console.token_state, _, token = value.partition(" ")
            console.token = token or None
        else:
            console.error = value
    return console
