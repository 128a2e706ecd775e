# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The qemu-img client: the only code that runs qemu-img (Debian's qemu-utils, RHEL's qemu-img).

A migration converts each disk's stream (a streamOptimized VMDK from vCenter's lease, or raw
bytes) to the image glance will hold, and reads the image back as a raw disk to hash the
target's bytes. qemu-img cannot write raw to a pipe ("Could not resize file"), so a raw read is
a conversion into a sparse staging file, hashed with its holes fed as zeros. Every failure is
one ``BackendError`` naming the files and qemu-img's own message; a run past its deadline is
killed.
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess

from .._common.errors import BackendError, one_line

STREAM_OPTIMIZED_MAGIC = b"KDMV"
READ_SIZE = 1 << 20
ZEROS = bytes(READ_SIZE)


class QemuImgError(BackendError):
    """qemu-img failed, or could not be run."""


def stream_format(head):
    """The qemu-img format of a lease's stream from its first bytes: vmdk (vCenter's) or raw."""
    return "vmdk" if head[:4] == STREAM_OPTIMIZED_MAGIC else "raw"


def sparse_sha256(path, algorithm="sha256"):
    """The digest of a file's bytes, its holes fed as zeros without reading them (SEEK_DATA/SEEK_HOLE)."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as f:
        size = os.fstat(f.fileno()).st_size
        offset = 0
        while offset < size:
            try:
                data_at = os.lseek(f.fileno(), offset, os.SEEK_DATA)
            except OSError:  # ENXIO: only a hole is left
                data_at = size
            while offset < data_at:  # a hole
                step = min(READ_SIZE, data_at - offset)
                digest.update(ZEROS[:step])
                offset += step
            if offset >= size:
                break
            hole_at = os.lseek(f.fileno(), offset, os.SEEK_HOLE)
            f.seek(offset)
            while offset < hole_at:
                block = f.read(min(READ_SIZE, hole_at - offset))
                if not block:
                    raise QemuImgError("%s shrank while it was hashed." % path)
                digest.update(block)
                offset += len(block)
    return digest.hexdigest()


class QemuImg:
    def __init__(self, executable=None, timeout=3600, run=subprocess.run):
        self.executable = executable or shutil.which("qemu-img")
        if not self.executable:
            raise QemuImgError("qemu-img is not installed on the host that runs the migration: install qemu-utils "
                               "(Debian, Ubuntu) or qemu-img (RHEL).")
        self.timeout, self._run_process = timeout, run

    def _run(self, what, *args):
        command = [self.executable, *args]
        try:
            completed = self._run_process(command, capture_output=True, text=True, timeout=self.timeout, check=False)
        except subprocess.TimeoutExpired:
            raise QemuImgError("qemu-img did not %s within %s s." % (what, self.timeout))
        except OSError as error:
            raise QemuImgError("Cannot run %s to %s: %s." % (self.executable, what, error.strerror or error))
        if completed.returncode != 0:
            raise QemuImgError("qemu-img could not %s (exit %d): %s" % (
                what, completed.returncode, one_line(completed.stderr or completed.stdout or "no message")))
        return completed.stdout

    def info(self, path, image_format=None):
        """{"format", "virtual_size", "actual_size"} of an image."""
        args = ["info", "--output=json"] + (["-f", image_format] if image_format else []) + [path]
        data = json.loads(self._run("read %s" % path, *args))
        return {"format": data.get("format"), "virtual_size": data.get("virtual-size"),
                "actual_size": data.get("actual-size")}

    def convert(self, source, source_format, target, target_format):
        """``qemu-img convert`` with both formats named (never probed: a raw disk could look like an image)."""
        self._run("convert %s (%s) to %s (%s)" % (source, source_format, target, target_format),
                  "convert", "-f", source_format, "-O", target_format, source, target)

    def raw_sha256(self, path, image_format, scratch):
        """The sha256 of the disk an image holds, read back through a sparse raw file at ``scratch``."""
        if image_format == "raw":
            return sparse_sha256(path)
        self.convert(path, image_format, scratch, "raw")
        try:
            return sparse_sha256(scratch)
        finally:
            os.remove(scratch)
