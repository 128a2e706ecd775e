"""Glance: its configuration (a file store under the lab's state) and schema."""

from __future__ import annotations

from ..config import LabConfig
from .database import db_url
from .identity import authtoken
from .processes import Step, bin_path


def glance_conf(cfg: LabConfig) -> dict:
    data = cfg.state / "glance"
    return {
        "DEFAULT": {"enabled_backends": "fs:file"},
        "database": {"connection": db_url(cfg, "glance", "glance")},
        "glance_store": {"default_backend": "fs"},
        "fs": {"filesystem_store_datadir": data / "images"},
        # The stores glance reserves for itself (staging for imports); by default under
        # /var/lib/glance.
        "os_glance_staging_store": {"filesystem_store_datadir": data / "staging"},
        "os_glance_tasks_store": {"filesystem_store_datadir": data / "tasks"},
        "paste_deploy": {"flavor": "keystone"},
        "keystone_authtoken": authtoken(cfg, "glance"),
        "oslo_concurrency": {"lock_path": data / "lock"},
    }


def bootstrap_steps(cfg: LabConfig) -> list[Step]:
    glance = (
        bin_path(cfg, "glance-manage"),
        "--config-file",
        str(cfg.etc / "glance/glance-api.conf"),
    )
    return [Step("glance-db", (*glance, "db_sync"))]
