"""The lab's mini OpenStack: MariaDB, RabbitMQ, keystone, placement, glance, neutron and nova
with fake computes, all on 127.0.0.1 and all under ``LabConfig.state``.

Layout of the state directory:
  venv/                      the services' virtualenv (``install``)
  etc/<service>/             generated configuration
  mariadb/, rabbitmq/        data owned by the mysql and rabbitmq users, who run those two
  glance/, neutron/, nova/   the OpenStack services' own state
  stamps/<step>              one-time steps done, each with the key it was done for
  clouds.yaml, openrc-admin  how clients reach the lab

``up`` brings everything up and is idempotent: a process already running is left alone and
every bootstrap step either checks before it creates or is stamped. ``Supervisor.stop_all``
takes it down again; each process runs in its own session and dies with its group.
"""

from __future__ import annotations

import configparser
import hashlib
import json
import os
import shlex
import shutil
import stat
import subprocess
import sys
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from .config import HOST, PORTS, REPO_ROOT, LabConfig, LabError
from .supervisor import Ready, Supervisor

REQUIREMENTS = REPO_ROOT / "tests" / "lab" / "openstack-requirements.txt"
CONSTRAINTS = REPO_ROOT / "tests" / "lab" / "openstack-constraints.txt"
# A lab-only nova virt driver, copied into the venv's nova/virt (nova loads compute_driver
# only from that package), see docs/lab.md.
LAB_DRIVER = REPO_ROOT / "tests" / "lab" / "nova-drivers" / "lab_fake_qemu.py"

REGION = "RegionOne"
# nova's host= for the API, conductor and scheduler. The machine's hostname would do, but it
# changes between machines and would leave a dead conductor behind in a kept state directory.
CONTROL_HOST = "lab-control"
COMPUTE_HOST = "kvm-compute-{}"

# Database user -> the databases it owns (nova_cell0 is found by nova-manage from its suffix).
DATABASES = {
    "keystone": ("keystone",),
    "placement": ("placement",),
    "glance": ("glance",),
    "neutron": ("neutron",),
    "nova": ("nova_api", "nova", "nova_cell0"),
}

# (user, project, roles, secret name). The service users check tokens and call each other;
# nova's calls carry service tokens, which need the service role.
GRANTS = (
    *(
        (user, "service", ("admin", "service"), "service")
        for user in ("placement", "glance", "neutron", "nova")
    ),
    ("demo", "demo", ("member",), "demo"),
)

# The services that run as their own users, as Debian installs them, by their directories.
OWN_USERS = {"mariadb": "mysql", "rabbitmq": "rabbitmq"}

NOVA_CONTROL = ("nova-conductor", "nova-scheduler")

# Flat provider networks only, and no mechanism driver: there is no agent to bind ports.
ML2_CONF = {
    "ml2": {"type_drivers": "flat", "tenant_network_types": "", "mechanism_drivers": ""},
    "ml2_type_flat": {"flat_networks": "*"},
}

SCHEDULER_FILTERS = (
    "ComputeFilter",
    "ComputeCapabilitiesFilter",
    "ImagePropertiesFilter",
    "ServerGroupAntiAffinityFilter",
    "ServerGroupAffinityFilter",
    "AggregateInstanceExtraSpecsFilter",
)

ADMIN_QUOTAS = {"instances": 1000, "cores": 4000, "ram": 8 * 1024 * 1024}

# nova-api's [api] options. max_limit caps every page of a listing (1,000 by default): this
# low, every listing the integration tests read crosses pages, so one that reads only the
# first page is caught.
NOVA_API_OPTIONS = {"max_limit": "5"}


