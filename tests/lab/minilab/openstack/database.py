"""MariaDB: its process, configuration, first initialisation, the services' databases and
users, and the lab's own queries."""

from __future__ import annotations

import subprocess
from pathlib import Path

from ..config import HOST, PORTS, LabConfig, LabError
from ..supervisor import Ready, Supervisor
from .processes import Service

# Database user -> the databases it owns (nova_cell0 is found by nova-manage from its suffix).
DATABASES = {
    "keystone": ("keystone",),
    "placement": ("placement",),
    "glance": ("glance",),
    "neutron": ("neutron",),
    "nova": ("nova_api", "nova", "nova_cell0"),
}


def mariadb(cfg: LabConfig) -> Service:
    return Service(
        "mariadb",
        ("mariadbd", f"--defaults-file={cfg.etc / 'mariadb' / 'my.cnf'}"),
        Ready.port(PORTS["mariadb"]),
        user="mysql",
    )


def db_url(cfg: LabConfig, user: str, database: str) -> str:
    return (
        f"mysql+pymysql://{user}:{cfg.secret('db')}@{HOST}:{PORTS['mariadb']}/{database}"
        "?charset=utf8"
    )


def write_mariadb_configs(cfg: LabConfig) -> None:
    data = cfg.state / "mariadb"
    # Read by mariadbd running as mysql; it holds no secret.
    (cfg.etc / "mariadb" / "my.cnf").write_text(
        "[mariadbd]\n"
        f"datadir = {data / 'data'}\n"
        f"socket = {_socket(cfg)}\n"
        f"pid-file = {data / 'mariadb.pid'}\n"
        f"port = {PORTS['mariadb']}\n"
        f"bind-address = {HOST}\n"
        "skip-name-resolve\n"
        # A dozen OpenStack processes each keep a pool of connections.
        "max_connections = 1000\n"
    )


def init_mariadb(cfg: LabConfig, sup: Supervisor) -> None:
    if (cfg.state / "mariadb" / "data" / "mysql").is_dir():
        return
    sup.run(
        (
            "mariadb-install-db",
            f"--defaults-file={cfg.etc / 'mariadb' / 'my.cnf'}",
            "--user=mysql",
            "--skip-test-db",
            "--auth-root-authentication-method=socket",
        ),
        log="mariadb-install",
    )


def create_databases(cfg: LabConfig, sup: Supervisor) -> None:
    password = cfg.secret("db")
    statements = [
        "ALTER USER root@localhost IDENTIFIED VIA unix_socket "
        f"OR mysql_native_password USING PASSWORD('{cfg.secret('mariadb_root')}');"
    ]
    for user, databases in DATABASES.items():
        statements.append(
            f"CREATE USER IF NOT EXISTS '{user}'@'{HOST}' IDENTIFIED BY '{password}';"
        )
        for database in databases:
            statements += [
                f"CREATE DATABASE IF NOT EXISTS {database};",
                f"GRANT ALL PRIVILEGES ON {database}.* TO '{user}'@'{HOST}';",
            ]
    # On stdin, so that no password shows in a process list or a log.
    sup.run(_mariadb_client(cfg), log="mariadb-bootstrap", input_text="\n".join(statements))


def query(cfg: LabConfig, sql: str) -> str:
    result = subprocess.run(  # noqa: S603 - argv built by the lab itself
        [*_mariadb_client(cfg), "--execute", sql], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise LabError(f"MariaDB query failed: {result.stderr.strip()}")
    return result.stdout.strip()


def _socket(cfg: LabConfig) -> Path:
    return cfg.state / "mariadb" / "mariadb.sock"


def _mariadb_client(cfg: LabConfig) -> tuple[str, ...]:
    # As root over the socket: MariaDB's root authenticates the local root user by its uid.
    return ("mariadb", f"--socket={_socket(cfg)}", "--user=root", "--batch", "--skip-column-names")
