"""A disk's staging files: the stream, its saved chunk digests, the resume through them after a crash."""

import hashlib
import os

from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._migration import staging
from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._migration.disk_hashes import (
    StreamHashes, resume)

CHUNK = 1024
DATA = bytes(range(256)) * 40  # ten chunks


def test_a_crashed_download_resumes_through_its_staging_files(tmp_path):
    disk = staging.DiskStaging(str(tmp_path), "uuid-1", 2000)
    hashes = StreamHashes(chunk=CHUNK, size=len(DATA))
    with disk.open_stream(resume=False) as out:
        for start in range(0, 6 * CHUNK + 100, 100):  # 100-byte reads; a crash after 6 chunks and a bit
            block = DATA[start:start + 100]
            out.write(block)
            before = len(hashes.chunks)
            hashes.update(block)
            if len(hashes.chunks) != before:
                disk.save(hashes.saved(), out)
    assert disk.stream.endswith("uuid-1/disk-2000.stream")
    saved = disk.load_saved()
    assert len(saved["chunks"]) == 6
    read_at, f = disk.reader()
    with f:
        again = resume(saved, read_at, size=len(DATA))
    assert again.offset == 6 * CHUNK
    with disk.open_stream(resume=True) as out:
        out.seek(again.offset)
        out.write(DATA[again.offset:])
        again.update(DATA[again.offset:])
    assert again.hexdigests()["sha256"] == hashlib.sha256(DATA).hexdigest()
    with open(disk.stream, "rb") as f:
        assert f.read() == DATA
    disk.remove_download()
    assert not os.path.exists(disk.stream) and disk.load_saved() is None
    staging.remove_all(str(tmp_path), "uuid-1")
    assert not os.path.exists(disk.directory)


def test_no_or_unreadable_staging_restarts_the_disk(tmp_path):
    disk = staging.DiskStaging(str(tmp_path), "uuid-1", 2000)
    assert disk.load_saved() is None
    read_at, f = disk.reader()
    assert f is None and read_at(0, 10) == b""
    os.makedirs(disk.directory)
    with open(disk.saved_path, "w") as f:
        f.write("{half a json")
    assert disk.load_saved() is None
    assert resume(disk.load_saved(), read_at, size=99).offset == 0
