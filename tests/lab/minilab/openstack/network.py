"""Neutron: its configuration (ML2 with flat provider networks, no agents) and schema."""

from __future__ import annotations

from ..config import LabConfig
from .database import db_url
from .identity import authtoken
from .messaging import transport_url
from .processes import Step, bin_path

# Flat provider networks only, and no mechanism driver: there is no agent to bind ports.
ML2_CONF = {
    "ml2": {"type_drivers": "flat", "tenant_network_types": "", "mechanism_drivers": ""},
    "ml2_type_flat": {"flat_networks": "*"},
}


def neutron_conf(cfg: LabConfig) -> dict:
    return {
        "DEFAULT": {
            "core_plugin": "ml2",
            "service_plugins": "router,port_forwarding",
            "auth_strategy": "keystone",
            "transport_url": transport_url(cfg),
            "state_path": cfg.state / "neutron",
            # No nova credentials needed: without agents no port event is worth telling nova.
            "notify_nova_on_port_status_changes": "false",
            "notify_nova_on_port_data_changes": "false",
        },
        "database": {"connection": db_url(cfg, "neutron", "neutron")},
        "keystone_authtoken": authtoken(cfg, "neutron"),
        "oslo_concurrency": {"lock_path": "$state_path/lock"},
    }


def bootstrap_steps(cfg: LabConfig) -> list[Step]:
    neutron = (
        bin_path(cfg, "neutron-db-manage"),
        *("--config-file", str(cfg.etc / "neutron/neutron.conf")),
        *("--config-file", str(cfg.etc / "neutron/plugins/ml2/ml2_conf.ini")),
    )
    return [Step("neutron-db", (*neutron, "upgrade", "heads"))]
