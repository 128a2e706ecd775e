"""Nova: the API's options, the conductor and scheduler of the control host, the computes
(libvirt ones on the lab's KVM hosts, see ``kvm``; fake-driver ones for benchmarks and extra
ones for tests), their configuration, readiness, power and cells."""

from __future__ import annotations

import shutil
from dataclasses import replace
from pathlib import Path

from .. import kvm
from ..config import HOST, REPO_ROOT, LabConfig
from ..supervisor import Ready, Supervisor
from .apis import NOVA_URL
from .config_files import write_ini
from .database import db_url, query
from .identity import Rest, authtoken, service_auth
from .messaging import transport_url
from .processes import Service, Step, bin_path
from .stamps import once

# A lab-only nova virt driver, copied into the venv's nova/virt (nova loads compute_driver
# only from that package), see docs/lab.md.
LAB_DRIVER = REPO_ROOT / "tests" / "lab" / "nova-drivers" / "lab_fake_qemu.py"

# nova's host= for the API, conductor and scheduler. The machine's hostname would do, but it
# changes between machines and would leave a dead conductor behind in a kept state directory.
CONTROL_HOST = "lab-control"
FAKE_COMPUTE_HOST = "fake-compute-{}"

NOVA_CONTROL = ("nova-conductor", "nova-scheduler")

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


def compute_hosts(cfg: LabConfig) -> list[str]:
    """Every compute host of the lab: the KVM hosts, then the fake-driver ones."""
    return [kvm_host.name for kvm_host in kvm.hosts(cfg)] + _fake_hosts(cfg)


def _fake_hosts(cfg: LabConfig) -> list[str]:
    return [FAKE_COMPUTE_HOST.format(index) for index in range(1, cfg.fake_computes + 1)]


def control_services(cfg: LabConfig) -> list[Service]:
    return [_nova(cfg, binary, binary, CONTROL_HOST) for binary in NOVA_CONTROL]


def libvirt_services(cfg: LabConfig) -> list[Service]:
    """The KVM hosts' libvirtds, which their nova-computes need at start."""
    return [_libvirtd(kvm_host) for kvm_host in kvm.hosts(cfg)]


def _libvirtd(kvm_host: kvm.KvmHost) -> Service:
    return Service(
        kvm_host.libvirtd,
        kvm.libvirtd_argv(kvm_host),
        kvm.libvirtd_ready(kvm_host),
        url=kvm_host.uri,
    )


def compute_services(cfg: LabConfig) -> list[Service]:
    return [_kvm_compute(cfg, kvm_host) for kvm_host in kvm.hosts(cfg)] + [
        _nova(cfg, f"nova-compute-fake-{index}", "nova-compute", host)
        for index, host in enumerate(_fake_hosts(cfg), 1)
    ]


def _kvm_compute(cfg: LabConfig, kvm_host: kvm.KvmHost) -> Service:
    service = _nova(cfg, kvm_host.nova_compute, "nova-compute", kvm_host.name)
    # In the host's namespace, where qemu:///system is the host's own libvirtd.
    return replace(service, argv=(*kvm.enter(kvm_host), *service.argv))


def host_power(cfg: LabConfig, sup: Supervisor, name: str, power: str) -> str:
    """Cut a KVM host's power (every process of it SIGKILLed at once) or bring it back."""
    kvm_host = kvm.host(cfg, name)
    services = [_libvirtd(kvm_host), _kvm_compute(cfg, kvm_host)]
    if power == "off":
        killed = kvm.cut_power(kvm_host)
        # Already dead: this only tells the supervisor they are meant to stay down.
        for service in reversed(services):
            sup.stop(service.name)
        return f"{name}: power cut, {len(killed)} processes killed"
    started = [
        service.name
        for service in services
        if sup.start(service.name, service.argv, ready=service.ready, env=service.env)
    ]
    return f"{name}: powered on" + (
        f" (started {', '.join(started)})" if started else ", already on"
    )


def extra_compute(cfg: LabConfig, host: str) -> Service:
    """One more fake-driver nova-compute, of host, beside the lab's own: for a test that needs
    more computes than the lab keeps (it starts, stops and deletes it itself)."""
    (cfg.state / "nova" / host).mkdir(parents=True, exist_ok=True)
    write_ini(compute_conf(cfg, host), nova_conf(cfg, host))
    return _nova(cfg, f"nova-compute-{host}", "nova-compute", host)


def remove_extra_compute(cfg: LabConfig, host: str) -> None:
    """The configuration and state of an extra compute, once it is stopped and its service deleted."""
    compute_conf(cfg, host).unlink(missing_ok=True)
    shutil.rmtree(cfg.state / "nova" / host, ignore_errors=True)


def discover_hosts(cfg: LabConfig, sup: Supervisor) -> None:
    """Map computes not yet mapped into cell1, so that nova schedules to them."""
    sup.run((*nova_manage(cfg), "cell_v2", "discover_hosts"), log="nova-discover-hosts")


