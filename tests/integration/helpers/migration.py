"""The lab side of the migration tests (issue 16): source VMs whose disk holds the lab's guest image with a data
file of the test's own, in the lab's simulator (a VM nova does not manage) or under a nova instance on a vSphere
proxy; their disks read back through ExportVm, as the migration reads them.

A disk's bytes go in as its guest would write them (the simulator's ``PUT /lab/vm-disk``, extension 35 of
docs/simulator-extensions.md). The guest on a KVM host prints the data file on its console (``Cloud.console``).
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import subprocess
import sys
import tempfile
import time
import urllib.error
from dataclasses import dataclass
from pathlib import Path

from pyVim.task import WaitForTask
from pyVmomi import vim

from helpers.cloud import guest_manifest, openstack_cli
from helpers.lab import ROOT

sys.path.insert(0, str(ROOT / "tests" / "lab" / "guest"))
sys.path.insert(0, str(ROOT / "tests" / "lab" / "vcsim"))
import build_guest_image  # noqa: E402  pylint: disable=wrong-import-position
import smoke_export  # noqa: E402  pylint: disable=wrong-import-position

MIB = 1 << 20
# A guest write (PUT /lab/vm-disk) at most this long.
CHUNK = 4 * MIB


@dataclass(frozen=True)
class GuestDisk:
    """A raw disk of the lab's guest image whose lab-data.txt holds ``data``; ``sha256`` of its bytes."""

    path: Path
    data: str
    sha256: str
    size: int

    def sha256_as(self, capacity: int) -> str:
        """The sha256 of a disk of ``capacity`` bytes that holds these bytes and zeros after them."""
        return padded_sha256(self.path, capacity)


def padded_sha256(path: Path, capacity: int) -> str:
    """The sha256 of the file's bytes followed by zeros up to ``capacity`` bytes."""
    digest = hashlib.sha256()
    size = 0
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(CHUNK), b""):
            digest.update(block)
            size += len(block)
    for left in range(capacity - size, 0, -CHUNK):
        digest.update(bytes(min(left, CHUNK)))
    return digest.hexdigest()


def guest_disk_bytes(tmp: Path, data_text: str) -> GuestDisk:
    """The lab's guest image as a raw disk in ``tmp``, its lab-data.txt replaced by ``data_text``
    (mtools on the partition at its offset, as build_guest_image.py writes it): the guest prints
    ``LAB-GUEST-DATA <data_text>``."""
    raw = tmp / "guest-disk.raw"
    subprocess.run(["qemu-img", "convert", "-f", "qcow2", "-O", "raw", guest_manifest()["qcow2"], str(raw)],
                   check=True, capture_output=True)
    data = tmp / build_guest_image.DATA_FILE
    data.write_text(data_text + "\n")
    partition = "%s@@%d" % (raw, build_guest_image.PARTITION_START * 512)
    subprocess.run(["mcopy", "-o", "-i", partition, str(data), "::/" + build_guest_image.DATA_FILE], check=True,
                   capture_output=True, env=dict(os.environ, MTOOLS_SKIP_CHECK="1"))
    size = raw.stat().st_size
    return GuestDisk(path=raw, data=data_text, sha256=padded_sha256(raw, size), size=size)


def base_url(si) -> str:
    """The vCenter's HTTPS root, for the URLs beside its API (/lab, the lease's disks)."""
    return "https://" + si._stub.host  # pylint: disable=protected-access


def first_disk(vm) -> vim.vm.device.VirtualDisk:
    return next(d for d in vm.config.hardware.device if isinstance(d, vim.vm.device.VirtualDisk))


