# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A streamOptimized VMDK read as it downloads: the disk's raw bytes, in order, for hashing.

vCenter's export lease serves each disk as a streamOptimized VMDK (VMware's Virtual Disk
Format 5.0): a sparse extent header, the descriptor, then markers - each non-zero grain
deflate-compressed behind its marker (LBA, compressed size), grain tables, the grain
directory, a footer and an end-of-stream marker. ``RawDisk`` parses the stream as it is fed
and hands ``sink`` the disk's bytes from offset 0 to its capacity (zeros for the grains left
out), so the sha256 of the source disk's bytes is computed during the download, by a decoder
of its own: independent of qemu-img, whose vmdk driver converts the same stream and whose
qcow2 driver reads the target back. Grains must come in increasing LBA order, as vCenter
and qemu-img write them; a stream that goes back is refused (it cannot be hashed in one pass).
"""

from __future__ import annotations

import struct
import zlib

from .._common.errors import BackendError

SECTOR = 512
MAGIC = b"KDMV"
HEADER = struct.Struct("<4sIIQQQQIQQQB4sH")
MARKER = struct.Struct("<QI")
MARKER_TYPES = {0: "end of stream", 1: "grain table", 2: "grain directory", 3: "footer"}
FLAG_COMPRESSED, FLAG_MARKERS = 1 << 16, 1 << 17
GD_AT_END = 2 ** 64 - 1
ZEROS = bytes(1 << 20)


class StreamError(BackendError):
    """The stream is not a streamOptimized VMDK this reader can follow."""


def _round_up(value):
    return -(-value // SECTOR) * SECTOR


class RawDisk:
    """Feed it the stream's bytes in order; it sends the disk's raw bytes to ``sink`` in order."""

    def __init__(self, sink):
        self.sink = sink
        self.capacity = self.grain_size = None
        self.emitted = 0  # raw bytes sent to sink
        self.ended = False
        self._buffer = bytearray()
        self._skip = 0  # stream bytes to pass over (descriptor, metadata)
        self._gd_at_end = True
        self._stream_offset = 0

    def update(self, data):
        if self.ended:
            return
        view = memoryview(data)
        if self._skip:
            passed = min(self._skip, len(view))
            self._skip -= passed
            self._stream_offset += passed
            view = view[passed:]
        self._buffer += view
        self._parse()

    def _take(self, count):
        data = bytes(self._buffer[:count])
        del self._buffer[:count]
        self._stream_offset += count
        return data

    def _pass_over(self, count):
        passed = min(count, len(self._buffer))
        del self._buffer[:passed]
        self._stream_offset += passed
        self._skip = count - passed

    def _parse(self):
        while not self.ended and not self._skip:
            if self.capacity is None:
                if len(self._buffer) < SECTOR:
                    return
                self._header(self._take(SECTOR))
                continue
            if len(self._buffer) < MARKER.size + 4:
                return
            lba, size = MARKER.unpack_from(self._buffer)
            if size:
                total = _round_up(MARKER.size + size)
                if len(self._buffer) < total:
                    return
                record = self._take(total)
                self._grain(lba, record[MARKER.size:MARKER.size + size])
                continue
            if len(self._buffer) < SECTOR:
                return
            marker_type = struct.unpack_from("<I", self._buffer, MARKER.size)[0]
            if marker_type not in MARKER_TYPES:
                raise StreamError("Unknown marker type %d at byte %d of the stream." % (
                    marker_type, self._stream_offset))
            self._take(SECTOR)
            if marker_type == 0:
                self._zeros(self.capacity)
                self.ended = True
                return
            self._pass_over(lba * SECTOR)

    def _header(self, sector):
        (magic, version, flags, capacity, grain_size, _descriptor_offset, _descriptor_size, _gtes, _rgd, gd,
         overhead, _unclean, _chars, compression) = HEADER.unpack_from(sector)
        if magic != MAGIC:
            raise StreamError("The stream is no VMDK (its first bytes are %r, not KDMV)." % magic)
        if not flags & FLAG_MARKERS or not flags & FLAG_COMPRESSED or compression != 1:
            raise StreamError("The VMDK is not streamOptimized (version %d, flags %#x, compression %d)." % (
                version, flags, compression))
        if not grain_size:
            raise StreamError("The VMDK's grain size is 0.")
        self.capacity, self.grain_size = capacity * SECTOR, grain_size * SECTOR
        self._gd_at_end = gd == GD_AT_END
        self._pass_over(overhead * SECTOR - SECTOR)

    def _grain(self, lba, compressed):
        offset = lba * SECTOR
        if offset < self.emitted:
            raise StreamError("A grain at byte %d of the disk comes after byte %d was read: the stream's grains "
                              "are not in order." % (offset, self.emitted))
        if offset >= self.capacity:
            raise StreamError("A grain at byte %d lies past the disk's capacity %d." % (offset, self.capacity))
        try:
            data = zlib.decompress(compressed)
        except zlib.error as error:
            raise StreamError("The grain at byte %d of the disk does not inflate: %s." % (offset, error))
        if len(data) > self.grain_size:
            raise StreamError("The grain at byte %d inflates to %d bytes, more than a grain." % (offset, len(data)))
        self._zeros(offset)
        data = data[:self.capacity - offset]
        self.sink(data)
        self.emitted += len(data)

    def _zeros(self, until):
        while self.emitted < until:
            step = min(len(ZEROS), until - self.emitted)
            self.sink(ZEROS[:step])
            self.emitted += step

    def finish(self):
        """Refuse a stream that ended before its end-of-stream marker (the disk's bytes are not all known).

        vCenter's streams (grain directory at the end) always end with one. qemu-img writes an empty
        disk as header, descriptor, grain directory and tables only, without markers: a stream whose
        header places the grain directory ends complete at a marker boundary (the lease manifest's
        size and sha1 are what catch a cut).
        """
        if self.capacity is None:
            raise StreamError("The stream ended before its VMDK header.")
        if not self.ended and not self._gd_at_end and not self._buffer and not self._skip:
            self._zeros(self.capacity)
            self.ended = True
        if not self.ended:
            raise StreamError("The stream ended at byte %d without its end-of-stream marker." % self._stream_offset)
