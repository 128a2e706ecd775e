#!/usr/bin/env python3
"""Measure the lab: cold `lab up` (fresh state dir, empty pip and Go caches), warm `lab up`
(after `lab down`, everything installed), and the total RSS of the running lab.

    python3 tests/lab/bench_lab.py [--keep]

Targets (issue 2): cold <= 8 min, warm <= 90 s, RSS <= 4 GiB. Debian packages are assumed
installed (tests/setup.sh); their download time is not part of the figure. The ports are
the lab's own, so no other lab may be running.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from minilab.config import PORTS, LabConfig  # noqa: E402
from minilab.supervisor import Supervisor, port_open, rss_kib  # noqa: E402


def lab(command: str, env: dict) -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, str(HERE / "lab"), command], env=env, check=True, stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def main() -> int:
    busy = [name for name, port in PORTS.items() if port_open(port)]
    if busy:
        print(f"ports in use ({', '.join(busy)}): stop the running lab first (make lab-down)", file=sys.stderr)
        return 1
    scratch = Path(tempfile.mkdtemp(prefix="lab-bench-"))
    # Traversable by the mysql and rabbitmq users the lab runs those services as.
    scratch.chmod(0o755)
    env = dict(os.environ, LAB_DIR=str(scratch / "state"), GOCACHE=str(scratch / "go-cache"), PIP_NO_CACHE_DIR="1")
    try:
        cold = lab("up", env)
        lab("down", env)
        warm = lab("up", dict(env, PIP_NO_CACHE_DIR="0"))
        cfg = LabConfig(state=scratch / "state")
        sup = Supervisor(cfg)
        rss = sum(rss_kib(pid) for pid in map(sup.pid, sup.names()) if pid)
        print(f"cold lab-up: {cold:.1f} s (target <= 480 s)")
        print(f"warm lab-up: {warm:.1f} s (target <= 90 s)")
        print(f"lab RSS: {rss / 1024:.0f} MiB over {len(sup.names())} services (target <= 4096 MiB)")
    finally:
        if "--keep" not in sys.argv:
            lab("down", env)
            shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
