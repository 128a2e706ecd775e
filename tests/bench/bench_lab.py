#!/usr/bin/env python3
"""Measure the lab: cold `lab up` (fresh state dir, empty pip and Go caches), warm `lab up`
(after `lab down`, everything installed), a real guest's boot on a KVM host, and the total RSS
of the running lab.

    .venv/bin/python tests/bench/bench_lab.py [--keep]

Targets (issue 2): cold <= 8 min, warm <= 90 s, RSS <= 4 GiB. Debian packages are assumed
installed (tests/setup.sh); their download time is not part of the figure, nor is the guest
image's build (cached in LAB_GUEST_DIR, shared by every lab). The guest's boot is timed from
nova's create call to ACTIVE and to the guest's complete boot on its serial console (read
every 2 s), under the virt_type the lab chose. The ports are the lab's own, so no other lab
may be running.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
sys.path.insert(0, str(ROOT / "tests" / "lab"))
from helpers.kvm import KvmCloud  # noqa: E402  pylint: disable=wrong-import-position
from minilab import kvm  # noqa: E402  pylint: disable=wrong-import-position
from minilab.config import PORTS, LabConfig  # noqa: E402  pylint: disable=wrong-import-position
from minilab.supervisor import Supervisor, port_open, rss_kib  # noqa: E402  pylint: disable=wrong-import-position

GUEST = "bench-lab-guest"


def lab(command: str, env: dict) -> float:
    started = time.monotonic()
    subprocess.run([sys.executable, str(ROOT / "tests" / "lab" / "lab"), command], env=env, check=True,
                   stdout=subprocess.DEVNULL)
    return time.monotonic() - started


def guest_boot(cfg: LabConfig) -> tuple[str, float, float]:
    """Boot one guest on the first KVM host: its host, the seconds to ACTIVE and to its complete console."""
    cloud = KvmCloud({"OS_CLIENT_CONFIG_FILE": str(cfg.state / "clouds.yaml"), "OS_CLOUD": "lab-admin"})
    cloud.flavor(GUEST, 128)
    host = next(iter(cloud.hosts))
    try:
        started = time.monotonic()
        server = cloud.boot(GUEST, 1, host, GUEST)[0]
        active = time.monotonic() - started
        cloud.console(server["id"])
        return host, active, time.monotonic() - started
    finally:
        cloud.delete([GUEST])


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
        os.environ["LAB_DIR"] = env["LAB_DIR"]
        cfg = LabConfig.from_env()
        host, active, console = guest_boot(cfg)
        sup = Supervisor(cfg)
        rss = sum(rss_kib(pid) for pid in map(sup.pid, sup.names()) if pid)
        daemon = sup.daemon_pid()
        # supervisord's own memory (its services' is counted above).
        rss += rss_kib(daemon, tree=False) if daemon else 0
        print(f"cold lab-up: {cold:.1f} s (target <= 480 s), {len(kvm.hosts(cfg))} KVM hosts")
        print(f"warm lab-up: {warm:.1f} s (target <= 90 s)")
        print(f"guest boot on {host} (virt_type {kvm.virt_type(cfg)}): ACTIVE in {active:.1f} s, "
              f"console complete in {console:.1f} s")
        print(f"lab RSS: {rss / 1024:.0f} MiB over {len(sup.names())} services (target <= 4096 MiB)")
    finally:
        if "--keep" not in sys.argv:
            lab("down", env)
            shutil.rmtree(scratch, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
