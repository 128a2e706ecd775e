# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A disk's staging files on the host that runs the migration, and the saved state a resume needs.

``<staging_dir>/<migration id>/disk-<key>.stream`` holds the lease's bytes as they arrive,
``.saved.json`` the chunk digests (``disk_hashes.StreamHashes.saved()``) of the bytes already
flushed to disk: ``save()`` fsyncs the stream before it replaces the JSON (atomically), so the
saved state never describes bytes that a crash could lose. The staging files are a cache: a
run that finds none (another node, a cleaned directory) restarts the disk; only the record in
nova says how far the migration is.
"""

from __future__ import annotations

import json
import os
import shutil


class DiskStaging:
    def __init__(self, root, migration_id, disk_key):
        self.directory = os.path.join(root, str(migration_id))
        base = os.path.join(self.directory, "disk-%s" % disk_key)
        self.stream, self.saved_path = base + ".stream", base + ".saved.json"
        self.raw, self.target, self.check = base + ".raw", base + ".qcow2", base + ".check.raw"

    def open_stream(self, resume):
        """The stream file for writing: kept (a resume writes from its offset on) or truncated."""
        os.makedirs(self.directory, mode=0o700, exist_ok=True)
        if resume and os.path.exists(self.stream):
            return open(self.stream, "r+b")
        return open(self.stream, "wb")

    def load_saved(self):
        """The saved state, or None when there is none or it is unreadable (the disk restarts)."""
        try:
            with open(self.saved_path, encoding="utf-8") as f:
                saved = json.load(f)
        except (OSError, ValueError):
            return None
        return saved if isinstance(saved, dict) and isinstance(saved.get("chunks"), list) else None

    def save(self, saved, stream):
        """Flush and fsync ``stream``, then replace the saved state atomically."""
        stream.flush()
        os.fsync(stream.fileno())
        temporary = self.saved_path + ".tmp"
        with open(temporary, "w", encoding="utf-8") as f:
            json.dump(saved, f)
            f.flush()
            os.fsync(f.fileno())
        os.replace(temporary, self.saved_path)

    def reader(self):
        """``read_at(offset, length)`` over the staged stream (no bytes when there is no stream), and its file."""
        try:
            f = open(self.stream, "rb")
        except FileNotFoundError:
            return (lambda offset, length: b""), None

        def read_at(offset, length):
            f.seek(offset)
            return f.read(length)

        return read_at, f

    def remove_download(self):
        """Drop the stream and its saved state (converted: they are not needed any more)."""
        for path in (self.stream, self.saved_path, self.saved_path + ".tmp"):
            if os.path.exists(path):
                os.remove(path)


def progress_path(root, migration_id):
    """Where a running migration keeps its last progress figures, for a poller on this host."""
    return os.path.join(root, str(migration_id), "progress.json")


def write_progress(root, migration_id, figures):
    """Replace the progress file atomically (a poller never reads half of it)."""
    path = progress_path(root, migration_id)
    os.makedirs(os.path.dirname(path), mode=0o700, exist_ok=True)
    with open(path + ".tmp", "w", encoding="utf-8") as f:
        json.dump(figures, f)
    os.replace(path + ".tmp", path)


def remove_all(root, migration_id):
    """Every staging file of the migration (rollback, or after the last upload)."""
    shutil.rmtree(os.path.join(root, str(migration_id)), ignore_errors=True)
