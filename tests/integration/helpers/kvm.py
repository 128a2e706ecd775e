"""The lab's KVM hosts as the tests drive them: servers of the lab's guest image booted on a named host, the
QEMU processes that run a server (and on which host), the host's own libvirt, and its power (`lab host-power`)."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

from helpers.cloud import Cloud
from helpers.lab import LAB, ROOT

sys.path.insert(0, str(ROOT / "tests" / "lab"))
from minilab import kvm  # noqa: E402  pylint: disable=wrong-import-position
from minilab.config import LabConfig  # noqa: E402  pylint: disable=wrong-import-position
from minilab.supervisor import Supervisor  # noqa: E402  pylint: disable=wrong-import-position


class KvmCloud(Cloud):
    """The lab's nova as its admin, with its KVM hosts by name, the guest image and the flavors the tests boot."""

    def __init__(self, env):
        super().__init__(env)
        self.cfg = LabConfig.from_env()
        self.hosts = {host.name: host for host in kvm.hosts(self.cfg)}
        self.image, self.manifest = self.guest_image()
        self.flavors = {}

    def flavor(self, name, ram):
        """A flavor of that name and memory (made again if it has other memory), for boot(flavor=name)."""
        found = self.conn.compute.find_flavor(name)
        if found and found.ram != ram:
            self.conn.compute.delete_flavor(found)
        if found and found.ram == ram:
            self.flavors[name] = found.id
        else:
            flavor = {"name": name, "ram": ram, "vcpus": 1, "disk": 1}
            self.flavors[name] = self.call("POST", "/flavors", {"flavor": flavor})["flavor"]["id"]

    def boot(self, name, count, host, flavor, metadata=None):
        """COUNT servers named NAME(-i) of the guest image on HOST, once all are ACTIVE."""
        server = {"name": name, "imageRef": self.image, "flavorRef": self.flavors[flavor], "networks": "none",
                  "host": host, "min_count": count, "max_count": count, "metadata": metadata or {}}
        # 2.74: a host named at boot still goes through the scheduler.
        self.call("POST", "/servers", {"server": server}, microversion="2.74")
        return self.wait(name, count, lambda s: s["status"] == "ACTIVE")

    def servers(self, prefix):
        return self.listing("/servers/detail?all_tenants=1&name=^%s" % prefix, "servers")

    def wait(self, prefix, count, done, timeout=180):
        """The COUNT servers whose names start with PREFIX, once done(server) holds for each; ERROR fails."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            servers = self.servers(prefix)
            assert not [s for s in servers if s["status"] == "ERROR" and not done(s)], servers
            if len(servers) == count and all(done(s) for s in servers):
                return servers
            time.sleep(1)
        raise AssertionError("servers %s not ready in %s s: %s" % (prefix, timeout, self.servers(prefix)))

    def action(self, server, body, microversion="2.53"):
        self.call("POST", "/servers/%s/action" % server["id"], body, microversion=microversion)

    def delete(self, prefixes):
        for prefix in prefixes:
            for server in self.servers(prefix):
                self.call("DELETE", "/servers/%s" % server["id"])
        deadline = time.monotonic() + 120
        while any(self.servers(prefix) for prefix in prefixes) and time.monotonic() < deadline:
            time.sleep(1)

    def evacuations(self, source, servers):
        """The evacuation migrations of these servers from SOURCE (every page; 2.59 has their ids)."""
        ids = {s["id"] for s in servers}
        migrations = self.listing("/os-migrations?migration_type=evacuation&source_compute=%s" % source, "migrations",
                                  microversion="2.59")
        return [m for m in migrations if m["instance_uuid"] in ids]

    def set_service(self, host, **fields):
        self.call("PUT", "/os-services/%s" % self.services()[host]["id"], fields)

    def wait_reporting(self, host, timeout=120):
        """Once the host's nova-compute reports again: its service's updated_at moves past the one read now (nova
        marks a service down only after service_down_time, so its state alone does not tell)."""
        last = self.services()[host]["updated_at"]
        deadline = time.monotonic() + timeout
        while self.services()[host]["updated_at"] == last:
            assert time.monotonic() < deadline, "nova-compute of %s did not report in %s s" % (host, timeout)
            time.sleep(1)

    def processes(self, host):
        """Every process of the KVM host (its namespace's): none once its power is cut."""
        return kvm.processes(self.hosts[host])

    def qemus(self, server):
        """One entry per QEMU process of this machine that runs the server: the KVM host it belongs to, or
        'no host' for a QEMU outside every host's namespace."""
        owner = {pid: name for name, host in self.hosts.items() for pid in kvm.processes(host)}
        found = []
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                argv = (entry / "cmdline").read_bytes().split(b"\0")
            except OSError:
                continue
            if argv[0].endswith(b"qemu-system-x86_64") and server["id"].encode() in argv:
                found.append(owner.get(int(entry.name), "no host"))
        return sorted(found)


def virsh(host, *args):
    """virsh against the KVM host's own libvirtd."""
    return subprocess.run(["virsh", "-c", host.uri, *args], check=True, capture_output=True, text=True).stdout


def domains(host, *flags):
    return set(virsh(host, "list", "--name", *flags).split())


def host_power(host, power):
    """`lab host-power HOST off|on`; its output."""
    return subprocess.run(LAB + ["host-power", host, power], check=True, capture_output=True, text=True).stdout


def stop_compute(host):
    """The KVM host's nova-compute stops; the host, its libvirtd and its guests keep running (`host_power(host,
    "on")` starts it again)."""
    cfg = LabConfig.from_env()
    Supervisor(cfg).stop(kvm.host(cfg, host).nova_compute)
