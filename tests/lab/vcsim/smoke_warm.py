#!/usr/bin/env python3
"""Check a running lab vcsim's warm-sync path (issue 16), with pyVmomi.

Creates a VM with a 2 GiB (sparse) disk on nfs-a in Cluster-A (default
inventory), turns on changed block tracking and powers it on; writes near
the start, takes a snapshot (its disk backing must carry a changeId), writes
near the end, removes the snapshot and takes a new one (the safe order), and
pages QueryChangedDiskAreas since the first changeId to the end of the disk:
with the default --cbt-window (512 MiB) the only change lies past three
empty windows, which a sync must not stop at. Checks that the call is a
FileFault without a snapshot while the VM runs. Cleans up. Reports each
check on stderr; exits 1 if one fails.

usage: smoke_warm.py --url https://127.0.0.1:17443/sdk --user U --password P
"""

import argparse
import sys
import urllib.parse

from pyVim.connect import Disconnect
from pyVim.task import WaitForTask
from pyVmomi import vim

import smoke_export
from smoke_check import Checker, connect

GIB = 1 << 30
LATE = 2 * GIB - 100 * (1 << 20)


def disk_of(config):
    return next(d for d in config.hardware.device if isinstance(d, vim.vm.device.VirtualDisk))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    args = parser.parse_args()
    base = "https://" + urllib.parse.urlsplit(args.url).netloc
    c = Checker()
    si = connect(args.url, args.user, args.password)
    smoke_export.CAPACITY = 2 * GIB
    vm = smoke_export.create_vm(si, "smoke-warm")
    try:
        key = disk_of(vm.config).key

        def write(offset, data):
            status, _ = smoke_export.http("PUT", f"{base}/lab/vm-disk?vm={vm._moId}&disk={key}&offset={offset}",
                                          si._stub.cookie, data)
            return status

        WaitForTask(vm.ReconfigVM_Task(vim.vm.ConfigSpec(changeTrackingEnabled=True)))
        WaitForTask(vm.PowerOnVM_Task())
        c.check("guest write before the first snapshot", write(4096, b"early") == 204)
        task = vm.CreateSnapshot_Task("sync-1", "", False, False)
        WaitForTask(task)
        change_id = disk_of(task.info.result.config).backing.changeId
        c.check("the snapshot's disk has a changeId", bool(change_id), change_id)
        c.check("guest write while the full copy runs", write(LATE, b"late") == 204)
        WaitForTask(task.info.result.RemoveSnapshot_Task(removeChildren=False))
        task = vm.CreateSnapshot_Task("sync-2", "", False, False)
        WaitForTask(task)
        windows, offset = [], 0
        while offset < 2 * GIB:
            info = vm.QueryChangedDiskAreas(snapshot=task.info.result, deviceKey=key, startOffset=offset,
                                            changeId=change_id)
            windows.append([(a.start, a.length) for a in info.changedArea])
            offset = info.startOffset + info.length
        c.check("paged to the end past empty windows; only the late write changed",
                len(windows) > 1 and not any(windows[:-1]) and len(windows[-1]) == 1
                and windows[-1][0][0] <= LATE < sum(windows[-1][0]), windows)
        try:
            vm.QueryChangedDiskAreas(deviceKey=key, startOffset=0, changeId="*")
            c.check("no snapshot while running: FileFault", False)
        except vim.fault.FileFault:
            c.check("no snapshot while running: FileFault", True)
        WaitForTask(vm.PowerOffVM_Task())
        WaitForTask(vm.RemoveAllSnapshots_Task())
    finally:
        WaitForTask(vm.Destroy_Task())
        Disconnect(si)
    return 1 if c.failures else 0


if __name__ == "__main__":
    sys.exit(main())
