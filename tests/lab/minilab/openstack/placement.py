"""Placement: its configuration and schema."""

from __future__ import annotations

from ..config import LabConfig
from .database import db_url
from .identity import authtoken
from .processes import Step, bin_path


def placement_conf(cfg: LabConfig) -> dict:
    return {
        "placement_database": {"connection": db_url(cfg, "placement", "placement")},
        "api": {"auth_strategy": "keystone"},
        "keystone_authtoken": authtoken(cfg, "placement"),
    }


def bootstrap_steps(cfg: LabConfig) -> list[Step]:
    placement = (
        bin_path(cfg, "placement-manage"),
        "--config-file",
        str(cfg.etc / "placement/placement.conf"),
    )
    return [Step("placement-db", (*placement, "db", "sync"))]
