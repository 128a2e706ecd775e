#!/usr/bin/env python3
"""Build the lab's guest image from Debian packages only, without root-only tricks (no loop mounts).

    build_guest_image.py --out DIR

writes, in DIR, ``guest.qcow2`` (for KVM), ``guest.vmdk`` (streamOptimized, for vSphere) and
``guest.json`` (what was built from what, and the data file's content), and prints the
manifest's path. A second run with the same inputs (this directory's files, the Debian
packages' versions) builds nothing.

The disk (32 MiB) has an MBR partition table with one bootable partition, a FAT file system made
with mtools at the partition's offset; SYSLINUX's MBR boot code is in sector 0 and its mtools
installer makes the partition bootable. The FAT holds the kernel of ``linux-image-amd64``, an
initramfs (``busybox-static``, a few drivers of the kernel's package, ``guest-init.sh`` as
/init) and ``lab-data.txt``. The packages are fetched with ``apt-get download`` and unpacked
with ``dpkg-deb``, never installed. docs/lab.md ("The guest image") tells what the guest prints.
"""

from __future__ import annotations

import argparse
import contextlib
import fcntl
import gzip
import hashlib
import json
import os
import struct
import subprocess
import sys
import tempfile
from pathlib import Path

HERE = Path(__file__).resolve().parent
# Every file of the build: a change to any of them is a new image.
SOURCES = ("build_guest_image.py", "guest-init.sh", "guest-power-button.sh", "syslinux.cfg")
KERNEL_PACKAGE = "linux-image-amd64"
BUSYBOX_PACKAGE = "busybox-static"
# The host tools whose versions shape the disk.
TOOLS = ("syslinux", "syslinux-common", "mtools", "qemu-utils")
# SYSLINUX's MBR boot code (syslinux-common): it boots the partition marked active.
MBR_BIN = Path("/usr/lib/syslinux/mbr/mbr.bin")
# The drivers the guest loads (their dependencies come along): its disk on virtio (KVM), IDE or
# SCSI, LSI Logic included (the mixed_cloud role's vmware_adaptertype); FAT with its default
# code page and character set; the ACPI power button and the input events acpid reads.
MODULES = ("virtio_pci", "virtio_blk", "virtio_scsi", "ata_piix", "sd_mod", "mptspi",
           "vfat", "nls_cp437", "nls_ascii", "button", "evdev")
DISK_MIB = 32
# The geometry of every BIOS disk of this size (64 heads x 32 sectors: a cylinder is 1 MiB); the
# partition starts at the second cylinder, 1 MiB in, and runs to the disk's end.
HEADS, SECTORS_PER_TRACK = 64, 32
PARTITION_START = HEADS * SECTORS_PER_TRACK  # in 512-byte sectors
PARTITION_TYPE = 0x0E  # FAT16 with LBA: what mformat makes of a 31 MiB partition
MAX_MIB = 64
DATA_FILE = "lab-data.txt"


class BuildError(Exception):
    """A build step failed; the message says which."""


def run(argv: list[str], **kwargs) -> subprocess.CompletedProcess:
    result = subprocess.run(argv, capture_output=True, text=True, check=False, **kwargs)
    if result.returncode:
        raise BuildError(f"{' '.join(argv)} failed ({result.returncode}): {(result.stderr or result.stdout).strip()}")
    return result


def apt_records(*names: str) -> dict[str, dict[str, str]]:
    """The candidate versions' records (``apt-cache show``) by package, updating the lists once if needed."""
    for attempt in (1, 2):
        result = subprocess.run(["apt-cache", "show", "--no-all-versions", *names], capture_output=True, text=True,
                                check=False)
        records = {}
        for paragraph in result.stdout.split("\n\n"):
            fields = dict(line.split(": ", 1) for line in paragraph.splitlines() if ": " in line and line[0] != " ")
            if "Package" in fields:
                records[fields["Package"]] = fields
        if all(name in records for name in names):
            return records
        if attempt == 1:
            run(["apt-get", "update", "-qq"])
    raise BuildError(f"apt-cache knows not all of {', '.join(names)}: is Debian's archive in the apt sources?")


def packages() -> dict[str, str]:
    """The packages the image is made of, by name and version: the kernel the metapackage points to."""
    records = apt_records(KERNEL_PACKAGE, BUSYBOX_PACKAGE)
    kernel = records[KERNEL_PACKAGE]["Depends"].split(",")[0].split("|")[0].split("(")[0].strip()
    return {kernel: apt_records(kernel)[kernel]["Version"], BUSYBOX_PACKAGE: records[BUSYBOX_PACKAGE]["Version"]}


def tool_versions() -> dict[str, str]:
    result = subprocess.run(["dpkg-query", "-W", "-f", "${Package} ${Version}\\n", *TOOLS], capture_output=True,
                            text=True, check=False)
    versions = dict(line.split(" ", 1) for line in result.stdout.splitlines() if " " in line)
    missing = [tool for tool in TOOLS if not versions.get(tool)]
    if missing:
        raise BuildError(f"missing {', '.join(missing)}: tests/setup.sh installs them (bindep.txt, profile lab)")
    return versions


