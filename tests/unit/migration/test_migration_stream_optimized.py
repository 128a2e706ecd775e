"""The streamOptimized VMDK reader: the disk's raw bytes while the stream arrives, checked against qemu-img's VMDKs."""

import hashlib
import random
import shutil
import struct
import subprocess
import zlib

import pytest

from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._migration import stream_optimized
from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._migration.stream_optimized import (
    RawDisk, StreamError)

MIB = 1 << 20
needs_qemu_img = pytest.mark.skipif(shutil.which("qemu-img") is None, reason="qemu-img is not installed")


def raw_disk(path, size, writes):
    data = bytearray(size)
    rng = random.Random(16)
    for offset, length in writes:
        data[offset:offset + length] = rng.randbytes(length)
    with open(path, "wb") as f:
        f.write(data)
    return bytes(data)


def decoded(stream, sizes=(1, 511, 4096, 65536, 100000)):
    digest, disk, offset, i = hashlib.sha256(), None, 0, 0
    disk = RawDisk(digest.update)
    while offset < len(stream):
        size = sizes[i % len(sizes)]
        disk.update(stream[offset:offset + size])
        offset, i = offset + size, i + 1
    disk.finish()
    return digest.hexdigest(), disk


@needs_qemu_img
@pytest.mark.parametrize("size, writes", [
    (4 * MIB, [(0, 1000), (3 * MIB + 17, 70000)]),
    (3 * MIB + 512, [(3 * MIB, 512)]),  # a capacity that is no whole number of grains, data in the last grain
    (2 * MIB, []),  # an empty disk: no grain at all
])
def test_qemu_imgs_stream_optimized_vmdks_decode_to_their_disks_bytes(tmp_path, size, writes):
    data = raw_disk(tmp_path / "d.raw", size, writes)
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized",
                    str(tmp_path / "d.raw"), str(tmp_path / "d.vmdk")], check=True)
    stream = (tmp_path / "d.vmdk").read_bytes()
    assert stream[:4] == b"KDMV"
    sha256, disk = decoded(stream)
    assert sha256 == hashlib.sha256(data).hexdigest()
    assert disk.capacity == size and disk.emitted == size and disk.ended


def stream_of(grains, capacity_sectors=256, grain_sectors=128):
    """A minimal streamOptimized stream: header, grains (lba, bytes), end-of-stream marker."""
    header = stream_optimized.HEADER.pack(b"KDMV", 3, 3 | stream_optimized.FLAG_COMPRESSED |
                                          stream_optimized.FLAG_MARKERS, capacity_sectors, grain_sectors, 1, 0, 512,
                                          0, 2 ** 64 - 1, 1, 0, b"\n \r\n", 1)
    out = bytearray(header.ljust(512, b"\0"))
    for lba, data in grains:
        compressed = zlib.compress(data)
        record = struct.pack("<QI", lba, len(compressed)) + compressed
        out += record.ljust(-(-len(record) // 512) * 512, b"\0")
    out += bytes(512)  # end of stream: lba 0, size 0, type 0
    return bytes(out)


def test_grains_out_of_order_or_a_stream_cut_short_are_refused():
    grain = bytes(range(256)) * 256  # 64 KiB
    ok = decoded(stream_of([(0, grain), (128, grain)]))[0]
    assert ok == hashlib.sha256(grain + grain).hexdigest()
    with pytest.raises(StreamError, match="grains are not in order"):
        decoded(stream_of([(128, grain), (0, grain)]))
    with pytest.raises(StreamError, match="without its end-of-stream marker"):
        decoded(stream_of([(0, grain)])[:-512])
    with pytest.raises(StreamError, match="past the disk's capacity"):
        decoded(stream_of([(256, grain)]))
    with pytest.raises(StreamError, match="no VMDK"):
        decoded(b"\0" * 1024)
    with pytest.raises(StreamError, match="before its VMDK header"):
        decoded(b"KDMV")


@needs_qemu_img
def test_an_interrupted_stream_resumes_and_its_raw_bytes_hash_as_the_disk(tmp_path):
    from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._migration.disk_hashes import (
        StreamHashes, resume)

    data = raw_disk(tmp_path / "d.raw", 4 * MIB, [(5000, 300000), (3 * MIB, 9000)])
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized",
                    str(tmp_path / "d.raw"), str(tmp_path / "d.vmdk")], check=True)
    stream = (tmp_path / "d.vmdk").read_bytes()
    first = StreamHashes(chunk=4096, size=len(stream), sinks=[RawDisk(lambda b: None).update])
    first.update(stream[:len(stream) // 2])  # the run dies here
    raw = hashlib.sha256()
    disk = RawDisk(raw.update)
    again = resume(first.saved(), lambda offset, length: stream[:len(stream) // 2][offset:offset + length],
                   size=len(stream), sinks=[disk.update])
    again.update(stream[again.offset:])
    disk.finish()
    assert raw.hexdigest() == hashlib.sha256(data).hexdigest()
    assert again.hexdigests()["sha256"] == hashlib.sha256(stream).hexdigest()