def discover_lab_hosts(cfg: LabConfig, sup: Supervisor) -> None:
    """Map the computes into cell1, again only when the set of computes changed."""
    hosts = " ".join(compute_hosts(cfg))
    once(cfg, "nova-discover-hosts", hosts, lambda: discover_hosts(cfg, sup))


def _nova(cfg: LabConfig, name: str, binary: str, host: str) -> Service:
    conf = cfg.etc / "nova" / "nova.conf" if host == CONTROL_HOST else compute_conf(cfg, host)
    return Service(
        name,
        (bin_path(cfg, binary), "--config-file", str(conf)),
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
            query(
                self.cfg,
                "SELECT COALESCE(MAX(report_count), 0) FROM nova.services "
                f"WHERE host = '{self.host}' AND `binary` = '{self.binary}' AND deleted = 0",
            )
        )
        if self.baseline is None:
            self.baseline = count
        return count > self.baseline


def nova_conf_files(cfg: LabConfig) -> dict[Path, dict]:
    """nova's configuration files: the control host's and one per compute."""
    files = {cfg.etc / "nova/nova.conf": nova_conf(cfg, CONTROL_HOST)}
    for host in compute_hosts(cfg):
        files[compute_conf(cfg, host)] = nova_conf(cfg, host)
    return files


def install_lab_driver(cfg: LabConfig) -> None:
    for virt in cfg.venv.glob("lib/python3*/site-packages/nova/virt"):
        shutil.copyfile(LAB_DRIVER, virt / LAB_DRIVER.name)


def nova_conf(cfg: LabConfig, host: str) -> dict:
    """nova's configuration for one host; only the control host's services reach the databases
    (nova-compute refuses to run with database access configured)."""
    nova_auth = service_auth(cfg, "nova")
    conf = {
        "DEFAULT": {
            "host": host,
            "my_ip": HOST,
            "transport_url": transport_url(cfg),
            # Per host: each compute keeps its node identity file (compute_id) there.
            "state_path": cfg.state / "nova" / host,
            # nova waits up to 180 s for work in progress on SIGTERM; the lab has none worth it
            # (0 would mean forever, and the manager's share must be the smaller).
            "graceful_shutdown_timeout": "2",
            "manager_shutdown_timeout": "1",
        },
        "keystone_authtoken": authtoken(cfg, "nova"),
        # Since OSSA-2023-003 other services trust some of nova's calls only with a service
        # token beside the user's.
        "service_user": {"send_service_user_token": "true", **nova_auth},
        "placement": nova_auth,
        "neutron": nova_auth,
        "vnc": {"enabled": "false"},
        "oslo_concurrency": {"lock_path": "$state_path/lock"},
    }
    if host == CONTROL_HOST:
        conf["api_database"] = {"connection": db_url(cfg, "nova", "nova_api")}
        conf["database"] = {"connection": db_url(cfg, "nova", "nova")}
        conf["conductor"] = conf["scheduler"] = {"workers": "1"}
        # nova's defaults plus the aggregate filters the mixed_cloud role relies on.
        conf["filter_scheduler"] = {"enabled_filters": ",".join(SCHEDULER_FILTERS)}
        conf["api"] = NOVA_API_OPTIONS
    elif host in (kvm_host.name for kvm_host in kvm.hosts(cfg)):
        kvm_host = kvm.host(cfg, host)
        privsep_helper = bin_path(cfg, "privsep-helper")
        options = kvm.nova_options(
            kvm_host, kvm.virt_type(cfg), privsep_helper, compute_conf(cfg, host)
        )
        for section, values in options.items():
            conf.setdefault(section, {}).update(values)
    else:
        # FakeDriver itself draws new node UUIDs in every process, and nova refuses to start a
        # compute that lost its node identity: FakeDriverWithoutFakeNodes keeps it in
        # state_path/compute_id. The lab's subclass of it reports hypervisor type QEMU, as a
        # libvirt compute does, so images with hypervisor_type=qemu pass ImagePropertiesFilter.
        conf["DEFAULT"]["compute_driver"] = "lab_fake_qemu.QemuFakeDriver"
    return conf


def compute_conf(cfg: LabConfig, host: str) -> Path:
    return cfg.etc / "nova" / "computes" / f"{host}.conf"


def nova_manage(cfg: LabConfig) -> tuple[str, ...]:
    return (bin_path(cfg, "nova-manage"), "--config-file", str(cfg.etc / "nova" / "nova.conf"))


def bootstrap_steps(cfg: LabConfig) -> list[Step]:
    """nova's schemas and cells."""
    nova = nova_manage(cfg)
    return [
        Step("nova-api-db", (*nova, "api_db", "sync")),
        Step("nova-cell0", (*nova, "cell_v2", "map_cell0")),
        Step("nova-cell1", (*nova, "cell_v2", "create_cell", "--name", "cell1")),
        # Syncs cell0 too, now that it is mapped.
        Step("nova-db", (*nova, "db", "sync")),
    ]


def raise_admin_quotas(cfg: LabConfig) -> None:
    admin = Rest(cfg)
    admin.call("PUT", f"{NOVA_URL}/os-quota-sets/{admin.project_id}", {"quota_set": ADMIN_QUOTAS})