def write_guest(si, vm, disk: GuestDisk) -> dict:
    """Write the guest disk into the VM's first disk, from its start, in CHUNK writes as a guest would;
    the VM as a migration test needs it: name, moid, instance_uuid, disk_key, capacity and the sha256
    of the disk's whole capacity (the guest's bytes, then zeros)."""
    target = first_disk(vm)
    capacity = target.capacityInKB * 1024
    assert capacity >= disk.size, "the VM's disk has %d bytes, the guest %d" % (capacity, disk.size)
    url = "%s/lab/vm-disk?vm=%s&disk=%d&offset=" % (base_url(si), vm._moId, target.key)
    cookie = si._stub.cookie  # pylint: disable=protected-access
    with disk.path.open("rb") as handle:
        for offset in range(0, disk.size, CHUNK):
            try:
                status = smoke_export.http("PUT", url + str(offset), cookie, handle.read(CHUNK))[0]
            except urllib.error.HTTPError as error:
                raise AssertionError("PUT %s%d: %s %s" % (url, offset, error.code, error.read()[:500])) from None
            assert status == 204, "PUT %s%d: %s" % (url, offset, status)
    return {"name": vm.name, "moid": vm._moId, "instance_uuid": vm.config.instanceUuid, "disk_key": target.key,
            "capacity": capacity, "sha256": disk.sha256_as(capacity)}


def vm_with_guest(si, name: str, disk: GuestDisk, capacity: int | None = None) -> dict:
    """A VM nova does not manage (1 vCPU, 256 MiB, no NIC, an LSI Logic controller, one thin disk of ``capacity``
    bytes, the guest's size by default, on nfs-a in Cluster-A), its disk holding the guest, powered on.
    The VM as ``write_guest`` returns it, plus ``vm`` (the pyVmomi object)."""
    vm = smoke_export.create_vm(si, name, capacity=capacity or disk.size)
    try:
        found = write_guest(si, vm, disk)
        WaitForTask(vm.PowerOnVM_Task())
    except Exception:
        WaitForTask(vm.Destroy_Task())
        raise
    return {**found, "vm": vm}


def find_vm(si, instance_uuid: str):
    """The VM of that vCenter instance UUID (nova's VMware driver gives a nova instance's VM nova's UUID)."""
    vm = si.RetrieveContent().searchIndex.FindByUuid(None, instance_uuid, True, True)
    assert vm is not None, "no VM of instance UUID %s" % instance_uuid
    return vm


def disk_sha256(stream: bytes) -> str:
    """The sha256 of the disk's bytes in a lease's stream: a streamOptimized VMDK read by qemu-img into a sparse raw
    file, hashed from there (not in memory: a disk may be large), or the raw stream itself."""
    if not stream.startswith(b"KDMV"):
        return hashlib.sha256(stream).hexdigest()
    with tempfile.TemporaryDirectory() as tmp:
        vmdk, raw = Path(tmp) / "disk.vmdk", Path(tmp) / "disk.raw"
        vmdk.write_bytes(stream)
        subprocess.run(["qemu-img", "convert", "-f", "vmdk", "-O", "raw", str(vmdk), str(raw)], check=True,
                       capture_output=True)
        return padded_sha256(raw, raw.stat().st_size)


def exported_sha256(si, vm, timeout: float = 60) -> dict:
    """What ExportVm serves of the (powered off) VM: per disk, the lease's device URL key -> the sha256 of the
    disk's bytes (``disk_sha256``), each stream's sha1 checked against the lease manifest. The lease is completed,
    or aborted on a failure."""
    lease = vm.ExportVm()
    try:
        deadline = time.monotonic() + timeout
        while lease.state == "initializing":
            assert time.monotonic() < deadline, "the lease of %s is not ready in %s s" % (vm._moId, timeout)
            time.sleep(0.2)
        assert lease.state == "ready", (lease.state, lease.error)
        cookie = si._stub.cookie  # pylint: disable=protected-access
        manifest = {entry.key: entry.sha1 for entry in lease.HttpNfcLeaseGetManifest()}
        found = {}
        for url in (u for u in lease.info.deviceUrl if u.disk):
            status, stream = smoke_export.http("GET", url.url.replace("https://*", base_url(si)), cookie)
            assert status == 200 and hashlib.sha1(stream).hexdigest() == manifest[url.key], (url.key, status)
            found[url.key] = disk_sha256(stream)
        lease.HttpNfcLeaseProgress(100)
        lease.HttpNfcLeaseComplete()
        return found
    except BaseException:
        if lease.state in ("initializing", "ready"):
            lease.HttpNfcLeaseAbort()
        raise


