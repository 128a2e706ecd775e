#!/usr/bin/env python3
"""Check the collection's export lease client and migration hashes against a running lab vcsim (issue 16).

Through the collection's own code (``_vcenter/client.py``, ``_vcenter/export_lease.py``,
``_migration/disk_hashes.py``, ``_migration/progress.py``): creates a VM with a disk on nfs-a
(pyVmomi, as smoke_export.py), writes known bytes into it (PUT /lab/vm-disk), powers it off and

1. downloads its disk through a lease while a slow reader makes the copy last longer than the
   simulator's --nfc-lease-timeout (start it with a short one, e.g. 3s): the lease must stay
   alive through HttpNfcLeaseProgress alone;
2. interrupts a second download half-way (the run "dies"), lets that lease lapse, opens a new
   lease and resumes from the staged prefix (``disk_hashes.resume``): the stream's sha1 must
   equal the new lease's manifest, and the disk's bytes (qemu-img's raw conversion of a
   streamOptimized stream) must hash as the bytes written.

Exits 1 if a check fails. Needs qemu-img and the collection at --collections (build/collections,
with the clone linked in as tests/run-tests.sh expects).

usage: smoke_lease_client.py --url https://127.0.0.1:PORT/sdk --user U --password P
                             [--collections build/collections] [--lease-timeout 3]
"""

import argparse
import hashlib
import os
import sys
import tempfile
import time
import urllib.parse

from pyVim.connect import Disconnect

import smoke_export
from smoke_check import Checker, connect

MIB = 1 << 20


