"""The KVM hosts' BMCs: one Redfish endpoint over TLS per host, as a real server's BMC is.

Each BMC is sushy-tools (the OpenStack Redfish emulator, from PyPI) under the lab's supervisord,
program ``bmc-<host>``, on ``PORTS["bmc"] + N - 1`` for ``kvm-compute-N``, with a certificate of
the lab CA (``pki/bmc.crt``) and HTTP basic auth: user ``USERNAME``, a password per BMC kept in
the lab's ``secrets.json`` (``bmc-<host>``). Its one system is the host, served by the lab's own
systems driver (``bmc_driver``): ForceOff or GracefulShutdown is the host's power cut (``lab
host-power HOST off``), On or ForceOn its power-on (``lab host-power HOST on``), and PowerState
reads On exactly while the host has processes.

sushy-tools runs from a venv of its own (``bmc/venv``, ``BMC_REQUIREMENTS`` under the services'
constraints), so that its pins never move the OpenStack services'.

``endpoints(cfg)`` is what an inventory gives a host as its ``bmc`` variable (the contract of
playbooks with a host's BMC, see docs/lab.md); ``readings(cfg)`` is what ``lab status`` shows.
"""

from __future__ import annotations

import base64
import hashlib
import json
import ssl
import sys
import urllib.error
import urllib.request
import uuid
from dataclasses import dataclass
from pathlib import Path

from . import kvm, vcenter
from .config import HOST, PORT_OFFSET, PORTS, REPO_ROOT, LabConfig
from .openstack import CONSTRAINTS
from .openstack.processes import Service
from .openstack.stamps import once
from .supervisor import Ready, Supervisor

BMC_REQUIREMENTS = REPO_ROOT / "tests" / "lab" / "bmc-requirements.txt"
USERNAME = "admin"
# The name of the lab's BMCs' certificate in pki/ (one for all: they all listen on 127.0.0.1).
CERTIFICATE = "bmc"
# Seconds a reading of `lab status` waits for a BMC.
READ_TIMEOUT = 5


@dataclass(frozen=True)
class Bmc:
    host: kvm.KvmHost

    @property
    def name(self) -> str:
        """Its supervisord program, and its password's name in secrets.json."""
        return f"bmc-{self.host.name}"

    @property
    def port(self) -> int:
        return PORTS["bmc"] + self.host.index - 1

    @property
    def system_id(self) -> str:
        """The Redfish Id of the host's system: a UUID derived from its name, stable across ups."""
        return str(uuid.uuid5(uuid.NAMESPACE_DNS, f"{self.host.name}.lab"))

    @property
    def system(self) -> str:
        return f"/redfish/v1/Systems/{self.system_id}"

    @property
    def url(self) -> str:
        return f"https://{HOST}:{self.port}/redfish/v1"


def bmcs(cfg: LabConfig) -> list[Bmc]:
    return [Bmc(host) for host in kvm.hosts(cfg)]


def bmc(cfg: LabConfig, host: str) -> Bmc:
    return Bmc(kvm.host(cfg, host))


def venv(cfg: LabConfig) -> Path:
    return cfg.state / "bmc" / "venv"


def auth_file(cfg: LabConfig, one: Bmc) -> Path:
    """The BMC's htpasswd (bcrypt), written by the BMC itself at its start (0600)."""
    return cfg.etc / "bmc" / f"{one.host.name}.htpasswd"


def certificate(cfg: LabConfig) -> tuple[Path, Path]:
    pki = vcenter.pki_dir(cfg)
    return pki / f"{CERTIFICATE}.crt", pki / f"{CERTIFICATE}.key"


def endpoints(cfg: LabConfig) -> dict[str, dict]:
    """Per KVM host, its BMC as an inventory gives it (the ``bmc`` host variable)."""
    return {
        one.host.name: {
            "agent": "redfish",
            "address": HOST,
            "port": one.port,
            "username": USERNAME,
            "password": cfg.secret(one.name),
            "system": one.system,
            "validate_certs": True,
            "ca_path": str(vcenter.ca_bundle(cfg)),
        }
        for one in bmcs(cfg)
    }


def install(cfg: LabConfig, sup: Supervisor) -> bool:
    """sushy-tools' venv, unless built from these very pins. True if built now."""
    key = hashlib.sha256(BMC_REQUIREMENTS.read_bytes() + CONSTRAINTS.read_bytes()).hexdigest()

    def build() -> None:
        sup.run([sys.executable, "-m", "venv", "--clear", str(venv(cfg))], log="bmc-install")
        sup.run(
            [str(venv(cfg) / "bin" / "pip"), "install", "--disable-pip-version-check",
             "-c", str(CONSTRAINTS), "-r", str(BMC_REQUIREMENTS)],
            log="bmc-install",
        )  # fmt: skip

    return once(cfg, "bmc-venv", key, build)


def service(cfg: LabConfig, one: Bmc) -> Service:
    return Service(
        one.name,
        (str(venv(cfg) / "bin" / "python"), "-m", "minilab.bmc_driver", one.host.name),
        Ready.port(one.port),
        url=one.url,
        env={
            "PYTHONPATH": str(REPO_ROOT / "tests" / "lab"),
            "LAB_DIR": str(cfg.state),
            "LAB_PORT_OFFSET": str(PORT_OFFSET),
        },
    )


def up(cfg: LabConfig, sup: Supervisor) -> None:
    """Install sushy-tools, make the certificate and the credentials, start every BMC."""
    if not bmcs(cfg):
        return
    install(cfg, sup)
    vcenter.ensure_certificates(cfg, sup)
    vcenter.issue_certificate(cfg, sup, CERTIFICATE)
    (cfg.etc / "bmc").mkdir(mode=0o700, parents=True, exist_ok=True)
    for one in bmcs(cfg):
        # Made here, before the BMCs start: they only read secrets.json.
        cfg.secret(one.name)
        started = service(cfg, one)
        sup.start(started.name, started.argv, ready=started.ready, env=started.env, timeout=60)


def services(cfg: LabConfig) -> list[tuple[str, str]]:
    return [(one.name, one.url) for one in bmcs(cfg)]


def power(cfg: LabConfig, one: Bmc) -> str:
    """The host's PowerState as its BMC answers it over Redfish (the lab CA trusted)."""
    request = urllib.request.Request(f"https://{HOST}:{one.port}{one.system}")
    token = base64.b64encode(f"{USERNAME}:{cfg.secret(one.name)}".encode()).decode()
    request.add_header("Authorization", f"Basic {token}")
    context = ssl.create_default_context(cafile=str(vcenter.ca_bundle(cfg)))
    with urllib.request.urlopen(request, timeout=READ_TIMEOUT, context=context) as response:
        return json.load(response)["PowerState"]


def readings(cfg: LabConfig) -> dict[str, str]:
    """Per BMC program: its URL and the power it reads (never its credentials), for `lab status`."""
    found = {}
    for one in bmcs(cfg):
        try:
            reading = f"power {power(cfg, one)}"
        except (OSError, urllib.error.URLError, ValueError, KeyError) as error:
            reading = f"power unknown ({getattr(error, 'reason', error)})"
        found[one.name] = f"{one.url} {reading}"
    return found