@dataclass(frozen=True)
class Api:
    """An OpenStack API served by uwsgi from the venv."""

    service: str  # its PORTS key and etc/ directory
    module: str  # the module defining the WSGI ``application``
    config_env: str  # the variable telling the module where its configuration is
    paste: str | None = None  # a paste file the service expects beside its configuration
    catalog_type: str | None = None  # keystone's own entry comes from keystone-manage bootstrap
    path: str = ""  # appended to the port's URL in the catalog
    uwsgi_extra: tuple[str, ...] = ()
    after_load: str | None = None  # Python run once the application is imported

    @property
    def name(self) -> str:
        return f"{self.service}-api"

    @property
    def url(self) -> str:
        return f"http://{HOST}:{PORTS[self.service]}{self.path}"


APIS = (
    Api("keystone", "keystone.wsgi.api", "OS_KEYSTONE_CONFIG_DIR", path="/v3"),
    Api("placement", "placement.wsgi.api", "OS_PLACEMENT_CONFIG_DIR", catalog_type="placement"),
    Api(
        "glance",
        "glance.wsgi.api",
        "OS_GLANCE_CONFIG_DIR",
        paste="glance-api-paste.ini",
        catalog_type="image",
        # Image uploads arrive chunked and glance reads the raw body itself. With a raw body
        # uwsgi's router cannot keep a connection alive, yet does not say so: clients reused
        # the closed connection and failed now and then with RemoteDisconnected. Saying
        # "Connection: close" makes them open a new one for each request.
        uwsgi_extra=("--http-chunked-input", "--http-raw-body", "--add-header", "Connection: close"),
    ),
    Api(
        "neutron",
        "neutron.wsgi.api",
        "OS_NEUTRON_CONFIG_DIR",
        paste="api-paste.ini",
        catalog_type="network",
        # Without agents nothing configures SQLAlchemy's mappers in the API process, and
        # listing ports fails with "Port has no attribute port_forwardings".
        after_load="import sqlalchemy.orm; sqlalchemy.orm.configure_mappers()",
    ),
    Api(
        "nova",
        "nova.wsgi.osapi_compute",
        "OS_NOVA_CONFIG_DIR",
        paste="api-paste.ini",
        catalog_type="compute",
        path="/v2.1",
    ),
)
_URLS = {api.service: api.url for api in APIS}
KEYSTONE_URL = _URLS["keystone"]
NOVA_URL = _URLS["nova"]


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


# --- install -------------------------------------------------------------------------------


def install(cfg: LabConfig, sup: Supervisor) -> bool:
    """Build the services' venv unless it was built from these very pins. True if built now."""
    digest = hashlib.sha256(REQUIREMENTS.read_bytes() + CONSTRAINTS.read_bytes()).hexdigest()

    def build() -> None:
        # --clear: a venv rebuilt for new pins must not keep packages the old ones brought.
        sup.run([sys.executable, "-m", "venv", "--clear", str(cfg.venv)], log="openstack-install")
        sup.run(
            [_bin(cfg, "pip"), "install", "-c", str(CONSTRAINTS), "-r", str(REQUIREMENTS)],
            log="openstack-install",
        )

    return _once(cfg, "venv", digest, build)


# --- up ------------------------------------------------------------------------------------


def up(cfg: LabConfig, sup: Supervisor) -> None:
    if not (cfg.venv / "bin" / "nova-manage").exists():
        raise LabError(f"no OpenStack venv at {cfg.venv}: install it first")
    _prepare_dirs(cfg)
    _write_configs(cfg)
    database, broker_and_identity, control, computes = _stages(cfg)
    _init_mariadb(cfg, sup)
    _start_together(sup, database)
    _create_databases(cfg, sup)
    for step in _bootstrap_steps(cfg):
        _once(cfg, step.name, "", lambda s=step: sup.run(s.argv, log=s.name, env=s.env))
    _start_together(sup, broker_and_identity)
    # Stamped with what they create, so that a changed plan is applied on the next up.
    _once(cfg, "keystone-identity", _digest(GRANTS, _catalog()), lambda: _ensure_identity(cfg))
    # A nova-api started with other [api] options is restarted (by the start below) to apply them.
    _once(cfg, "nova-api-options", _digest(NOVA_API_OPTIONS), lambda: sup.stop("nova-api"))
    _start_together(sup, control)
    _start_together(sup, computes)
    _discover_hosts(cfg, sup)
    _once(cfg, "nova-admin-quotas", _digest(ADMIN_QUOTAS), lambda: _raise_admin_quotas(cfg))
    _write_client_files(cfg)


