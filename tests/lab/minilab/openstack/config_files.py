"""Writing the services' configuration files; those with secrets are opened mode 0600."""

from __future__ import annotations

import configparser
import os
from pathlib import Path
from typing import TextIO


def write_ini(path: Path, sections: dict) -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keep option names as written
    for section, options in sections.items():
        if section != "DEFAULT":
            parser.add_section(section)
        for key, value in options.items():
            parser.set(section, key, str(value))
    path.parent.mkdir(parents=True, exist_ok=True)
    with open_private(path) as handle:
        parser.write(handle)


def open_private(path: Path) -> TextIO:
    """Open path for writing with mode 0600, whatever mode an older copy had."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "w")