class Interrupted(Exception):
    pass


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    parser.add_argument("--collections", default=os.path.join(os.path.dirname(__file__), "../../../build/collections"))
    parser.add_argument("--lease-timeout", type=float, default=3.0, help="the simulator's --nfc-lease-timeout, s")
    parser.add_argument("--capacity-mib", type=int, default=64)
    args = parser.parse_args()
    sys.path.insert(0, os.path.abspath(args.collections))
    from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._migration import disk_hashes, progress
    from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._migration import plan as migration
    from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._migration.stream_optimized import RawDisk
    from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._qemu_img.client import QemuImg
    from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._vcenter.client import vcenter_session
    from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._vcenter.export_lease import ExportLease
    from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._vcenter.migration_reads import read_source
    from pyVim.task import WaitForTask
    from pyVmomi import vim

    parts = urllib.parse.urlsplit(args.url)
    base = "https://" + parts.netloc
    c = Checker()
    si = connect(args.url, args.user, args.password)
    smoke_export.CAPACITY = args.capacity_mib * MIB
    vm = smoke_export.create_vm(si, "smoke-lease-client")
    expected = bytearray(smoke_export.CAPACITY)
    try:
        disk = next(d for d in vm.config.hardware.device if isinstance(d, vim.vm.device.VirtualDisk))
        for offset in (0, smoke_export.CAPACITY // 3, smoke_export.CAPACITY - 3 * MIB):
            data = os.urandom(2 * MIB)  # incompressible: the stream is about as large as the data
            status, _ = smoke_export.http("PUT", f"{base}/lab/vm-disk?vm={vm._moId}&disk={disk.key}&offset={offset}",
                                          si._stub.cookie, data)
            expected[offset:offset + len(data)] = data
            c.check(f"guest write at {offset}", status == 204, status)
        expected_sha256 = hashlib.sha256(expected).hexdigest()
        params = {"hostname": parts.hostname, "port": parts.port, "username": args.user, "password": args.password,
                  "validate_certs": False}
        with vcenter_session(params) as client, tempfile.TemporaryDirectory() as tmp:
            ref = client.ref(vim.VirtualMachine, vm._moId)

            source = read_source(client, ref)
            plan = migration.plan_migration(source, {"flavor": {"id": "f", "name": "f", "vcpus": 1, "ram": 256,
                                                                "disk": 0}})
            c.check("the VM reads and plans: one disk, no blocker",
                    plan["blockers"] == [] and [d["capacity_bytes"] for d in plan["disks"]] == [smoke_export.CAPACITY],
                    (plan["blockers"], plan["disks"]))

            # 1. a copy longer than the lease timeout, kept alive
            lease = ExportLease.open(client, ref, "VM smoke-lease-client")
            found, missing = migration.disks_of_device_urls(source["moref"], source["disks"], lease.device_urls)
            c.check("lease ready; its disk URL is the plan's disk", len(lease.device_urls) == 1 and not missing
                    and list(found) == [disk.key], (lease.device_urls, missing))
            url = lease.device_urls[0]
            pause = args.lease_timeout * 2.5 / max(1, url["file_size"] // (1 << 20))
            started = time.monotonic()
            with open(os.path.join(tmp, "slow.stream"), "wb") as out:
                size = lease.download(url, out, sink=lambda block: time.sleep(pause))
            took = time.monotonic() - started
            c.check(f"a {took:.1f} s copy outlived the {args.lease_timeout} s lease timeout with "
                    f"{lease.progress_calls} HttpNfcLeaseProgress calls",
                    took > args.lease_timeout and lease.progress_calls >= 2 and size == url["file_size"],
                    (took, lease.progress_calls, size))
            lease.complete()

            # 2. an interrupted copy, a lapsed lease, a new lease, a resume from the staged prefix
            chunk = MIB
            staged = os.path.join(tmp, "disk.stream")
            lease = ExportLease.open(client, ref, "VM smoke-lease-client")
            url = lease.device_urls[0]
            hashes = disk_hashes.StreamHashes(("sha1", "sha256"), chunk=chunk, size=url["file_size"])
            half = url["file_size"] // 2

            def dying(block):
                hashes.update(block)
                if hashes.offset >= half:
                    raise Interrupted()

            try:
                with open(staged, "wb") as out:
                    lease.download(url, out, sink=dying)
            except Interrupted:
                pass
            saved = hashes.saved()
            c.check("interrupted half-way with whole chunks saved", len(saved["chunks"]) >= 1, len(saved["chunks"]))
            time.sleep(args.lease_timeout + 1.5)  # the dead run's lease lapses
            state = client.retrieve_objects(vim.HttpNfcLease, [lease.lease], ["state"])[0]["state"]
            c.check("the dead run's lease, without HttpNfcLeaseProgress, lapsed", state == "error", state)

            lease = ExportLease.open(client, ref, "VM smoke-lease-client")
            url = lease.device_urls[0]
            raw_digest = hashlib.sha256()
            raw_disk = RawDisk(raw_digest.update)
            with open(staged, "rb") as f:
                def read_at(offset, length):
                    f.seek(offset)
                    return f.read(length)
                first = f.read(4)
                sinks = [raw_disk.update] if first == b"KDMV" else []
                hashes = disk_hashes.resume(saved, read_at, size=url["file_size"], sinks=sinks)
            c.check("resumed at the last whole chunk", hashes.offset == len(saved["chunks"]) * chunk > 0,
                    (hashes.offset, len(saved["chunks"])))
            meter = progress.Progress(url["file_size"], done=hashes.offset)
            with open(staged, "r+b") as out:
                size = lease.download(url, out, start=hashes.offset,
                                      sink=lambda block: (hashes.update(block), meter.add(len(block))),
                                      percent=meter.percent)
            digests = hashes.hexdigests()
            manifest = lease.manifest()
            try:
                disk_hashes.check_manifest(url["key"], {"sha1": digests["sha1"], "size": size}, manifest)
                c.check("the resumed stream's sha1 is the new lease's manifest's", True)
            except disk_hashes.DiskMismatch as error:
                c.check("the resumed stream's sha1 is the new lease's manifest's", False, str(error))
            head = first
            if head == b"KDMV":
                raw_disk.finish()
                source_sha256 = raw_digest.hexdigest()  # decoded while downloading, not by qemu-img
                qemu_sha256 = QemuImg().raw_sha256(staged, "vmdk", os.path.join(tmp, "disk.raw"))
                c.check("RawDisk's sha256 of the stream's disk == qemu-img's", source_sha256 == qemu_sha256,
                        (source_sha256, qemu_sha256))
            else:
                source_sha256 = digests["sha256"]
            qcow2 = os.path.join(tmp, "disk.qcow2")
            QemuImg().convert(staged, "vmdk" if head == b"KDMV" else "raw", qcow2, "qcow2")
            target_sha256 = QemuImg().raw_sha256(qcow2, "qcow2", os.path.join(tmp, "back.raw"))
            try:
                proof = disk_hashes.disk_proof(str(disk.key), source_sha256, target_sha256)
                c.check(f"disk proof ({'streamOptimized' if head == b'KDMV' else 'raw'}): sha256 source == target == "
                        "the bytes written", proof["equal"] and source_sha256 == expected_sha256,
                        (source_sha256, target_sha256, expected_sha256))
            except disk_hashes.DiskMismatch as error:
                c.check("disk proof", False, str(error))
            figures = meter.figures()
            c.check(f"progress {figures['bytes_done']}/{figures['bytes_total']} at {figures['bytes_per_second']} B/s",
                    figures["bytes_done"] == figures["bytes_total"] and figures["percent"] == 100, figures)
            lease.complete()
    finally:
        WaitForTask(vm.Destroy_Task())
        Disconnect(si)
    return 1 if c.failures else 0


if __name__ == "__main__":
    sys.exit(main())
