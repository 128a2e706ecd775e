"""What the OpenStack half of the lab runs: long-running services, one-time steps, and the
executables of the services' venv."""

from __future__ import annotations

from dataclasses import dataclass

from ..config import LabConfig
from ..supervisor import Ready


@dataclass(frozen=True)
class Service:
    """A long-running process of the lab, as the supervisor starts it."""

    name: str
    argv: tuple[str, ...]
    ready: Ready
    url: str | None = None
    env: dict | None = None
    user: str | None = None


@dataclass(frozen=True)
class Step:
    """A one-time bootstrap command, stamped once it succeeded."""

    name: str
    argv: tuple[str, ...]
    env: dict | None = None


def bin_path(cfg: LabConfig, name: str) -> str:
    return str(cfg.venv / "bin" / name)
