"""The lab's mini OpenStack: MariaDB, RabbitMQ, keystone, placement, glance, neutron and nova
with its computes (see ``compute`` and ``..kvm``), all on 127.0.0.1 and all under ``LabConfig.state``. This module holds the
install, the start order and the directory layout; a module per service holds its processes,
configuration and bootstrap.

Layout of the state directory:
  venv/                      the services' virtualenv (``install``)
  etc/<service>/             generated configuration
  mariadb/, rabbitmq/        data owned by the mysql and rabbitmq users, who run those two
  glance/, neutron/, nova/   the OpenStack services' own state
  stamps/<step>              one-time steps done, each with the key it was done for
  clouds.yaml, openrc-admin  how clients reach the lab

``up`` brings everything up and is idempotent: a process already running is left alone and
every bootstrap step either checks before it creates or is stamped. ``Supervisor.stop_all``
takes it down again; each process is a program of the lab's supervisord, in a process group
of its own that it dies with.
"""

from __future__ import annotations

import hashlib
import shutil
import stat
import sys
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from .. import kvm
from ..config import REPO_ROOT, LabConfig, LabError
from ..supervisor import Supervisor
from . import compute, database, identity, image, messaging, network, placement
from .apis import APIS, api_service
from .clients import write_client_files
from .compute import (
    CONTROL_HOST,
    NOVA_API_OPTIONS,
    compute_conf,
    compute_hosts,
    discover_hosts,
    extra_compute,
    host_power,
    nova_manage,
    remove_extra_compute,
)
from .config_files import write_ini
from .identity import service_auth
from .messaging import transport_url
from .processes import Service, Step, bin_path
from .stamps import digest, once

# What the rest of the lab and the tests use of the OpenStack half.
__all__ = [
    "CONSTRAINTS",
    "NOVA_API_OPTIONS",
    "compute_conf",
    "compute_hosts",
    "discover_hosts",
    "extra_compute",
    "host_power",
    "install",
    "nova_manage",
    "remove_extra_compute",
    "service_auth",
    "services",
    "transport_url",
    "up",
]

REQUIREMENTS = REPO_ROOT / "tests" / "lab" / "openstack-requirements.txt"
CONSTRAINTS = REPO_ROOT / "tests" / "lab" / "openstack-constraints.txt"

# The services that run as their own users, as Debian installs them, by their directories.
OWN_USERS = {"mariadb": "mysql", "rabbitmq": "rabbitmq"}


# --- install -------------------------------------------------------------------------------


def install(cfg: LabConfig, sup: Supervisor) -> bool:
    """Build the services' venv unless it was built from these very pins. True if built now."""
    key = hashlib.sha256(REQUIREMENTS.read_bytes() + CONSTRAINTS.read_bytes()).hexdigest()

    def build() -> None:
        # --clear: a venv rebuilt for new pins must not keep packages the old ones brought.
        sup.run([sys.executable, "-m", "venv", "--clear", str(cfg.venv)], log="openstack-install")
        sup.run(
            [bin_path(cfg, "pip"), "install", "-c", str(CONSTRAINTS), "-r", str(REQUIREMENTS)],
            log="openstack-install",
        )

    return once(cfg, "venv", key, build)


# --- up ------------------------------------------------------------------------------------


def up(cfg: LabConfig, sup: Supervisor) -> None:
    if not (cfg.venv / "bin" / "nova-manage").exists():
        raise LabError(f"no OpenStack venv at {cfg.venv}: install it first")
    _prepare_dirs(cfg)
    kvm.prepare(cfg)
    _write_configs(cfg)
    first, broker_and_identity, control, computes = _stages(cfg)
    database.init_mariadb(cfg, sup)
    _start_together(sup, first)
    database.create_databases(cfg, sup)
    for step in _bootstrap_steps(cfg):
        once(cfg, step.name, "", lambda s=step: sup.run(s.argv, log=s.name, env=s.env))
    _start_together(sup, broker_and_identity)
    # Stamped with what they create, so that a changed plan is applied on the next up.
    once(
        cfg,
        "keystone-identity",
        digest(identity.GRANTS, identity.catalog()),
        lambda: identity.ensure_identity(cfg),
    )
    # A nova-api started with other [api] options is restarted (by the start below) to apply them.
    once(cfg, "nova-api-options", digest(NOVA_API_OPTIONS), lambda: sup.stop("nova-api"))
    _start_together(sup, control)
    _start_together(sup, computes)
    compute.discover_lab_hosts(cfg, sup)
    once(
        cfg,
        "nova-admin-quotas",
        digest(compute.ADMIN_QUOTAS),
        lambda: compute.raise_admin_quotas(cfg),
    )
    write_client_files(cfg)


