"""One lab BMC: sushy-tools' Redfish application, its one system a KVM host of the lab.

Run by the lab's supervisord from the BMC venv (``python -m minilab.bmc_driver HOST``, see
``bmc``), as root: the power cut signals the host's processes and the power-on talks to the
lab's supervisord, both as ``lab host-power`` does (``openstack.host_power``).

sushy-tools picks its systems driver from its configuration (libvirt, nova, ironic or fake) and
has no hook for another, so this process gives its application the lab's driver in place of the
one it would pick; everything else (routes, templates, basic auth, TLS) is sushy-tools' own.
"""

from __future__ import annotations

import logging
import os
import ssl
import sys
import threading

import bcrypt
from sushy_tools import error
from sushy_tools.emulator import main as sushy
from sushy_tools.emulator.resources.systems.base import AbstractSystemsDriver

from . import bmc, kvm
from .config import HOST, LabConfig
from .openstack import host_power
from .supervisor import Supervisor

POWER_ON = ("On", "ForceOn")
POWER_OFF = ("ForceOff", "GracefulShutdown")
RESTART = ("ForceRestart", "GracefulRestart", "PowerCycle")


class LabHostDriver(AbstractSystemsDriver):
    """The system of one KVM host; its power is the lab's notion of the host's power."""

    def __init__(self, cfg: LabConfig, one: bmc.Bmc, logger):
        super().__init__()
        self.cfg, self.bmc, self.logger = cfg, one, logger
        self.sup = Supervisor(cfg)
        # One power change at a time: a cut waits for a power-on in progress to finish.
        self.changing = threading.Lock()

    @property
    def driver(self):
        return "<lab KVM host>"

    @property
    def systems(self):
        return [self.bmc.system_id]

    def uuid(self, identity):
        if identity not in (self.bmc.system_id, self.bmc.host.name):
            raise error.NotFound(f"system {identity} is not on this BMC")
        return self.bmc.system_id

    def name(self, identity):
        self.uuid(identity)
        return self.bmc.host.name

    def get_power_state(self, identity):
        self.uuid(identity)
        return "On" if kvm.processes(self.bmc.host) else "Off"

    def set_power_state(self, identity, state):
        self.uuid(identity)
        if state in POWER_OFF + RESTART:
            with self.changing:
                self.logger.info(host_power(self.cfg, self.sup, self.bmc.host.name, "off"))
        if state in POWER_ON + RESTART:
            # A real BMC answers at once and the host boots meanwhile: PowerState reads On once
            # its libvirtd runs, nova-compute follows.
            threading.Thread(target=self._power_on, daemon=True).start()
        elif state not in POWER_OFF:
            raise error.NotSupportedError(f"ResetType {state} is not supported by the lab's BMC")

    def _power_on(self):
        with self.changing:
            try:
                self.logger.info(host_power(self.cfg, self.sup, self.bmc.host.name, "on"))
            except Exception:  # pylint: disable=broad-except - logged, as a BMC's event log would
                self.logger.exception("power on of %s failed", self.bmc.host.name)

    def get_boot_device(self, identity):
        return "Hdd"

    def set_boot_device(self, identity, boot_source):
        raise error.NotSupportedError("the lab's KVM hosts boot from their disk only")


def write_auth_file(cfg: LabConfig, one: bmc.Bmc) -> str:
    """The BMC's htpasswd, its one user's password bcrypt-hashed (the only digest sushy-tools reads)."""
    path = bmc.auth_file(cfg, one)
    # sushy-tools checks the hash at every request: bcrypt's default cost (12) takes a second
    # per request on the lab's machine, the least (4) a few milliseconds.
    digest = bcrypt.hashpw(cfg.secret(one.name).encode(), bcrypt.gensalt(rounds=4)).decode()
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(f"{bmc.USERNAME}:{digest}\n")
    return str(path)


def main(argv: list[str]) -> int:
    cfg = LabConfig.from_env()
    one = bmc.bmc(cfg, argv[0])
    cert, key = bmc.certificate(cfg)
    app = sushy.app
    app.logger.setLevel(logging.INFO)
    app.configure(extra_config={
        "SUSHY_EMULATOR_AUTH_FILE": write_auth_file(cfg, one),
        # Service root, Systems and the system with its Reset action: what fence agents use.
        "SUSHY_EMULATOR_FEATURE_SET": "minimum",
    })  # fmt: skip
    driver = LabHostDriver(cfg, one, app.logger)
    sushy.Application.systems = property(lambda _app: driver)
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(str(cert), str(key))
    app.run(host=HOST, port=one.port, ssl_context=context, threaded=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
