# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Hashes of a disk's bytes: streamed in order, resumable at a chunk boundary, and the checks that prove a copy.

Python's hashlib cannot save a digest's state, so a sha256 over a whole disk cannot be
carried across runs by itself. A download therefore keeps, beside the staged bytes, a sha256
of every whole ``CHUNK`` (``StreamHashes.saved()``, written after the chunk's bytes are on
disk). An interrupted copy resumes (``resume``) by re-reading the staged prefix locally, chunk
by chunk: the chunks whose bytes still hash as recorded feed the whole-stream digests (and
any sink, such as the streamOptimized reader) again, and the download goes on with a ``Range`` request from the first chunk that does not (missing,
short or changed). Re-reading the prefix costs local disk reads, not the network; a run on
another controller, or one whose staging files are gone, restarts the disk from 0. A resume
is only valid for the same stream: ``resume`` refuses saved state of another size (a new
lease whose stream differs), and the lease manifest's sha1 at the end is the arbiter.

The proof of a copy (``disk_proof``): the stream's sha1 equals the lease manifest's (vCenter
vouches for the bytes it served), and the sha256 of the source disk's bytes equals the sha256
of the target image's bytes read back as a raw disk.
"""

from __future__ import annotations

import hashlib

from .._common.errors import BackendError

CHUNK = 64 << 20
READ_SIZE = 1 << 20


class DiskMismatch(BackendError):
    """A disk's bytes are not what they must be: its copy is to be done again."""


class RangesRefused(BackendError):
    """A disk URL answered a read from an offset with the whole stream (HTTP 200): the server (vCenter
    may serve a streamOptimized stream as it makes it) has no ranges. That disk's copy starts again at 0."""

    def __init__(self, message, offset):
        super().__init__(message)
        self.offset = offset


class StreamHashes:
    """Digests of one stream fed in order: whole-stream digests by algorithm, and a sha256 per whole chunk."""

    def __init__(self, algorithms=("sha256",), chunk=CHUNK, size=None, sinks=()):
        if chunk <= 0:
            raise ValueError("chunk must be positive")
        self.algorithms, self.chunk, self.size = tuple(algorithms), chunk, size
        self.sinks = tuple(sinks)  # also fed every byte in order: e.g. stream_optimized.RawDisk.update
        self._whole = {name: hashlib.new(name) for name in self.algorithms}
        self._piece = hashlib.sha256()
        self._piece_len = 0
        self.offset = 0
        self.chunks = []

    def update(self, data):
        view = memoryview(data)
        if self.size is not None and self.offset + len(view) > self.size:
            raise DiskMismatch("The stream is longer than its %d bytes." % self.size)
        for digest in self._whole.values():
            digest.update(view)
        for sink in self.sinks:
            sink(view)
        while view:
            take = min(len(view), self.chunk - self._piece_len)
            self._piece.update(view[:take])
            self._piece_len += take
            view = view[take:]
            if self._piece_len == self.chunk:
                self.chunks.append(self._piece.hexdigest())
                self._piece, self._piece_len = hashlib.sha256(), 0
        self.offset += len(data)

    def hexdigests(self):
        """The whole-stream digests of what was fed so far (the stream's, once all of it was)."""
        return {name: digest.hexdigest() for name, digest in self._whole.items()}

    def saved(self):
        """What to keep beside the staged bytes to resume: plain data, JSON-ready."""
        return {"algorithms": list(self.algorithms), "chunk": self.chunk, "size": self.size,
                "chunks": list(self.chunks)}

    @property
    def resumable_offset(self):
        """Where a resumed download would start from: the end of the last whole chunk."""
        return len(self.chunks) * self.chunk


def _good_prefix(saved, read_at):
    """How many bytes from 0 are still staged as the saved chunk digests say (whole chunks)."""
    chunk = saved["chunk"]
    for index, expected in enumerate(saved["chunks"]):
        piece, done = hashlib.sha256(), 0
        while done < chunk:
            data = read_at(index * chunk + done, min(READ_SIZE, chunk - done))
            if not data:
                return index * chunk
            piece.update(data)
            done += len(data)
        if piece.hexdigest() != expected:
            return index * chunk
    return len(saved["chunks"]) * chunk


def resume(saved, read_at, size=None, sinks=()):
    """A StreamHashes over the staged prefix that still matches ``saved``; its ``offset`` is where to go on.

    ``read_at(offset, length)`` reads the staging file (fewer bytes at its end, none past it).
    ``size`` is the stream's size now (the new lease's ``fileSize``): another size than the
    saved one, or no saved state, restarts the stream at 0. The prefix is read twice: once to
    check its chunks, once to feed the digests and ``sinks`` (a streamOptimized reader) again.
    """
    if not saved or (size is not None and saved.get("size") not in (None, size)):
        return StreamHashes(saved.get("algorithms", ("sha256",)) if saved else ("sha256",),
                            saved.get("chunk", CHUNK) if saved else CHUNK, size, sinks)
    hashes = StreamHashes(saved["algorithms"], saved["chunk"], size if size is not None else saved.get("size"), sinks)
    good = _good_prefix(saved, read_at)
    while hashes.offset < good:
        data = read_at(hashes.offset, min(READ_SIZE, good - hashes.offset))
        if not data:
            raise DiskMismatch("The staged stream changed while it was read back.")
        hashes.update(data)
    return hashes


def check_manifest(key, stream, manifest):
    """The stream's sha1 and size against the lease manifest's entry for its device URL key."""
    entry = manifest.get(key)
    if entry is None:
        listed = ", ".join(sorted(manifest)) or "none"
        raise DiskMismatch("The lease manifest has no entry for %s (it lists %s)." % (key, listed))
    if entry.get("size") is not None and int(entry["size"]) != stream["size"]:
        raise DiskMismatch("Disk %s: %d bytes downloaded, the lease manifest says %s; its copy starts again." % (
            key, stream["size"], entry["size"]))
    if entry["sha1"].lower() != stream["sha1"].lower():
        raise DiskMismatch("Disk %s: the download's sha1 %s is not the lease manifest's %s; its copy starts again." % (
            key, stream["sha1"], entry["sha1"]))


def disk_proof(key, source_sha256, target_sha256):
    """One disk's line of the result's proof; a difference is a DiskMismatch."""
    row = {"disk": key, "sha256_source": source_sha256, "sha256_target": target_sha256,
           "equal": bool(source_sha256) and source_sha256 == target_sha256}
    if not row["equal"]:
        raise DiskMismatch("Disk %s: the sha256 of the target's bytes (%s) is not the source disk's (%s); nothing "
                           "is uploaded and its copy starts again." % (key, target_sha256, source_sha256), proof=row)
    return row


def proof_of(record):
    """Every disk's proof as the record holds it, for the result: a finished migration proves each disk."""
    keys = [key for key in (record.get("disks") or "").split(",") if key]
    return [{"disk": key, "sha256_source": record.get("disk.%s.sha256" % key),
             "sha256_target": record.get("disk.%s.target_sha256" % key),
             "equal": bool(record.get("disk.%s.sha256" % key))
             and record.get("disk.%s.sha256" % key) == record.get("disk.%s.target_sha256" % key)}
            for key in keys]