def services(cfg: LabConfig) -> list[tuple[str, str | None]]:
    """Every process of the OpenStack half of the lab, in start order, with its URL if any."""
    return [(service.name, service.url) for stage in _stages(cfg) for service in stage]


def _stages(cfg: LabConfig) -> list[list[Service]]:
    """The lab's processes in groups; a group starts together once the one before is ready."""
    keystone, *apis = (api_service(cfg, api) for api in APIS)
    return [
        # The KVM hosts' libvirtds early: their nova-computes need them at start.
        [database.mariadb(cfg), messaging.epmd(), *compute.libvirt_services(cfg)],
        # keystone before the rest: nova's services authenticate as soon as they start, so
        # their users must exist.
        [messaging.rabbitmq(cfg), keystone],
        # The conductor before the computes: a message sent before its queue exists is lost.
        [*apis, *compute.control_services(cfg)],
        compute.compute_services(cfg),
    ]


def _start_together(sup: Supervisor, group: list[Service]) -> None:
    # Starting is mostly waiting for Python imports and readiness, so overlapping the members
    # of a group roughly halves the time on two cores.
    def start(service: Service) -> bool:
        return sup.start(
            service.name, service.argv, ready=service.ready, env=service.env, user=service.user
        )

    with ThreadPoolExecutor(max_workers=len(group)) as pool:
        for future in [pool.submit(start, service) for service in group]:
            future.result()


def _bootstrap_steps(cfg: LabConfig) -> list[Step]:
    """Key repositories, schemas, keystone's admin and catalog entry, nova's cells."""
    return [
        *identity.bootstrap_steps(cfg),
        *placement.bootstrap_steps(cfg),
        *image.bootstrap_steps(cfg),
        *network.bootstrap_steps(cfg),
        *compute.bootstrap_steps(cfg),
    ]


# --- directories and configuration ---------------------------------------------------------


def _prepare_dirs(cfg: LabConfig) -> None:
    cfg.ensure_dirs()
    _check_traversable(cfg.state.parent)
    for directory in (cfg.state, cfg.etc):
        directory.chmod(directory.stat().st_mode | stat.S_IXOTH)
    for name, owner in OWN_USERS.items():
        for directory in (cfg.state / name, cfg.etc / name):
            directory.mkdir(parents=True, exist_ok=True)
            shutil.chown(directory, owner, owner)
    nova_hosts = (f"nova/{host}" for host in (CONTROL_HOST, *compute_hosts(cfg)))
    for directory in ("glance", "neutron", *nova_hosts):
        (cfg.state / directory).mkdir(parents=True, exist_ok=True)


def _check_traversable(directory: Path) -> None:
    """MariaDB and RabbitMQ run as their own users, who must reach the state directory."""
    for ancestor in (directory, *directory.parents):
        if not ancestor.stat().st_mode & stat.S_IXOTH:
            raise LabError(
                f"{ancestor} is not searchable by other users, so the mysql and rabbitmq users "
                f"cannot reach the lab's state: chmod o+x {ancestor}, or set LAB_DIR elsewhere"
            )


def _write_configs(cfg: LabConfig) -> None:
    etc = cfg.etc
    ini_files = {
        etc / "keystone/keystone.conf": identity.keystone_conf(cfg),
        etc / "placement/placement.conf": placement.placement_conf(cfg),
        etc / "glance/glance-api.conf": image.glance_conf(cfg),
        etc / "neutron/neutron.conf": network.neutron_conf(cfg),
        etc / "neutron/plugins/ml2/ml2_conf.ini": network.ML2_CONF,
        **compute.nova_conf_files(cfg),
    }
    for path, sections in ini_files.items():
        write_ini(path, sections)
    for api in APIS:
        if api.paste:
            shutil.copyfile(
                cfg.venv / "etc" / api.service / api.paste, cfg.etc / api.service / api.paste
            )
    database.write_mariadb_configs(cfg)
    messaging.write_rabbitmq_configs(cfg)
    compute.install_lab_driver(cfg)
