"""Where the lab lives and how it is reached: one state directory, fixed loopback ports.

Every path the lab writes is under ``LabConfig.state``; every port is listed in
``PORTS`` and none is a service's standard port, so the lab coexists with an
operator's own MariaDB, RabbitMQ or OpenStack on the same machine.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import dataclass, field
from pathlib import Path

HOST = "127.0.0.1"

# LAB_PORT_OFFSET shifts every port, so that a second lab (another state dir) can run beside the first.
PORT_OFFSET = int(os.environ.get("LAB_PORT_OFFSET", "0"))

PORTS = {
    # vCenter 1's simulator; vCenter k's (`lab up --vcenters N`) on this port + k - 1.
    "vcsim": 17443,
    "mariadb": 17306,
    "rabbitmq": 17672,
    "rabbitmq_dist": 17673,
    "epmd": 17369,
    "keystone": 17500,
    "placement": 17778,
    "glance": 17292,
    "neutron": 17696,
    "nova": 17774,
    # The KVM hosts' BMCs (minilab.bmc): kvm-compute-N's on this port + N - 1.
    "bmc": 17620,
}
PORTS = {name: port + PORT_OFFSET for name, port in PORTS.items()}

# Credentials the lab generates once and keeps in state/secrets.json (mode 0600); vCenter k>=2's
# password is "vcenter-k", made at its first use.
SECRET_NAMES = (
    "vcenter",
    "mariadb_root",
    "db",
    "rabbitmq",
    "admin",
    "demo",
    "service",
)

REPO_ROOT = Path(__file__).resolve().parents[3]


class LabError(Exception):
    """A lab step failed; the message says which and where its log is."""


VCENTERS_FILE = "vcenters"


def vcenters_from_env() -> int:
    """LAB_VCENTERS, 1 unless set: the count `lab up` starts without --vcenters."""
    count = int(os.environ.get("LAB_VCENTERS", "1"))
    if count < 1:
        raise LabError(f"LAB_VCENTERS={count}: the lab runs at least one vCenter")
    return count


@dataclass
class LabConfig:
    state: Path
    # Real nova-computes on libvirt and QEMU/KVM, and fake-driver ones (cheap, for benchmarks
    # that need many hosts): see docs/lab.md.
    kvm_computes: int = 2
    fake_computes: int = 0
    # Simulated vCenters (minilab.vcenter): `lab up --vcenters N` or LAB_VCENTERS, recorded by
    # the up that starts them (vcenters_file) for the commands that follow.
    vcenters: int = 1
    vcenter_user: str = "administrator@vsphere.local"
    vcenter_inventory: Path | None = None
    _secrets: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_env(cls) -> "LabConfig":
        state = Path(os.environ.get("LAB_DIR", REPO_ROOT / ".lab")).resolve()
        inventory = os.environ.get("LAB_VCSIM_INVENTORY")
        recorded = state / VCENTERS_FILE
        return cls(
            state=state,
            kvm_computes=int(os.environ.get("LAB_KVM_COMPUTES", "2")),
            fake_computes=int(os.environ.get("LAB_FAKE_COMPUTES", "0")),
            vcenters=int(recorded.read_text()) if recorded.exists() else vcenters_from_env(),
            vcenter_inventory=Path(inventory).resolve() if inventory else None,
        )

    @property
    def vcenters_file(self) -> Path:
        """How many vCenters the last `lab up` of the vCenter half started."""
        return self.state / VCENTERS_FILE

    @property
    def logs(self) -> Path:
        return self.state / "logs"

    @property
    def run(self) -> Path:
        return self.state / "run"

    @property
    def etc(self) -> Path:
        return self.state / "etc"

    @property
    def venv(self) -> Path:
        """The OpenStack services' virtualenv (not the collection's)."""
        return self.state / "venv"

    def url(self, service: str, scheme: str = "http", path: str = "") -> str:
        return f"{scheme}://{HOST}:{PORTS[service]}{path}"

    def secret(self, name: str) -> str:
        """A credential of the lab: one of SECRET_NAMES, or another name (a BMC's), made at its
        first use."""
        if name not in self._secrets:
            self._secrets = self._load_or_create_secrets(name)
        return self._secrets[name]

    def _load_or_create_secrets(self, name: str) -> dict:
        path = self.state / "secrets.json"
        if path.exists():
            stored = json.loads(path.read_text())
        else:
            stored = {}
        missing = [n for n in dict.fromkeys((*SECRET_NAMES, name)) if n not in stored]
        if missing:
            stored.update({name: secrets.token_urlsafe(18) for name in missing})
            self.state.mkdir(parents=True, exist_ok=True)
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
            with os.fdopen(fd, "w") as handle:
                json.dump(stored, handle, indent=2)
        return stored

    def ensure_dirs(self) -> None:
        for directory in (self.state, self.logs, self.run, self.etc):
            directory.mkdir(parents=True, exist_ok=True)
