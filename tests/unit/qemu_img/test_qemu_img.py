"""The qemu-img client on small images: conversion, the target's raw bytes hashed, failures in one line."""

import hashlib
import random
import shutil

import pytest

from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._qemu_img import client
from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._qemu_img.client import QemuImg, QemuImgError

MIB = 1 << 20
needs_qemu_img = pytest.mark.skipif(shutil.which("qemu-img") is None, reason="qemu-img is not installed")


def sparse_disk(path, size=8 * MIB, writes=((3 * MIB + 5, 70000), (7 * MIB, 4096))):
    """A sparse raw disk with some random bytes, and the bytes it holds."""
    data = bytearray(size)
    rng = random.Random(16)
    with open(path, "wb") as f:
        f.truncate(size)
        for offset, length in writes:
            chunk = rng.randbytes(length)
            f.seek(offset)
            f.write(chunk)
            data[offset:offset + length] = chunk
    return bytes(data)


def test_a_sparse_file_hashes_as_its_bytes(tmp_path, monkeypatch):
    monkeypatch.setattr(client, "READ_SIZE", 4096)
    monkeypatch.setattr(client, "ZEROS", bytes(4096))
    data = sparse_disk(tmp_path / "d.raw")
    assert client.sparse_sha256(str(tmp_path / "d.raw")) == hashlib.sha256(data).hexdigest()
    (tmp_path / "hole").write_bytes(b"")
    with open(tmp_path / "hole", "wb") as f:
        f.truncate(3 * MIB + 1)
    assert client.sparse_sha256(str(tmp_path / "hole")) == hashlib.sha256(bytes(3 * MIB + 1)).hexdigest()


def test_streams_tell_their_format():
    assert client.stream_format(b"KDMV\x03\x00") == "vmdk"
    assert client.stream_format(b"\xeb\x63\x90") == "raw"


@needs_qemu_img
def test_a_disk_converted_to_qcow2_reads_back_as_the_same_bytes(tmp_path):
    data = sparse_disk(tmp_path / "d.raw")
    qemu = QemuImg()
    qemu.convert(str(tmp_path / "d.raw"), "raw", str(tmp_path / "d.qcow2"), "qcow2")
    assert qemu.info(str(tmp_path / "d.qcow2"))["format"] == "qcow2"
    assert qemu.info(str(tmp_path / "d.qcow2"))["virtual_size"] == len(data)
    scratch = tmp_path / "check.raw"
    assert qemu.raw_sha256(str(tmp_path / "d.qcow2"), "qcow2", str(scratch)) == hashlib.sha256(data).hexdigest()
    assert not scratch.exists()
    assert qemu.raw_sha256(str(tmp_path / "d.raw"), "raw", str(scratch)) == hashlib.sha256(data).hexdigest()


@needs_qemu_img
def test_a_failure_is_one_line_naming_the_files(tmp_path):
    (tmp_path / "not.vmdk").write_bytes(b"no vmdk at all" * 100)
    with pytest.raises(QemuImgError) as raised:
        QemuImg().convert(str(tmp_path / "not.vmdk"), "vmdk", str(tmp_path / "out.raw"), "raw")
    message = str(raised.value)
    assert message.startswith("qemu-img could not convert %s (vmdk) to %s (raw) (exit 1): " % (
        tmp_path / "not.vmdk", tmp_path / "out.raw"))
    assert "\n" not in message


def test_no_qemu_img_says_what_to_install(monkeypatch):
    monkeypatch.setattr(client.shutil, "which", lambda name: None)
    with pytest.raises(QemuImgError, match="install qemu-utils \\(Debian, Ubuntu\\) or qemu-img \\(RHEL\\)"):
        QemuImg()


def test_a_run_past_its_deadline(tmp_path):
    def slow(command, **kwargs):
        raise client.subprocess.TimeoutExpired(command, kwargs["timeout"])

    with pytest.raises(QemuImgError, match="qemu-img did not convert .* within 5 s."):
        QemuImg("/usr/bin/qemu-img", timeout=5, run=slow).convert("a", "raw", "b", "qcow2")
