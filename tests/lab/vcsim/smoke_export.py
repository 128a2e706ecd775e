#!/usr/bin/env python3
"""Check a running lab vcsim's cold export path (issue 16), with pyVmomi.

Creates a VM with a 16 MiB disk on nfs-a in Cluster-A (default inventory),
powers it on and off (ExportVm must be refused while it runs), writes known
bytes into its disk as its guest would (PUT /lab/vm-disk), exports it
(ExportVm -> HttpNfcLease, waiting for it to be ready), downloads the disk in
two Range requests (a resume in the middle) while keeping the lease alive,
checks the download's sha1 against the manifest's, converts it to raw bytes
with qemu-img (a streamOptimized VMDK, as vCenter sends, unless the simulator
runs with --nfc-export-format raw) and checks their sha256 against the
bytes written. Completes the lease and destroys the VM. Reports each check
on stderr; exits 1 if one fails. Needs qemu-img on PATH.

usage: smoke_export.py --url https://127.0.0.1:17443/sdk --user U --password P
"""

import argparse
import hashlib
import os
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.parse
import urllib.request

from pyVim.connect import Disconnect
from pyVim.task import WaitForTask
from pyVmomi import vim

from smoke_check import Checker, connect

MIB = 1 << 20
CAPACITY = 16 * MIB
OFFSET = 5 * MIB + 7
DATA = b"issue 16: every byte proven\n" * 4096


def create_vm(si, name, capacity=None):
    """A VM with one thin disk of ``capacity`` bytes (CAPACITY by default) on nfs-a in Cluster-A, powered off."""
    content = si.RetrieveContent()
    dc = next(e for e in content.rootFolder.childEntity if e.name == "DC1")
    cluster = next(e for e in dc.hostFolder.childEntity if e.name == "Cluster-A")
    controller = vim.vm.device.VirtualDeviceSpec(
        operation="add", device=vim.vm.device.VirtualLsiLogicController(key=-100, busNumber=0, sharedBus="noSharing"))
    disk = vim.vm.device.VirtualDeviceSpec(
        operation="add", fileOperation="create",
        device=vim.vm.device.VirtualDisk(
            key=-200, controllerKey=-100, unitNumber=0, capacityInKB=(capacity or CAPACITY) // 1024,
            backing=vim.vm.device.VirtualDisk.FlatVer2BackingInfo(
                fileName="[nfs-a]", diskMode="persistent", thinProvisioned=True)))
    spec = vim.vm.ConfigSpec(name=name, guestId="otherGuest64", memoryMB=256, numCPUs=1,
                             files=vim.vm.FileInfo(vmPathName="[nfs-a]"), deviceChange=[controller, disk])
    task = dc.vmFolder.CreateVM_Task(config=spec, pool=cluster.resourcePool)
    WaitForTask(task)
    return task.info.result


def http(method, url, cookie, data=None, headers=None):
    request = urllib.request.Request(url, data=data, method=method, headers=dict(headers or {}, Cookie=cookie))
    with urllib.request.urlopen(request, context=ssl._create_unverified_context()) as response:  # lab certificate
        return response.status, response.read()


def raw_bytes(download):
    """The disk's bytes in a download: a streamOptimized VMDK converted with qemu-img, else itself."""
    if not download.startswith(b"KDMV"):
        return download
    with tempfile.TemporaryDirectory() as tmp:
        vmdk, raw = os.path.join(tmp, "disk.vmdk"), os.path.join(tmp, "disk.raw")
        with open(vmdk, "wb") as f:
            f.write(download)
        subprocess.run(["qemu-img", "convert", "-f", "vmdk", "-O", "raw", vmdk, raw], check=True)
        with open(raw, "rb") as f:
            return f.read()


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    args = parser.parse_args()
    base = "https://" + urllib.parse.urlsplit(args.url).netloc
    c = Checker()
    si = connect(args.url, args.user, args.password)
    cookie = si._stub.cookie  # NFC and /lab urls take the session cookie, as vCenter's do
    vm = create_vm(si, "smoke-export")
    try:
        disk = next(d for d in vm.config.hardware.device if isinstance(d, vim.vm.device.VirtualDisk))
        WaitForTask(vm.PowerOnVM_Task())
        try:
            vm.ExportVm()
            c.check("ExportVm refused while powered on", False)
        except vim.fault.InvalidPowerState as fault:
            c.check("ExportVm refused while powered on (InvalidPowerState)", fault.existingState == "poweredOn")
        WaitForTask(vm.PowerOffVM_Task())

        status, _ = http("PUT", f"{base}/lab/vm-disk?vm={vm._moId}&disk={disk.key}&offset={OFFSET}", cookie, DATA)
        c.check("guest write into the disk", status == 204, status)
        expected = bytearray(CAPACITY)
        expected[OFFSET:OFFSET + len(DATA)] = DATA

        lease = vm.ExportVm()
        for _ in range(100):
            if lease.state != "initializing":
                break
            time.sleep(0.1)
        c.check("lease ready", lease.state == "ready", lease.state)
        urls = [u for u in lease.info.deviceUrl if u.disk]
        c.check("one disk url", len(urls) == 1 and urls[0].key.endswith("/VirtualLsiLogicController0:0"),
                [(u.key, u.targetId, u.fileSize) for u in urls])
        url = urls[0].url.replace("https://*", base)
        size = urls[0].fileSize
        half = size // 2
        status, first = http("GET", url, cookie, headers={"Range": f"bytes=0-{half - 1}"})
        c.check("first half (206)", status == 206 and len(first) == half, (status, len(first)))
        lease.HttpNfcLeaseProgress(50)
        status, rest = http("GET", url, cookie, headers={"Range": f"bytes={half}-"})
        c.check("resumed at the middle (206)", status == 206 and len(rest) == size - half, (status, len(rest)))
        got = first + rest
        lease.HttpNfcLeaseProgress(100)
        entry = {m.key: m for m in lease.HttpNfcLeaseGetManifest()}.get(urls[0].key)
        c.check("manifest sha1 == sha1 of the download",
                entry is not None and entry.sha1 == hashlib.sha1(got).hexdigest() and entry.size == len(got),
                entry and (entry.sha1, entry.size, entry.capacity))
        sha256 = hashlib.sha256(raw_bytes(got)).hexdigest()
        c.check(f"sha256 of the disk's bytes ({'streamOptimized' if got[:4] == b'KDMV' else 'raw'} download)"
                " == sha256 of the bytes written", sha256 == hashlib.sha256(expected).hexdigest(), sha256)
        lease.HttpNfcLeaseComplete()
        c.check("lease done", lease.state == "done", lease.state)
    finally:
        WaitForTask(vm.Destroy_Task())
        Disconnect(si)
    return 1 if c.failures else 0


if __name__ == "__main__":
    sys.exit(main())
