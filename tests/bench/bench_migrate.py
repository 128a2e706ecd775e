#!/usr/bin/env python3
"""vm_migrate's copy and conversion of a 1 GiB disk against a plain local qemu-img convert of the same bytes (issue 16).

    LAB_DIR=... .venv/bin/python tests/bench/bench_migrate.py [--size-mib 1024] [--random-mib 512] [--repeat 1]

Needs the lab up (its simulator, nova, glance and a KVM host). For each repetition the script makes a disk of
``--size-mib`` MiB: the lab's guest image at its start, ``--random-mib`` MiB of random bytes after it (incompressible,
as compressed or encrypted data is) and zeros to its end (as a thin disk's unwritten part); writes it into a
powered-off VM of the lab's simulator (PUT /lab/vm-disk, as a guest would) and migrates that VM with vm_migrate
(``ports: none``, a 1-vCPU flavor of the disk's size), once, as the one task of a playbook. It prints the module's
own seconds per step (``migration.timings``): the download through the export lease with its sha1/sha256 hashing and
the streamOptimized decoding, the qemu-img conversion to qcow2, the target's read-back hash, the glance upload and the
boot; then, on the same bytes in a local raw file, a plain ``qemu-img convert -f raw -O qcow2`` (the limit of the
conversion on this machine) and a plain ``sha256sum`` (the limit of hashing). Figures in MiB/s of the disk's
capacity. The VM, server, image and record are deleted at the end.

Warm mode (changed block tracking, a final delta after power-off) is not in vm_migrate yet: there is no downtime
figure to print.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
import uuid
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration"))

from pyVim.task import WaitForTask  # noqa: E402  pylint: disable=wrong-import-position
from pyVmomi import vim  # noqa: E402  pylint: disable=wrong-import-position

from helpers.cloud import openstack_cli  # noqa: E402  pylint: disable=wrong-import-position
from helpers.lab import ROOT as LAB_ROOT, clean_env, lab_env  # noqa: E402  pylint: disable=wrong-import-position
from helpers.migration import guest_disk_bytes, vm_with_guest, write_bytes  # noqa: E402  pylint: disable=wrong-import-position
from helpers.playbook import run_module  # noqa: E402  pylint: disable=wrong-import-position
from helpers.vsphere import VSphere, lab_vcenter  # noqa: E402  pylint: disable=wrong-import-position

MIB = 1 << 20


def timed(command):
    started = time.monotonic()
    subprocess.run(command, check=True, capture_output=True)
    return time.monotonic() - started


def one_run(lab, admin, vcenter, work, size, random_bytes):
    guest = guest_disk_bytes(work, "bench-%s" % uuid.uuid4().hex[:8])
    session = VSphere(vcenter)
    name = "bench-migrate-%s" % uuid.uuid4().hex[:6]
    flavor = openstack_cli(lab, "flavor", "create", "--vcpus", "1", "--ram", "512", "--disk", str(-(-size // 1024 ** 3)),
                           name)
    made = vm_with_guest(session.si, name, guest, capacity=size)
    data = os.urandom(random_bytes)
    made = write_bytes(session.si, made, guest, 64 * MIB, data)
    WaitForTask(made["vm"].PowerOffVM_Task())
    try:
        started = time.monotonic()
        run = run_module("vm_migrate", {"source": {"vm_moref": made["moid"]}, "target": {"flavor": name},
                                        "ports": "none", "staging_dir": str(work / "staging")}, env=admin)
        wall = time.monotonic() - started
        if run.failed:
            raise SystemExit("vm_migrate failed: %s" % run.msg)
        migration = run.result["migration"]
        if not migration["disks"][0]["equal"] or migration["disks"][0]["sha256_source"] != made["sha256"]:
            raise SystemExit("the disk's proof failed: %s" % migration["disks"])
        # The same bytes as a local raw file: what a plain conversion and a plain hash of them cost here.
        raw = work / "disk.raw"
        with raw.open("wb") as out:
            out.write(guest.path.read_bytes())
            out.seek(64 * MIB)
            out.write(data)
            out.truncate(size)
        local = {"qemu-img convert raw -> qcow2": timed(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw),
                                                          str(work / "plain.qcow2")]),
                 "sha256sum of the raw file": timed(["sha256sum", str(raw)])}
        return {"timings": migration["timings"], "wall": wall, "local": local, "server": migration["server"]["id"],
                "image": migration["disks"][0]["image"], "id": migration["id"]}
    finally:
        for vm in [vm for vm in session.all(vim.VirtualMachine) if vm.name == name]:
            WaitForTask(vm.Destroy_Task())
        session.close()
        env = clean_env(**lab["env"])
        cli = str(lab["state"] / "venv" / "bin" / "openstack")
        for args in (["server", "delete", "--wait", name], ["flavor", "delete", flavor["id"]],
                     ["aggregate", "delete", "mixed-cloud-migration:%s" % made["instance_uuid"]]):
            subprocess.run([cli, *args], env=env, capture_output=True, check=False, timeout=300)
        for image in openstack_cli(lab, "image", "list"):
            if image["Name"].startswith("mixed-cloud-migration-%s-" % made["instance_uuid"]):
                subprocess.run([cli, "image", "delete", image["ID"]], env=env, capture_output=True, check=False)


def rate(size, seconds):
    return "%7.1f MiB/s" % (size / MIB / seconds) if seconds else "      - MiB/s"


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--random-mib", type=int, default=512)
    parser.add_argument("--repeat", type=int, default=1)
    args = parser.parse_args()
    size, random_bytes = args.size_mib * MIB, args.random_mib * MIB
    env = lab_env()
    state = Path(os.environ.get("LAB_DIR", LAB_ROOT / ".lab"))
    lab = {"env": env, "state": state}
    vcenter = lab_vcenter(lab)
    admin = clean_env(OS_CLIENT_CONFIG_FILE=str(state / "clouds.yaml"), OS_CLOUD="lab-admin", **vcenter)
    print("disk: %d MiB (the lab's guest image, %d MiB of random bytes, zeros to the end); %s" % (
        args.size_mib, args.random_mib, os.uname().nodename))
    for repetition in range(1, args.repeat + 1):
        with tempfile.TemporaryDirectory(dir=os.environ.get("TMPDIR", "/var/tmp")) as work:
            result = one_run(lab, admin, vcenter, Path(work), size, random_bytes)
        timings = result["timings"]
        steps = {name.split(":")[0]: seconds for name, seconds in timings.items()}
        copy_convert = steps.get("download", 0) + steps.get("convert", 0)
        print("\nrun %d of %d (migration %s)" % (repetition, args.repeat, result["id"]))
        print("  %-44s %8s  %s" % ("step", "seconds", "of the disk's capacity"))
        for name in ("download", "convert", "hash_target", "upload", "create_server", "wait_active"):
            copies = name in ("download", "convert", "hash_target", "upload")  # the others move no bytes
            print("  %-44s %8.2f  %s" % ("vm_migrate " + name, steps.get(name, 0),
                                         rate(size, steps.get(name, 0)) if copies else ""))
        print("  %-44s %8.2f  %s" % ("vm_migrate copy + convert", copy_convert, rate(size, copy_convert)))
        for name, seconds in result["local"].items():
            print("  %-44s %8.2f  %s" % ("local " + name, seconds, rate(size, seconds)))
        plain = result["local"]["qemu-img convert raw -> qcow2"]
        print("  copy + convert took %.1fx the plain conversion; the whole task %.1f s" % (
            copy_convert / plain if plain else 0, result["wall"]))
    print("\nwarm mode: not in vm_migrate yet (cold only); no downtime figure")
    return 0


if __name__ == "__main__":
    sys.exit(main())
