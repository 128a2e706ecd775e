"""One-time steps, stamped under ``stamps/<step>`` with the key they were done for."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable

from ..config import LabConfig


def digest(*parts) -> str:
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def once(cfg: LabConfig, step: str, key: str, action: Callable[[], object]) -> bool:
    """Run action unless the stamp of step records key; stamp only on success. True if run."""
    stamp = cfg.state / "stamps" / step
    if stamp.exists() and stamp.read_text() == key:
        return False
    action()
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(key)
    return True
