"""Hashes of a disk's bytes: streamed, resumed from the staged prefix, and checked against the manifest and target."""

import hashlib
import random

import pytest

from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._migration import disk_hashes
from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._migration.disk_hashes import (
    DiskMismatch, StreamHashes, resume)

CHUNK = 4096
DATA = random.Random(16).randbytes(10 * CHUNK + 123)  # ten whole chunks and a tail


def feed(hashes, data, sizes=(1, 1000, 4096, 7000)):
    """Feeds data in uneven pieces, as a download's reads come."""
    offset, i = 0, 0
    while offset < len(data):
        size = sizes[i % len(sizes)]
        hashes.update(data[offset:offset + size])
        offset, i = offset + size, i + 1
    return hashes


def reader(staged):
    return lambda offset, length: staged[offset:offset + length]


def test_the_whole_stream_and_each_whole_chunk_are_hashed():
    hashes = feed(StreamHashes(("sha256", "sha1"), chunk=CHUNK, size=len(DATA)), DATA)
    assert hashes.hexdigests() == {"sha256": hashlib.sha256(DATA).hexdigest(), "sha1": hashlib.sha1(DATA).hexdigest()}
    assert hashes.chunks == [hashlib.sha256(DATA[i:i + CHUNK]).hexdigest() for i in range(0, 10 * CHUNK, CHUNK)]
    assert hashes.offset == len(DATA) and hashes.resumable_offset == 10 * CHUNK
    assert hashes.saved() == {"algorithms": ["sha256", "sha1"], "chunk": CHUNK, "size": len(DATA),
                              "chunks": hashes.chunks}


def test_a_stream_longer_than_its_size_is_refused():
    hashes = StreamHashes(chunk=CHUNK, size=10)
    with pytest.raises(DiskMismatch, match="longer than its 10 bytes"):
        hashes.update(b"x" * 11)


def interrupted(at):
    """The state an interrupted download leaves: the bytes staged so far and the saved chunk digests."""
    hashes = feed(StreamHashes(("sha256", "sha1"), chunk=CHUNK, size=len(DATA)), DATA[:at])
    return bytearray(DATA[:at]), hashes.saved()


@pytest.mark.parametrize("at", [0, 1, CHUNK - 1, CHUNK, 3 * CHUNK + 17, 10 * CHUNK, len(DATA) - 1])
def test_a_resumed_download_ends_with_the_hashes_of_an_uninterrupted_one(at, monkeypatch):
    monkeypatch.setattr(disk_hashes, "READ_SIZE", 1000)  # chunks re-read in several pieces
    staged, saved = interrupted(at)
    hashes = resume(saved, reader(bytes(staged)), size=len(DATA))
    assert hashes.offset == at // CHUNK * CHUNK  # from the last whole chunk
    feed(hashes, DATA[hashes.offset:])  # the rest, as a Range request from there brings it
    assert hashes.hexdigests() == {"sha256": hashlib.sha256(DATA).hexdigest(), "sha1": hashlib.sha1(DATA).hexdigest()}


def test_a_changed_or_missing_staged_chunk_is_downloaded_again_from_there():
    staged, saved = interrupted(8 * CHUNK + 5)
    staged[3 * CHUNK + 100] ^= 1
    hashes = resume(saved, reader(bytes(staged)), size=len(DATA))
    assert hashes.offset == 3 * CHUNK and len(hashes.chunks) == 3
    feed(hashes, DATA[hashes.offset:])
    assert hashes.hexdigests()["sha256"] == hashlib.sha256(DATA).hexdigest()
    truncated = resume(saved, reader(bytes(staged[:5 * CHUNK - 1])), size=len(DATA))
    assert truncated.offset == 3 * CHUNK  # the first bad chunk wins over the truncation
    gone = resume(saved, reader(b""), size=len(DATA))
    assert gone.offset == 0 and gone.chunks == []


def test_saved_state_of_another_stream_or_none_restarts_at_zero():
    saved = interrupted(5 * CHUNK)[1]
    other = resume(saved, reader(DATA), size=len(DATA) + 1)  # the new lease serves another stream
    assert other.offset == 0 and other.algorithms == ("sha256", "sha1") and other.size == len(DATA) + 1
    fresh = resume(None, reader(DATA), size=99)
    assert fresh.offset == 0 and fresh.algorithms == ("sha256",) and fresh.chunk == disk_hashes.CHUNK


MANIFEST = {"/vm-42/VirtualLsiLogicController0:0": {"sha1": "AB" * 20, "size": 100}}
KEY = "/vm-42/VirtualLsiLogicController0:0"


def test_the_stream_is_checked_against_the_lease_manifest():
    disk_hashes.check_manifest(KEY, {"sha1": "ab" * 20, "size": 100}, MANIFEST)
    with pytest.raises(DiskMismatch, match="the download's sha1 cd.* is not the lease manifest's AB"):
        disk_hashes.check_manifest(KEY, {"sha1": "cd" * 20, "size": 100}, MANIFEST)
    with pytest.raises(DiskMismatch, match="99 bytes downloaded, the lease manifest says 100"):
        disk_hashes.check_manifest(KEY, {"sha1": "ab" * 20, "size": 99}, MANIFEST)
    with pytest.raises(DiskMismatch, match="no entry for /vm-42/x \\(it lists /vm-42/VirtualLsiLogicController0:0\\)"):
        disk_hashes.check_manifest("/vm-42/x", {"sha1": "ab" * 20, "size": 100}, MANIFEST)


def test_equal_hashes_prove_a_disk():
    assert disk_hashes.disk_proof("2000", "a" * 64, "a" * 64) == {"disk": "2000", "sha256_source": "a" * 64,
                                                                  "sha256_target": "a" * 64, "equal": True}
    with pytest.raises(DiskMismatch) as raised:
        disk_hashes.disk_proof("2000", "a" * 64, "b" * 64)
    assert raised.value.details["proof"]["equal"] is False
    with pytest.raises(DiskMismatch):
        disk_hashes.disk_proof("2000", None, None)


def test_the_result_proves_each_disk_from_the_record():
    record = {"disks": "2000,2001", "disk.2000.sha256": "a" * 64, "disk.2000.target_sha256": "a" * 64,
              "disk.2001.sha256": "c" * 64}
    assert disk_hashes.proof_of(record) == [
        {"disk": "2000", "sha256_source": "a" * 64, "sha256_target": "a" * 64, "equal": True},
        {"disk": "2001", "sha256_source": "c" * 64, "sha256_target": None, "equal": False}]


def test_a_resume_feeds_the_staged_prefix_to_the_sinks_again():
    staged, saved = interrupted(4 * CHUNK + 9)
    seen = bytearray()
    hashes = resume(saved, reader(bytes(staged)), size=len(DATA), sinks=[seen.extend])
    feed(hashes, DATA[hashes.offset:])
    assert bytes(seen) == DATA  # every byte once, in order