def inputs() -> dict:
    return {
        "sources": {name: hashlib.sha256((HERE / name).read_bytes()).hexdigest() for name in SOURCES},
        "packages": packages(),
        "tools": tool_versions(),
    }


def digest(values: dict) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()


def download(names: dict[str, str], into: Path) -> dict[str, Path]:
    wanted = [f"{name}={version}" for name, version in names.items()]
    try:
        run(["apt-get", "download", "-q", *wanted], cwd=into)
    except BuildError:
        run(["apt-get", "update", "-qq"])  # lists older than the archive: the version is gone
        run(["apt-get", "download", "-q", *wanted], cwd=into)
    debs = {}
    for name in names:
        (deb,) = into.glob(f"{name}_*.deb")
        debs[name] = deb
    return debs


def modinfo_depends(module: Path) -> list[str]:
    """The ``depends=`` of a kernel module's .modinfo ELF section (what depmod reads)."""
    data = module.read_bytes()
    if data[:4] != b"\x7fELF" or data[4] != 2:
        raise BuildError(f"{module} is not a 64-bit ELF module")
    shoff, = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum, shstrndx = struct.unpack_from("<HHH", data, 0x3A)

    def section(index: int) -> tuple[int, int, int]:
        name, _type, _flags, _addr, offset, size = struct.unpack_from("<IIQQQQ", data, shoff + index * shentsize)
        return name, offset, size

    _, strings_offset, _ = section(shstrndx)
    for index in range(shnum):
        name, offset, size = section(index)
        if data[strings_offset + name:].split(b"\0", 1)[0] == b".modinfo":
            for entry in data[offset:offset + size].split(b"\0"):
                if entry.startswith(b"depends="):
                    return [dep for dep in entry[len(b"depends="):].decode().split(",") if dep]
            return []
    raise BuildError(f"{module} has no .modinfo section")


def module_order(tree: Path) -> list[tuple[str, Path]]:
    """MODULES and their dependencies, each after what it depends on."""
    files = {path.name[:-len(".ko")]: path for path in tree.rglob("*.ko")}
    order: list[tuple[str, Path]] = []

    def add(name: str) -> None:
        key = name if name in files else name.replace("_", "-")
        if key not in files:
            raise BuildError(f"the kernel package has no module {name}")
        if any(done == key for done, _ in order):
            return
        for dep in modinfo_depends(files[key]):
            add(dep)
        order.append((key, files[key]))

    for name in MODULES:
        add(name)
    return order


def cpio_newc(entries: list[tuple[str, int, bytes, int]]) -> bytes:
    """An initramfs archive ("newc" cpio) of (path, mode, data, rdev) entries, owned by root, dated 0."""
    out = bytearray()
    for ino, (name, mode, data, rdev) in enumerate([*entries, ("TRAILER!!!", 0, b"", 0)], start=1):
        encoded = name.encode() + b"\0"
        fields = (ino, mode, 0, 0, 1, 0, len(data), 0, 0, rdev >> 8, rdev & 0xFF, len(encoded), 0)
        out += b"070701" + b"".join(b"%08x" % value for value in fields) + encoded
        out += b"\0" * (-len(out) % 4) + data
        out += b"\0" * (-len(out) % 4)
    return bytes(out)


def initramfs(kernel_root: Path, busybox_root: Path) -> tuple[bytes, list[str]]:
    (tree,) = (kernel_root / "lib" / "modules").iterdir()
    modules = module_order(tree)
    directory, regular, executable, chardev = 0o040755, 0o100644, 0o100755, 0o020600
    entries = [(name, directory, b"", 0) for name in ("bin", "dev", "etc", "etc/acpi", "etc/acpi/PWRF",
                                                        "lib", "lib/modules", "mnt", "proc", "sys")]
    entries += [
        ("dev/console", chardev, b"", (5 << 8) | 1),  # the kernel opens it before /init runs
        ("bin/busybox", executable, (busybox_root / "bin" / "busybox").read_bytes(), 0),
        ("init", executable, (HERE / "guest-init.sh").read_bytes(), 0),
        ("etc/acpi/PWRF/00000080", executable, (HERE / "guest-power-button.sh").read_bytes(), 0),
        ("etc/modules", regular, "".join(f"{name}\n" for name, _ in modules).encode(), 0),
    ]
    entries += [(f"lib/modules/{name}.ko", regular, path.read_bytes(), 0) for name, path in modules]
    return gzip.compress(cpio_newc(entries), compresslevel=9, mtime=0), [name for name, _ in modules]


def chs(lba: int) -> bytes:
    """A sector's cylinder/head/sector address as an MBR partition entry holds it."""
    cylinder, rest = divmod(lba, HEADS * SECTORS_PER_TRACK)
    head, sector = divmod(rest, SECTORS_PER_TRACK)
    return bytes([head, (sector + 1) | (cylinder >> 8 & 0x03) << 6, cylinder & 0xFF])