@contextlib.contextmanager
def nova_instance_with_guest(lab, proxy, si, name: str, disk: GuestDisk):
    """An ACTIVE nova instance on the vSphere proxy ``proxy`` (``helpers.cloud.vsphere_proxy``) whose VM's disk
    holds the guest: booted from a blank sparse VMDK image (the VMware driver's own disk, one GiB: the flavor's),
    the guest's bytes then written into the running VM's disk. ``si`` is a session on the proxy's vCenter.
    Yields ``write_guest``'s dict plus ``server`` (nova's view); deletes the server, image and flavor after."""
    work = proxy["work"]
    image = work / (name + ".vmdk")
    subprocess.run(["qemu-img", "create", "-f", "vmdk", "-o", "subformat=monolithicSparse", str(image),
                    str(disk.size)], check=True, capture_output=True)
    openstack = [str(lab["state"] / "venv" / "bin" / "openstack")]
    try:
        openstack_cli(lab, "image", "create", "--disk-format", "vmdk", "--container-format", "bare",
                      "--file", str(image), "--property", "vmware_disktype=sparse",
                      "--property", "vmware_adaptertype=lsiLogic", "--property", "hypervisor_type=vmware",
                      "--property", "vmware_linked_clone=false", name)
        openstack_cli(lab, "flavor", "create", "--vcpus", "1", "--ram", "256", "--disk", "1", name)
        server = openstack_cli(lab, "server", "create", "--image", name, "--flavor", name, "--nic", "none",
                               "--host", proxy["host"], "--wait", name, microversion="2.74")
        assert server["status"] == "ACTIVE", server.get("fault")
        found = write_guest(si, find_vm(si, server["id"]), disk)
        yield {**found, "server": server}
    finally:
        for command in (["server", "delete", "--wait", name], ["image", "delete", name], ["flavor", "delete", name]):
            subprocess.run(openstack + command, env=proxy["env"], capture_output=True, check=False, timeout=300)


def write_bytes(si, made: dict, disk: GuestDisk, offset: int, data: bytes) -> dict:
    """Write ``data`` into the first disk of ``made`` (a ``vm_with_guest`` VM holding ``disk``) at ``offset``, past
    the guest's bytes, as its guest would (CHUNK writes). ``made`` with the sha256 of the disk's whole capacity as
    it now is: the guest, zeros, ``data``, zeros."""
    assert offset >= disk.size and offset + len(data) <= made["capacity"], (offset, len(data), made["capacity"])
    url = "%s/lab/vm-disk?vm=%s&disk=%d&offset=" % (base_url(si), made["moid"], made["disk_key"])
    cookie = si._stub.cookie  # pylint: disable=protected-access
    for start in range(0, len(data), CHUNK):
        status = smoke_export.http("PUT", url + str(offset + start), cookie, data[start:start + CHUNK])[0]
        assert status == 204, "PUT %s%d: %s" % (url, offset + start, status)
    digest = hashlib.sha256(disk.path.read_bytes())
    for left in range(offset - disk.size, 0, -CHUNK):
        digest.update(bytes(min(left, CHUNK)))
    digest.update(data)
    for left in range(made["capacity"] - offset - len(data), 0, -CHUNK):
        digest.update(bytes(min(left, CHUNK)))
    return {**made, "sha256": digest.hexdigest()}


def nfc_rate(si, bytes_per_second: int) -> None:
    """Limit the simulator's export downloads to ``bytes_per_second`` from now on (0: no limit), so that a copy lasts
    long enough to watch it or to cut it (the lab's ``PUT /lab/nfc-rate``, docs/simulator-extensions.md 45)."""
    status, body = smoke_export.http("PUT", base_url(si) + "/lab/nfc-rate", si._stub.cookie,  # pylint: disable=protected-access
                                     str(bytes_per_second).encode())
    assert status == 200 and body.strip() == str(bytes_per_second).encode(), (status, body)