def services(cfg: LabConfig) -> list[tuple[str, str | None]]:
    """Every process of the OpenStack half of the lab, in start order, with its URL if any."""
    return [(service.name, service.url) for stage in _stages(cfg) for service in stage]


def compute_hosts(cfg: LabConfig) -> list[str]:
    return [COMPUTE_HOST.format(index) for index in range(1, cfg.computes + 1)]


def extra_compute(cfg: LabConfig, host: str) -> Service:
    """One more fake-driver nova-compute, of host, beside the lab's own: for a test that needs
    more computes than the lab keeps (it starts, stops and deletes it itself)."""
    (cfg.state / "nova" / host).mkdir(parents=True, exist_ok=True)
    _write_ini(_compute_conf(cfg, host), _nova_conf(cfg, host))
    return _nova(cfg, f"nova-compute-{host}", "nova-compute", host)


def remove_extra_compute(cfg: LabConfig, host: str) -> None:
    """The configuration and state of an extra compute, once it is stopped and its service deleted."""
    _compute_conf(cfg, host).unlink(missing_ok=True)
    shutil.rmtree(cfg.state / "nova" / host, ignore_errors=True)


def discover_hosts(cfg: LabConfig, sup: Supervisor) -> None:
    """Map computes not yet mapped into cell1, so that nova schedules to them."""
    sup.run((*_nova_manage(cfg), "cell_v2", "discover_hosts"), log="nova-discover-hosts")


