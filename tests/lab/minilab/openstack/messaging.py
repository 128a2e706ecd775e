"""RabbitMQ and its epmd: processes, environment, configuration, and the transport URL the
services reach it by."""

from __future__ import annotations

import shutil

from ..config import HOST, PORTS, LabConfig
from ..supervisor import Ready
from .config_files import open_private
from .processes import Service


def epmd() -> Service:
    # Erlang would otherwise start its own epmd, detached and out of the supervisor's reach.
    return Service(
        "epmd",
        ("epmd", "-port", str(PORTS["epmd"]), "-address", HOST),
        Ready.port(PORTS["epmd"]),
        user="rabbitmq",
    )


def rabbitmq(cfg: LabConfig) -> Service:
    return Service(
        "rabbitmq",
        ("/usr/lib/rabbitmq/bin/rabbitmq-server",),
        Ready.port(PORTS["rabbitmq"]),
        env=_rabbitmq_env(cfg),
        user="rabbitmq",
    )


def _rabbitmq_env(cfg: LabConfig) -> dict:
    data = cfg.state / "rabbitmq"
    return {
        "HOME": str(data),  # its Erlang cookie stays in the lab
        "RABBITMQ_CONF_ENV_FILE": "/dev/null",  # not the operator's /etc/rabbitmq one
        "RABBITMQ_CONFIG_FILE": str(cfg.etc / "rabbitmq" / "rabbitmq.conf"),
        "RABBITMQ_ENABLED_PLUGINS_FILE": str(cfg.etc / "rabbitmq" / "enabled_plugins"),
        "RABBITMQ_MNESIA_BASE": str(data / "mnesia"),
        "RABBITMQ_LOG_BASE": str(data / "log"),
        "RABBITMQ_LOGS": "-",
        "RABBITMQ_PID_FILE": str(data / "rabbitmq.pid"),
        "RABBITMQ_NODENAME": "rabbit@localhost",
        "RABBITMQ_NODE_IP_ADDRESS": HOST,
        "RABBITMQ_NODE_PORT": str(PORTS["rabbitmq"]),
        "RABBITMQ_DIST_PORT": str(PORTS["rabbitmq_dist"]),
        "ERL_EPMD_PORT": str(PORTS["epmd"]),
        "RABBITMQ_SERVER_ADDITIONAL_ERL_ARGS": "-kernel inet_dist_use_interface {127,0,0,1}",
    }


def write_rabbitmq_configs(cfg: LabConfig) -> None:
    conf = cfg.etc / "rabbitmq"
    # default_user is created when the node first boots with an empty database, and only then.
    with open_private(conf / "rabbitmq.conf") as handle:
        handle.write(f"default_user = lab\ndefault_pass = {cfg.secret('rabbitmq')}\n")
    (conf / "enabled_plugins").write_text("[].\n")
    for name in ("rabbitmq.conf", "enabled_plugins"):
        shutil.chown(conf / name, "rabbitmq", "rabbitmq")


def transport_url(cfg: LabConfig) -> str:
    return f"rabbit://lab:{cfg.secret('rabbitmq')}@{HOST}:{PORTS['rabbitmq']}/"