def master_boot_record(sectors: int) -> bytes:
    """Sector 0: SYSLINUX's boot code, a fixed disk signature, and one active FAT partition (1 MiB to the end).

    Nova's libvirt driver checks this table (oslo.utils' format inspector: each entry's boot flag
    0x00 or 0x80, at least one partition) before it boots the image.
    """
    code = MBR_BIN.read_bytes()
    if len(code) != 440:
        raise BuildError(f"{MBR_BIN} is {len(code)} bytes, not the 440 of an MBR's boot code")
    last = sectors - 1
    entry = bytes([0x80]) + chs(PARTITION_START) + bytes([PARTITION_TYPE]) + chs(last)
    entry += struct.pack("<II", PARTITION_START, sectors - PARTITION_START)
    return code + b"LABG" + b"\0\0" + entry + bytes(3 * 16) + b"\x55\xaa"


def disk(raw: Path, files: dict[str, Path]) -> None:
    """The partitioned disk; the FAT (its files, then SYSLINUX: ldlinux.sys and ldlinux.c32) in partition 1."""
    env = dict(os.environ, MTOOLS_SKIP_CHECK="1")
    sectors = DISK_MIB << 11
    offset = PARTITION_START * 512
    with raw.open("wb") as handle:
        handle.truncate(sectors * 512)
        handle.write(master_boot_record(sectors))
    image = f"{raw}@@{offset}"  # mtools' image-at-offset syntax: the partition, without a loop device
    # The partition's cylinders; its first sector's LBA in the FAT's hidden-sectors field.
    run(["mformat", "-i", image, "-t", str(DISK_MIB - 1), "-h", str(HEADS), "-s", str(SECTORS_PER_TRACK),
         "-H", str(PARTITION_START), "-v", "LABGUEST", "::"], env=env)
    for name, path in files.items():
        run(["mcopy", "-i", image, str(path), f"::/{name}"], env=env)
    run(["syslinux", "--install", "--offset", str(offset), str(raw)], env=env)


def build(out: Path, log=print) -> dict:
    """Build into ``out`` unless the image there was built from the same inputs; return the manifest."""
    out.mkdir(parents=True, exist_ok=True)
    manifest_path = out / "guest.json"
    with (out / ".lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # one build at a time per directory
        wanted = inputs()
        key = digest(wanted)
        with contextlib.suppress(FileNotFoundError, ValueError):
            manifest = json.loads(manifest_path.read_text())
            if manifest["inputs_digest"] == key and all(Path(manifest[f]).exists() for f in ("qcow2", "vmdk")):
                return manifest
        log(f"guest image: building in {out} from {', '.join(f'{n} {v}' for n, v in wanted['packages'].items())}")
        with tempfile.TemporaryDirectory(dir=out, prefix=".build-") as scratch:
            manifest = _build(Path(scratch), out, wanted, key)
        manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
        return manifest


def _build(scratch: Path, out: Path, wanted: dict, key: str) -> dict:
    debs = download(wanted["packages"], scratch)
    kernel_name, = (name for name in wanted["packages"] if name != BUSYBOX_PACKAGE)
    roots = {}
    for name, deb in debs.items():
        roots[name] = scratch / name
        run(["dpkg-deb", "-x", str(deb), str(roots[name])])
    (vmlinuz,) = (roots[kernel_name] / "boot").glob("vmlinuz-*")
    initrd, modules = initramfs(roots[kernel_name], roots[BUSYBOX_PACKAGE])
    (scratch / "initrd.gz").write_bytes(initrd)
    data = f"lab-guest-image {key[:16]}"
    (scratch / DATA_FILE).write_text(data + "\n")
    raw = scratch / "guest.raw"
    disk(raw, {"vmlinuz": vmlinuz, "initrd.gz": scratch / "initrd.gz", "syslinux.cfg": HERE / "syslinux.cfg",
               DATA_FILE: scratch / DATA_FILE})
    outputs = {"qcow2": out / "guest.qcow2", "vmdk": out / "guest.vmdk"}
    run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(raw), str(scratch / "guest.qcow2")])
    run(["qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized", str(raw),
         str(scratch / "guest.vmdk")])
    for kind, path in outputs.items():
        size = (scratch / path.name).stat().st_size
        if size > MAX_MIB << 20:
            raise BuildError(f"the {kind} image is {size >> 20} MiB, over {MAX_MIB} MiB")
        os.replace(scratch / path.name, path)
    return {
        "inputs_digest": key,
        "inputs": wanted,
        "qcow2": str(outputs["qcow2"]),
        "vmdk": str(outputs["vmdk"]),
        "virtual_size": DISK_MIB << 20,
        "data": data,
        "modules": modules,
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--out", type=Path, required=True, help="where the images and guest.json go")
    args = parser.parse_args()
    try:
        build(args.out.resolve(), log=lambda line: print(line, file=sys.stderr))
    except BuildError as error:
        print(f"guest image: {error}", file=sys.stderr)
        return 1
    print(args.out.resolve() / "guest.json")
    return 0


if __name__ == "__main__":
    sys.exit(main())