def _stages(cfg: LabConfig) -> list[list[Service]]:
    """The lab's processes in groups; a group starts together once the one before is ready."""
    control = [_nova(cfg, binary, binary, CONTROL_HOST) for binary in NOVA_CONTROL]
    computes = [
        _nova(cfg, f"nova-compute-{index}", "nova-compute", host)
        for index, host in enumerate(compute_hosts(cfg), 1)
    ]
    keystone, *apis = (_api(cfg, api) for api in APIS)
    return [
        [_mariadb(cfg), _epmd()],
        # keystone before the rest: nova's services authenticate as soon as they start, so
        # their users must exist.
        [_rabbitmq(cfg), keystone],
        # The conductor before the computes: a message sent before its queue exists is lost.
        [*apis, *control],
        computes,
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


# --- the processes -------------------------------------------------------------------------


def _mariadb(cfg: LabConfig) -> Service:
    return Service(
        "mariadb",
        ("mariadbd", f"--defaults-file={cfg.etc / 'mariadb' / 'my.cnf'}"),
        Ready.port(PORTS["mariadb"]),
        user="mysql",
    )


def _epmd() -> Service:
    # Erlang would otherwise start its own epmd, detached and out of the supervisor's reach.
    return Service(
        "epmd",
        ("epmd", "-port", str(PORTS["epmd"]), "-address", HOST),
        Ready.port(PORTS["epmd"]),
        user="rabbitmq",
    )


def _rabbitmq(cfg: LabConfig) -> Service:
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


def _api(cfg: LabConfig, api: Api) -> Service:
    if api.after_load:
        entry = ("--eval", f"from {api.module} import application\n{api.after_load}")
    else:
        entry = ("--module", f"{api.module}:application")
    argv = (
        _bin(cfg, "uwsgi"),
        "--master",
        "--die-on-term",  # uwsgi's master otherwise takes SIGTERM as "reload"
        # nova's worker keeps non-daemon threads that Python's teardown would wait for.
        "--skip-atexit-teardown",
        "--need-app",
        "--processes", "1",
        "--threads", "4",
        "--http", f"{HOST}:{PORTS[api.service]}",
        # --http-socket resets connections that clients keep alive.
        "--http-keepalive",
        # The default 4 KiB is too small once nova asks neutron about many ports at once.
        "--buffer-size", "65535",
        "--procname-prefix-spaced", f"lab-{api.name}",
        *entry,
        *api.uwsgi_extra,
    )  # fmt: skip
    return Service(
        api.name,
        argv,
        _answers_below_500(api.url),
        url=api.url,
        env={api.config_env: str(cfg.etc / api.service)},
    )


def _answers_below_500(url: str) -> Ready:
    # Any answer is not enough: nova serves a 500 stub when its setup fails.
    def check(_output: str) -> bool:
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - loopback lab URLs
                return True
        except urllib.error.HTTPError as error:
            return error.code < 500
        except (urllib.error.URLError, OSError):
            return False

    return Ready(f"{url} answering below 500", check)


def _nova(cfg: LabConfig, name: str, binary: str, host: str) -> Service:
    conf = cfg.etc / "nova" / "nova.conf" if host == CONTROL_HOST else _compute_conf(cfg, host)
    return Service(
        name,
        (_bin(cfg, binary), "--config-file", str(conf)),
        Ready(f"{binary} on {host} reporting", _Heartbeat(cfg, host, binary)),
    )


class _Heartbeat:
    """Readiness of a nova service: a state report newer than any seen at the first check.

    nova reports state only once its RPC servers consume, so from then on messages sent to it
    are not lost. The first check runs right after the process starts, long before its Python
    imports are done, so it sees the count of the previous run, if any; a new service's record
    starts at 0 before it consumes.
    """

    def __init__(self, cfg: LabConfig, host: str, binary: str):
        self.cfg, self.host, self.binary = cfg, host, binary
        self.baseline: int | None = None

    def __call__(self, _log: Path) -> bool:
        count = int(
            _query(
                self.cfg,
                "SELECT COALESCE(MAX(report_count), 0) FROM nova.services "
                f"WHERE host = '{self.host}' AND `binary` = '{self.binary}' AND deleted = 0",
            )
        )
        if self.baseline is None:
            self.baseline = count
        return count > self.baseline


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
    for path, sections in _ini_files(cfg).items():
        _write_ini(path, sections)
    for api in APIS:
        if api.paste:
            shutil.copyfile(
                cfg.venv / "etc" / api.service / api.paste, cfg.etc / api.service / api.paste
            )
    _write_mariadb_configs(cfg)
    _write_rabbitmq_configs(cfg)
    for virt in cfg.venv.glob("lib/python3*/site-packages/nova/virt"):
        shutil.copyfile(LAB_DRIVER, virt / LAB_DRIVER.name)


def _ini_files(cfg: LabConfig) -> dict[Path, dict]:
    etc = cfg.etc
    files = {
        etc / "keystone/keystone.conf": _keystone_conf(cfg),
        etc / "placement/placement.conf": _placement_conf(cfg),
        etc / "glance/glance-api.conf": _glance_conf(cfg),
        etc / "neutron/neutron.conf": _neutron_conf(cfg),
        etc / "neutron/plugins/ml2/ml2_conf.ini": ML2_CONF,
        etc / "nova/nova.conf": _nova_conf(cfg, CONTROL_HOST),
    }
    for host in compute_hosts(cfg):
        files[_compute_conf(cfg, host)] = _nova_conf(cfg, host)
    return files


def _keystone_conf(cfg: LabConfig) -> dict:
    keys = cfg.etc / "keystone"
    return {
        "database": {"connection": _db_url(cfg, "keystone", "keystone")},
        "token": {"provider": "fernet"},
        "fernet_tokens": {"key_repository": keys / "fernet-keys"},
        "credential": {"key_repository": keys / "credential-keys"},
    }


def _placement_conf(cfg: LabConfig) -> dict:
    return {
        "placement_database": {"connection": _db_url(cfg, "placement", "placement")},
        "api": {"auth_strategy": "keystone"},
        "keystone_authtoken": _authtoken(cfg, "placement"),
    }


def _glance_conf(cfg: LabConfig) -> dict:
    data = cfg.state / "glance"
    return {
        "DEFAULT": {"enabled_backends": "fs:file"},
        "database": {"connection": _db_url(cfg, "glance", "glance")},
        "glance_store": {"default_backend": "fs"},
        "fs": {"filesystem_store_datadir": data / "images"},
        # The stores glance reserves for itself (staging for imports); by default under
        # /var/lib/glance.
        "os_glance_staging_store": {"filesystem_store_datadir": data / "staging"},
        "os_glance_tasks_store": {"filesystem_store_datadir": data / "tasks"},
        "paste_deploy": {"flavor": "keystone"},
        "keystone_authtoken": _authtoken(cfg, "glance"),
        "oslo_concurrency": {"lock_path": data / "lock"},
    }


def _neutron_conf(cfg: LabConfig) -> dict:
    return {
        "DEFAULT": {
            "core_plugin": "ml2",
            "service_plugins": "router,port_forwarding",
            "auth_strategy": "keystone",
            "transport_url": _transport_url(cfg),
            "state_path": cfg.state / "neutron",
            # No nova credentials needed: without agents no port event is worth telling nova.
            "notify_nova_on_port_status_changes": "false",
            "notify_nova_on_port_data_changes": "false",
        },
        "database": {"connection": _db_url(cfg, "neutron", "neutron")},
        "keystone_authtoken": _authtoken(cfg, "neutron"),
        "oslo_concurrency": {"lock_path": "$state_path/lock"},
    }


def _nova_conf(cfg: LabConfig, host: str) -> dict:
    """nova's configuration for one host; only the control host's services reach the databases
    (nova-compute refuses to run with database access configured)."""
    nova_auth = _service_auth(cfg, "nova")
    conf = {
        "DEFAULT": {
            "host": host,
            "my_ip": HOST,
            "transport_url": _transport_url(cfg),
            # Per host: each compute keeps its node identity file (compute_id) there.
            "state_path": cfg.state / "nova" / host,
            # nova waits up to 180 s for work in progress on SIGTERM; the lab has none worth it
            # (0 would mean forever, and the manager's share must be the smaller).
            "graceful_shutdown_timeout": "2",
            "manager_shutdown_timeout": "1",
        },
        "keystone_authtoken": _authtoken(cfg, "nova"),
        # Since OSSA-2023-003 other services trust some of nova's calls only with a service
        # token beside the user's.
        "service_user": {"send_service_user_token": "true", **nova_auth},
        "placement": nova_auth,
        "neutron": nova_auth,
        "vnc": {"enabled": "false"},
        "oslo_concurrency": {"lock_path": "$state_path/lock"},
    }
    if host == CONTROL_HOST:
        conf["api_database"] = {"connection": _db_url(cfg, "nova", "nova_api")}
        conf["database"] = {"connection": _db_url(cfg, "nova", "nova")}
        conf["conductor"] = conf["scheduler"] = {"workers": "1"}
        # nova's defaults plus the aggregate filters the mixed_cloud role relies on.
        conf["filter_scheduler"] = {"enabled_filters": ",".join(SCHEDULER_FILTERS)}
        conf["api"] = NOVA_API_OPTIONS
    else:
        # FakeDriver itself draws new node UUIDs in every process, and nova refuses to start a
        # compute that lost its node identity: FakeDriverWithoutFakeNodes keeps it in
        # state_path/compute_id. The lab's subclass of it reports hypervisor type QEMU, as a
        # libvirt compute does, so images with hypervisor_type=qemu pass ImagePropertiesFilter.
        conf["DEFAULT"]["compute_driver"] = "lab_fake_qemu.QemuFakeDriver"
    return conf


def _compute_conf(cfg: LabConfig, host: str) -> Path:
    return cfg.etc / "nova" / "computes" / f"{host}.conf"


def _service_auth(cfg: LabConfig, user: str) -> dict:
    return {
        "auth_type": "password",
        "auth_url": KEYSTONE_URL,
        "project_domain_name": "Default",
        "user_domain_name": "Default",
        "project_name": "service",
        "username": user,
        "password": cfg.secret("service"),
        "region_name": REGION,
    }


def _authtoken(cfg: LabConfig, user: str) -> dict:
    return {"www_authenticate_uri": KEYSTONE_URL, **_service_auth(cfg, user)}


def _db_url(cfg: LabConfig, user: str, database: str) -> str:
    return (
        f"mysql+pymysql://{user}:{cfg.secret('db')}@{HOST}:{PORTS['mariadb']}/{database}"
        "?charset=utf8"
    )


def _transport_url(cfg: LabConfig) -> str:
    return f"rabbit://lab:{cfg.secret('rabbitmq')}@{HOST}:{PORTS['rabbitmq']}/"


def _write_ini(path: Path, sections: dict) -> None:
    parser = configparser.ConfigParser(interpolation=None)
    parser.optionxform = str  # keep option names as written
    for section, options in sections.items():
        if section != "DEFAULT":
            parser.add_section(section)
        for key, value in options.items():
            parser.set(section, key, str(value))
    path.parent.mkdir(parents=True, exist_ok=True)
    with _open_private(path) as handle:
        parser.write(handle)


def _write_mariadb_configs(cfg: LabConfig) -> None:
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


def _write_rabbitmq_configs(cfg: LabConfig) -> None:
    conf = cfg.etc / "rabbitmq"
    # default_user is created when the node first boots with an empty database, and only then.
    with _open_private(conf / "rabbitmq.conf") as handle:
        handle.write(f"default_user = lab\ndefault_pass = {cfg.secret('rabbitmq')}\n")
    (conf / "enabled_plugins").write_text("[].\n")
    for name in ("rabbitmq.conf", "enabled_plugins"):
        shutil.chown(conf / name, "rabbitmq", "rabbitmq")


def _open_private(path: Path) -> TextIO:
    """Open path for writing with mode 0600, whatever mode an older copy had."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.fchmod(fd, 0o600)
    return os.fdopen(fd, "w")


# --- one-time bootstrap --------------------------------------------------------------------


def _digest(*parts) -> str:
    return hashlib.sha256(json.dumps(parts).encode()).hexdigest()


def _once(cfg: LabConfig, step: str, key: str, action: Callable[[], object]) -> bool:
    """Run action unless the stamp of step records key; stamp only on success. True if run."""
    stamp = cfg.state / "stamps" / step
    if stamp.exists() and stamp.read_text() == key:
        return False
    action()
    stamp.parent.mkdir(parents=True, exist_ok=True)
    stamp.write_text(key)
    return True


def _init_mariadb(cfg: LabConfig, sup: Supervisor) -> None:
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


def _create_databases(cfg: LabConfig, sup: Supervisor) -> None:
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


def _bootstrap_steps(cfg: LabConfig) -> list[Step]:
    """Key repositories, schemas, keystone's admin and catalog entry, nova's cells."""
    etc = cfg.etc
    keystone = (_bin(cfg, "keystone-manage"), "--config-file", str(etc / "keystone/keystone.conf"))
    key_owner = ("--keystone-user", "root", "--keystone-group", "root")
    endpoints = [
        f"--bootstrap-{kind}-url={KEYSTONE_URL}" for kind in ("admin", "internal", "public")
    ]
    placement = (
        _bin(cfg, "placement-manage"),
        "--config-file",
        str(etc / "placement/placement.conf"),
    )
    glance = (_bin(cfg, "glance-manage"), "--config-file", str(etc / "glance/glance-api.conf"))
    neutron = (
        _bin(cfg, "neutron-db-manage"),
        *("--config-file", str(etc / "neutron/neutron.conf")),
        *("--config-file", str(etc / "neutron/plugins/ml2/ml2_conf.ini")),
    )
    nova = _nova_manage(cfg)
    return [
        Step("keystone-fernet", (*keystone, "fernet_setup", *key_owner)),
        Step("keystone-credential", (*keystone, "credential_setup", *key_owner)),
        Step("keystone-db", (*keystone, "db_sync")),
        Step(
            "keystone-bootstrap",
            (*keystone, "bootstrap", *endpoints, f"--bootstrap-region-id={REGION}"),
            # From the environment, so that the password shows in no process list or log.
            env={"OS_BOOTSTRAP_PASSWORD": cfg.secret("admin")},
        ),
        Step("placement-db", (*placement, "db", "sync")),
        Step("glance-db", (*glance, "db_sync")),
        Step("neutron-db", (*neutron, "upgrade", "heads")),
        Step("nova-api-db", (*nova, "api_db", "sync")),
        Step("nova-cell0", (*nova, "cell_v2", "map_cell0")),
        Step("nova-cell1", (*nova, "cell_v2", "create_cell", "--name", "cell1")),
        # Syncs cell0 too, now that it is mapped.
        Step("nova-db", (*nova, "db", "sync")),
    ]


def _discover_hosts(cfg: LabConfig, sup: Supervisor) -> None:
    """Map the computes into cell1, again only when the set of computes changed."""
    hosts = " ".join(compute_hosts(cfg))
    _once(cfg, "nova-discover-hosts", hosts, lambda: discover_hosts(cfg, sup))


def _nova_manage(cfg: LabConfig) -> tuple[str, ...]:
    return (_bin(cfg, "nova-manage"), "--config-file", str(cfg.etc / "nova" / "nova.conf"))


def _catalog() -> list[tuple[str, str, str]]:
    return [(api.service, api.catalog_type, api.url) for api in APIS if api.catalog_type]


def _ensure_identity(cfg: LabConfig) -> None:
    """Service users, the demo project and user, and the catalog, each created if missing."""
    admin = _Rest(cfg)
    roles = {name: admin.ensure("roles", name=name) for name in ("admin", "member", "service")}
    for user, project, user_roles, secret in GRANTS:
        project_id = admin.ensure("projects", name=project, domain_id="default")
        user_id = admin.ensure(
            "users",
            {"password": cfg.secret(secret), "default_project_id": project_id},
            name=user,
            domain_id="default",
        )
        for role in user_roles:
            admin.call(
                "PUT", f"{KEYSTONE_URL}/projects/{project_id}/users/{user_id}/roles/{roles[role]}"
            )
    for service, catalog_type, url in _catalog():
        service_id = admin.ensure("services", {"name": service}, type=catalog_type)
        for interface in ("public", "internal", "admin"):
            admin.ensure(
                "endpoints",
                {"url": url},
                service_id=service_id,
                interface=interface,
                region_id=REGION,
            )


def _raise_admin_quotas(cfg: LabConfig) -> None:
    admin = _Rest(cfg)
    admin.call("PUT", f"{NOVA_URL}/os-quota-sets/{admin.project_id}", {"quota_set": ADMIN_QUOTAS})


class _Rest:
    """Just enough of the OpenStack REST APIs for the bootstrap, as the lab's admin: the lab
    controller has no SDK."""

    def __init__(self, cfg: LabConfig):
        domain = {"id": "default"}
        user = {"name": "admin", "domain": domain, "password": cfg.secret("admin")}
        auth = {
            "identity": {"methods": ["password"], "password": {"user": user}},
            "scope": {"project": {"name": "admin", "domain": domain}},
        }
        self.token = None
        body, headers = self._send("POST", f"{KEYSTONE_URL}/auth/tokens", {"auth": auth})
        self.token = headers["X-Subject-Token"]
        self.project_id = body["token"]["project"]["id"]

    def call(self, method: str, url: str, body: dict | None = None) -> dict:
        return self._send(method, url, body)[0]

    def ensure(self, collection: str, extra: dict | None = None, **match: str) -> str:
        """The id of the first identity resource matching match, created if there is none."""
        query = urllib.parse.urlencode(match)
        found = self.call("GET", f"{KEYSTONE_URL}/{collection}?{query}")[collection]
        if found:
            return found[0]["id"]
        kind = collection[:-1]
        created = self.call(
            "POST", f"{KEYSTONE_URL}/{collection}", {kind: {**match, **(extra or {})}}
        )
        return created[kind]["id"]

    def _send(self, method: str, url: str, body: dict | None) -> tuple[dict, dict]:
        request = urllib.request.Request(  # noqa: S310 - loopback lab URLs only
            url,
            method=method,
            data=json.dumps(body).encode() if body is not None else None,
            headers={
                "Content-Type": "application/json",
                **({"X-Auth-Token": self.token} if self.token else {}),
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:  # noqa: S310
                payload = response.read()
                return (json.loads(payload) if payload else {}), dict(response.headers)
        except urllib.error.HTTPError as error:
            raise LabError(f"{method} {url} failed: {error.code} {error.read()[:500]!r}") from error


# --- database access -----------------------------------------------------------------------


def _socket(cfg: LabConfig) -> Path:
    return cfg.state / "mariadb" / "mariadb.sock"


def _mariadb_client(cfg: LabConfig) -> tuple[str, ...]:
    # As root over the socket: MariaDB's root authenticates the local root user by its uid.
    return ("mariadb", f"--socket={_socket(cfg)}", "--user=root", "--batch", "--skip-column-names")


def _query(cfg: LabConfig, sql: str) -> str:
    result = subprocess.run(  # noqa: S603 - argv built by the lab itself
        [*_mariadb_client(cfg), "--execute", sql], capture_output=True, text=True, check=False
    )
    if result.returncode != 0:
        raise LabError(f"MariaDB query failed: {result.stderr.strip()}")
    return result.stdout.strip()


# --- clients -------------------------------------------------------------------------------


def _write_client_files(cfg: LabConfig) -> None:
    clouds = {
        "clouds": {
            "lab-admin": _cloud("admin", "admin", cfg.secret("admin")),
            "lab-demo": _cloud("demo", "demo", cfg.secret("demo")),
        }
    }
    with _open_private(cfg.state / "clouds.yaml") as handle:
        # JSON is YAML; the lab's Python has no YAML writer.
        handle.write("# Generated by the lab.\n" + json.dumps(clouds, indent=2) + "\n")
    admin = clouds["clouds"]["lab-admin"]["auth"]
    exports = {
        "OS_AUTH_URL": admin["auth_url"],
        "OS_USERNAME": admin["username"],
        "OS_PASSWORD": admin["password"],
        "OS_PROJECT_NAME": admin["project_name"],
        "OS_USER_DOMAIN_NAME": "Default",
        "OS_PROJECT_DOMAIN_NAME": "Default",
        "OS_REGION_NAME": REGION,
        "OS_INTERFACE": "public",
        "OS_IDENTITY_API_VERSION": "3",
    }
    with _open_private(cfg.state / "openrc-admin") as handle:
        handle.writelines(f"export {key}={shlex.quote(value)}\n" for key, value in exports.items())


def _cloud(user: str, project: str, password: str) -> dict:
    return {
        "auth": {
            "auth_url": KEYSTONE_URL,
            "username": user,
            "password": password,
            "project_name": project,
            "user_domain_name": "Default",
            "project_domain_name": "Default",
        },
        "region_name": REGION,
        "interface": "public",
        "identity_api_version": 3,
    }


def _bin(cfg: LabConfig, name: str) -> str:
    return str(cfg.venv / "bin" / name)
