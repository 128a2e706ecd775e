# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An export lease of a powered-off VM (``ExportVm`` -> ``HttpNfcLease``) and the download of its disks.

The only code that talks HTTP to a lease's disk URLs. Its vSphere calls go through the
session's ``VCenterClient`` (``invoke``, ``retrieve_objects``: this file imports no SDK); the
lease's properties are read in one PropertyCollector call, never lazily.

- ``ExportLease.open(client, vm)`` asks for the lease and waits for ``ready`` (vCenter writes
  each disk's stream first: ``initializing``), then holds its ``info`` as plain data.
- ``download()`` GETs one disk URL into a file from an offset, with ``Range`` when the offset is
  not 0 (a resumed copy), going on with a new ``Range`` request when the connection drops mid-body
  (``attempts`` in a row without a byte). A server that answers a ``Range`` with the whole stream
  (vCenter may serve a streamOptimized stream without ranges) raises ``RangesRefused``: the
  caller starts that disk again from 0. Every block goes to ``sink`` (the hashes, the
  progress). Between blocks, every ``keep_alive_interval(leaseTimeout)`` on ``clock``, it calls
  ``HttpNfcLeaseProgress`` so that a long copy's lease does not lapse.
- ``manifest()`` (sha1 per disk, by device URL key), ``complete()``, ``abort()``.

The ticket in a disk URL is the credential (vCenter checks no session on it): messages mask it.
A URL's host ``*`` is the host the session talks to.
"""

from __future__ import annotations

import http.client
import time
import urllib.parse

from .._common.errors import one_line
from .._migration.disk_hashes import RangesRefused
from .._migration.progress import Every, keep_alive_interval
from .client import REQUEST_TIMEOUT, VCenterError, managed_object_types

BLOCK = 1 << 20
READY_STATES = ("ready",)
ENDED_STATES = ("done", "error")


def _device_urls(info):
    return [{"key": url.key, "url": url.url, "target_id": getattr(url, "targetId", None),
             "disk": bool(getattr(url, "disk", False)), "file_size": getattr(url, "fileSize", None)}
            for url in getattr(info, "deviceUrl", None) or ()]


class ExportLease:
    def __init__(self, client, lease, info, clock=time.monotonic, sleep=time.sleep,
                 connection=http.client.HTTPSConnection):
        self.client, self.lease, self.clock, self.sleep = client, lease, clock, sleep
        self.connection = connection
        self.timeout = int(getattr(info, "leaseTimeout", None) or 300)
        self.total_kb = getattr(info, "totalDiskCapacityInKB", None)
        self.device_urls = _device_urls(info)
        self.keep_alive = Every(keep_alive_interval(self.timeout), clock)
        self.progress_calls = 0

    @classmethod
    def open(cls, client, vm, what="the VM", ready_timeout=600, clock=time.monotonic, sleep=time.sleep, **more):
        """ExportVm of a powered-off VM, waited for until its lease is ready."""
        lease = client.invoke("export %s (ExportVm; it must be powered off)" % what, vm.ExportVm)
        info = cls.wait_ready(client, lease, what, ready_timeout, clock, sleep)
        return cls(client, lease, info, clock=clock, sleep=sleep, **more)

    @staticmethod
    def wait_ready(client, lease, what, timeout, clock, sleep):
        vim = managed_object_types()
        deadline, delay = clock() + timeout, 0.1
        while True:
            rows = client.retrieve_objects(vim.HttpNfcLease, [lease], ["state", "info", "error", "initializeProgress"])
            row = rows[0] if rows else {}
            state = str(row.get("state"))
            if state in READY_STATES:
                return row.get("info")
            if state in ENDED_STATES:
                error = row.get("error")
                raise VCenterError("vCenter %s ended the export lease of %s (%s): %s" % (
                    client.endpoint, what, state, one_line(getattr(error, "msg", None) or error)))
            if clock() > deadline:
                raise VCenterError("The export lease of %s on vCenter %s was not ready within %s s (%s%%)." % (
                    what, client.endpoint, timeout, row.get("initializeProgress")))
            sleep(delay)
            delay = min(delay * 2, 2.0)

    def _secrets(self):
        return [urllib.parse.urlsplit(u["url"]).path.split("/")[2] for u in self.device_urls
                if u["url"].count("/") >= 5]

    def _where(self, url):
        parts = urllib.parse.urlsplit(url)
        host = self.client.hostname if parts.hostname in (None, "*") else parts.hostname
        port = parts.port or (self.client.port if parts.hostname in (None, "*") else 443)
        return host, port, parts.path + ("?" + parts.query if parts.query else "")

    def tick(self, percent):
        """HttpNfcLeaseProgress(percent) once it is due; the lease lives another leaseTimeout."""
        if self.keep_alive.due():
            self.client.invoke("keep the export lease alive (HttpNfcLeaseProgress)", self.lease.HttpNfcLeaseProgress,
                               max(0, min(100, int(percent))))
            self.progress_calls += 1

    def download(self, device_url, out, start=0, sink=None, percent=None, attempts=3):
        """GET the disk URL into ``out`` (a binary file, written at the URL's offsets) from ``start``.

        Returns the offset reached: the stream's size. ``percent()`` is what HttpNfcLeaseProgress
        reports (default: this disk's share done).
        """
        size = device_url.get("file_size")
        host, port, path = self._where(device_url["url"])
        offset, failures = start, 0
        cookie = self.client.session_cookie()
        while size is None or offset < size:
            conn = self.connection(host, port, timeout=REQUEST_TIMEOUT, **self._tls())
            try:
                headers = {"Cookie": cookie} if cookie else {}
                if offset:
                    headers["Range"] = "bytes=%d-" % offset
                conn.request("GET", path, headers=headers)
                response = conn.getresponse()
                expected = 206 if offset else 200
                if offset and response.status == 200:
                    raise RangesRefused(self._text("%s answered a read from byte %d with the whole stream: it serves "
                                                   "no ranges" % (self._name(device_url, host, port, path), offset)),
                                        offset)
                if response.status != expected:
                    raise VCenterError(self._text("%s answered HTTP %d to %s (expected %d)%s" % (
                        self._name(device_url, host, port, path), response.status,
                        "a read from byte %d" % offset if offset else "a read", expected,
                        ": the lease has ended or timed out" if response.status == 404 else "")))
                if size is None:
                    size = _total_size(response, offset)
                out.seek(offset)
                while True:
                    block = response.read(BLOCK)
                    if not block:
                        break
                    out.write(block)
                    offset += len(block)
                    failures = 0
                    if sink:
                        sink(block)
                    self.tick(percent() if percent else (offset * 100 // size if size else 0))
                if size is None:
                    size = offset
                if offset < size:
                    raise http.client.IncompleteRead(b"", size - offset)
            except (OSError, http.client.HTTPException) as error:
                failures += 1
                if failures >= attempts:
                    raise VCenterError(self._text("Reading %s failed at byte %d of %s, %d times in a row: %s" % (
                        self._name(device_url, host, port, path), offset, size, failures,
                        getattr(error, "strerror", None) or type(error).__name__)))
                self.sleep(min(2 ** failures, 10))
            finally:
                conn.close()
        return offset

    def _tls(self):
        context = getattr(self.client, "ssl_context", None)
        return {"context": context} if context is not None and self.connection is http.client.HTTPSConnection else {}

    @staticmethod
    def _name(device_url, host, port, path):
        return "disk URL %s (https://%s:%s%s)" % (device_url["key"], host, port, path)

    def _text(self, text):
        return one_line(text, self._secrets())

    def manifest(self):
        """{device URL key: {"sha1", "size", "capacity", "populated_size"}} of the lease's streams."""
        entries = self.client.invoke("read the export lease's manifest (HttpNfcLeaseGetManifest)",
                                     self.lease.HttpNfcLeaseGetManifest)
        return {entry.key: {"sha1": entry.sha1, "size": entry.size, "capacity": getattr(entry, "capacity", None),
                            "populated_size": getattr(entry, "populatedSize", None)} for entry in entries or ()}

    def complete(self):
        self.client.invoke("complete the export lease (HttpNfcLeaseComplete)", self.lease.HttpNfcLeaseComplete)

    def abort(self):
        self.client.invoke("abort the export lease (HttpNfcLeaseAbort)", self.lease.HttpNfcLeaseAbort)


def _total_size(response, offset):
    """The stream's size from Content-Range (206) or Content-Length (200), else None."""
    content_range = response.getheader("Content-Range") or ""
    if "/" in content_range and content_range.rpartition("/")[2].isdigit():
        return int(content_range.rpartition("/")[2])
    length = response.getheader("Content-Length")
    return offset + int(length) if length and length.isdigit() else None
