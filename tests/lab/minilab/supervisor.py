"""A small process supervisor: the lab has no systemd, so it tracks its own processes.

Each service runs detached in its own session, logs to ``logs/<name>.log`` and is
recorded in ``run/<name>.pid`` as ``<pid> <start-time>``. The start time (field 22
of /proc/<pid>/stat) guards against PID reuse: a stale pidfile whose PID now
belongs to another process is never mistaken for the service, nor killed.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Sequence

from .config import HOST, LabConfig, LabError

LOG_TAIL_LINES = 15


def port_open(port: int, host: str = HOST) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex((host, port)) == 0


def log_tail(path: Path, lines: int = LOG_TAIL_LINES) -> str:
    if not path.exists():
        return "(no log)"
    content = path.read_text(errors="replace").splitlines()
    return "\n".join(content[-lines:])


@dataclass
class Ready:
    """How to tell that a started service is ready to serve.

    ``check`` gets what the service has logged since this start (not earlier runs'
    output, which the appended log file still holds).
    """

    describe: str
    check: Callable[[str], bool]

    @classmethod
    def port(cls, port: int) -> "Ready":
        return cls(f"port {port} open", lambda _output: port_open(port))

    @classmethod
    def log_line(cls, pattern: str) -> "Ready":
        regex = re.compile(pattern)
        return cls(f"log line /{pattern}/", lambda output: bool(regex.search(output)))


def _read_from(path: Path, offset: int) -> str:
    with open(path, "rb") as log:
        log.seek(offset)
        return log.read().decode(errors="replace")


def _start_time(pid: int) -> str | None:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    # The command name (field 2) may contain spaces; fields after it are plain.
    return stat.rsplit(")", 1)[1].split()[19]


class Supervisor:
    def __init__(self, cfg: LabConfig):
        self.cfg = cfg

    def _pidfile(self, name: str) -> Path:
        return self.cfg.run / f"{name}.pid"

    def _order_file(self) -> Path:
        return self.cfg.run / "order"

    def log_path(self, name: str) -> Path:
        return self.cfg.logs / f"{name}.log"

    def pid(self, name: str) -> int | None:
        """The live PID of a service this supervisor started, else None."""
        try:
            pid_text, started = self._pidfile(name).read_text().split()
        except (OSError, ValueError):
            return None
        pid = int(pid_text)
        return pid if _start_time(pid) == started else None

    def _listed(self) -> list[str]:
        order = self._order_file()
        return order.read_text().split() if order.exists() else []

    def names(self) -> list[str]:
        """Services in start order (those started earlier first)."""
        listed = self._listed()
        on_disk = sorted(p.stem for p in self.cfg.run.glob("*.pid"))
        return [n for n in listed if n in on_disk] + [n for n in on_disk if n not in listed]

    def start(
        self,
        name: str,
        argv: Sequence[str],
        *,
        ready: Ready,
        env: dict | None = None,
        cwd: Path | None = None,
        user: str | None = None,
        timeout: float = 90,
    ) -> bool:
        """Start a service unless it runs already; wait until ready. True if started now."""
        if self.pid(name):
            return False
        self.cfg.ensure_dirs()
        log = self.log_path(name)
        with open(log, "ab") as out:
            out.write(f"\n=== {time.strftime('%F %T')} start: {' '.join(argv)}\n".encode())
            out.flush()
            this_run_from = out.tell()
            proc = subprocess.Popen(  # noqa: S603 - argv built by the lab itself
                list(argv),
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                cwd=cwd,
                user=user,
                group=user,
                start_new_session=True,
            )
        self._pidfile(name).write_text(f"{proc.pid} {_start_time(proc.pid)}\n")
        # Not names(): that lists every pidfile, this one's included, so it would never be added.
        if name not in self._listed():
            with open(self._order_file(), "a") as order:
                order.write(name + "\n")
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                self._pidfile(name).unlink(missing_ok=True)
                raise LabError(
                    f"{name} exited with status {proc.returncode} before it was ready "
                    f"({ready.describe}); last lines of {log}:\n{log_tail(log)}"
                )
            if ready.check(_read_from(log, this_run_from)):
                return True
            time.sleep(0.3)
        raise LabError(
            f"{name} not ready after {timeout:.0f}s ({ready.describe}); "
            f"last lines of {log}:\n{log_tail(log)}"
        )

    def stop(self, name: str, timeout: float = 20) -> bool:
        """Stop a service and everything in its session. True if it was running."""
        pid = self.pid(name)
        if not pid:
            self._pidfile(name).unlink(missing_ok=True)
            return False
        self._signal_group(pid, signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and _start_time(pid) is not None:
            if _is_zombie(pid):
                break
            time.sleep(0.2)
        else:
            if _start_time(pid) is not None:
                self._signal_group(pid, signal.SIGKILL)
        self._pidfile(name).unlink(missing_ok=True)
        return True

    def stop_all(self) -> list[str]:
        return [name for name in reversed(self.names()) if self.stop(name)]

    @staticmethod
    def _signal_group(pid: int, sig: int) -> None:
        try:
            os.killpg(pid, sig)
        except ProcessLookupError:
            pass

    def run(
        self,
        argv: Sequence[str],
        *,
        log: str,
        env: dict | None = None,
        cwd: Path | None = None,
        user: str | None = None,
        input_text: str | None = None,
        check: bool = True,
    ) -> subprocess.CompletedProcess:
        """Run a one-shot command, its output appended to logs/<log>.log."""
        self.cfg.ensure_dirs()
        path = self.log_path(log)
        with open(path, "ab") as out:
            out.write(f"\n=== {time.strftime('%F %T')} run: {' '.join(argv)}\n".encode())
            out.flush()
            result = subprocess.run(  # noqa: S603 - argv built by the lab itself
                list(argv),
                input=input_text.encode() if input_text is not None else None,
                stdin=None if input_text is not None else subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
                env={**os.environ, **(env or {})},
                cwd=cwd,
                user=user,
                group=user,
                check=False,
            )
        if check and result.returncode != 0:
            raise LabError(
                f"{argv[0]} failed with status {result.returncode}; "
                f"last lines of {path}:\n{log_tail(path)}"
            )
        return result


def _is_zombie(pid: int) -> bool:
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True
    return stat.rsplit(")", 1)[1].split()[0] == "Z"


def rss_kib(pid: int) -> int:
    """Resident memory of a process and all its descendants, in KiB."""
    total = 0
    for child in [pid, *descendants(pid)]:
        try:
            for line in Path(f"/proc/{child}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1])
        except OSError:
            continue
    return total


def descendants(pid: int) -> list[int]:
    """Every process below pid, children first."""
    children: dict[int, list[int]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            ppid = int((entry / "stat").read_text().rsplit(")", 1)[1].split()[1])
        except (OSError, IndexError, ValueError):
            continue
        children.setdefault(ppid, []).append(int(entry.name))
    found, queue = [], [pid]
    while queue:
        for child in children.get(queue.pop(), []):
            found.append(child)
            queue.append(child)
    return found
