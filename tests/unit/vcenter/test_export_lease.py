"""The export lease's download: Range resume, a dropped connection, keep-alive on a simulated clock, masked tickets.

A local plain-HTTP server stands for the lease's disk URL; a fake client for the session (its
calls are recorded, its lease reads scripted). The lab's simulator checks the same against
vCenter's API in tests/lab/vcsim/smoke_lease_client.py.
"""

import hashlib
import http.client
import http.server
import io
import random
import threading
import types

import pytest

from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._vcenter import export_lease
from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._vcenter.client import VCenterError

DATA = random.Random(16).randbytes(5 * export_lease.BLOCK + 4321)
TICKET = "52a1c0ffee-ticket"


class Server(http.server.ThreadingHTTPServer):
    daemon_threads = True
    drop_at = None  # close the connection once after this many bytes of a body
    status = None  # answer every request with this status instead
    ranges = True  # False: answer a Range with the whole stream, as a server without ranges does
    requests = None


class Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"

    def log_message(self, *args):
        pass

    def do_GET(self):
        server = self.server
        server.requests.append((self.path, self.headers.get("Range"), self.headers.get("Cookie")))
        if server.status:
            self.send_response(server.status)
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        start = 0
        if self.headers.get("Range") and server.ranges:
            start = int(self.headers["Range"].split("=")[1].rstrip("-"))
            self.send_response(206)
            self.send_header("Content-Range", "bytes %d-%d/%d" % (start, len(DATA) - 1, len(DATA)))
        else:
            self.send_response(200)
        self.send_header("Content-Length", str(len(DATA) - start))
        self.end_headers()
        body = DATA[start:]
        if server.drop_at is not None and server.drop_at < len(body):
            self.wfile.write(body[:server.drop_at])
            self.wfile.flush()
            server.drop_at = None
            self.close_connection = True
            self.connection.shutdown(2)
            return
        self.wfile.write(body)


@pytest.fixture
def server():
    httpd = Server(("127.0.0.1", 0), Handler)
    httpd.requests = []
    thread = threading.Thread(target=httpd.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield httpd
    httpd.shutdown()
    httpd.server_close()


class Clock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        self.now += 1.0  # each look at the clock: a second passes
        return self.now


class FakeClient:
    endpoint = "vcenter.lab:443"
    hostname = "127.0.0.1"

    def __init__(self, port, states=("ready",)):
        self.port = port
        self.calls = []
        self.states = list(states)

    def session_cookie(self):
        return 'vmware_soap_session="abc"'

    def invoke(self, what, method, *args):
        self.calls.append((what.split(" (")[0], args))
        return method(*args)

    def retrieve_objects(self, obj_type, refs, properties):
        state = self.states.pop(0) if len(self.states) > 1 else self.states[0]
        return [{"state": state, "info": info(), "error": types.SimpleNamespace(msg="Operation timed out."),
                 "initializeProgress": 40}]


class FakeLease:
    def __init__(self):
        self.progress = []

    def HttpNfcLeaseProgress(self, percent):
        self.progress.append(percent)

    def HttpNfcLeaseGetManifest(self):
        return [types.SimpleNamespace(key="/vm-42/VirtualLsiLogicController0:0", sha1=hashlib.sha1(DATA).hexdigest(),
                                      size=len(DATA), capacity=1 << 30, populatedSize=len(DATA))]

    def HttpNfcLeaseComplete(self):
        pass


def info(timeout=20):
    url = types.SimpleNamespace(key="/vm-42/VirtualLsiLogicController0:0", url="https://*/nfc/%s/disk-0.vmdk" % TICKET,
                                targetId="disk-0.vmdk", disk=True, fileSize=len(DATA))
    return types.SimpleNamespace(leaseTimeout=timeout, totalDiskCapacityInKB=1 << 20, deviceUrl=[url])


def lease_for(server, **more):
    client = FakeClient(server.server_address[1])
    lease = export_lease.ExportLease(client, FakeLease(), info(), clock=Clock(), sleep=lambda s: None,
                                     connection=http.client.HTTPConnection, **more)
    return client, lease


def test_a_disk_downloads_whole_and_the_lease_is_kept_alive(server):
    client, lease = lease_for(server)
    out, seen = io.BytesIO(), hashlib.sha256()
    assert lease.download(lease.device_urls[0], out, sink=seen.update) == len(DATA)
    assert out.getvalue() == DATA and seen.hexdigest() == hashlib.sha256(DATA).hexdigest()
    assert server.requests == [("/nfc/%s/disk-0.vmdk" % TICKET, None, 'vmware_soap_session="abc"')]
    # leaseTimeout 20 s -> every 5 s; each block costs a second on this clock
    assert lease.lease.progress == [99]  # once, at the fifth block: the disk's share done
    assert lease.progress_calls == 1
    assert lease.manifest() == {"/vm-42/VirtualLsiLogicController0:0": {
        "sha1": hashlib.sha1(DATA).hexdigest(), "size": len(DATA), "capacity": 1 << 30, "populated_size": len(DATA)}}


def test_a_resumed_copy_reads_from_its_offset_with_range(server):
    lease = lease_for(server)[1]
    start = 3 * export_lease.BLOCK + 17
    out = io.BytesIO(DATA[:start])
    assert lease.download(lease.device_urls[0], out, start=start) == len(DATA)
    assert out.getvalue() == DATA
    assert [r[1] for r in server.requests] == ["bytes=%d-" % start]


def test_a_server_without_ranges_is_told_apart_from_a_failure(server):
    server.ranges = False
    lease = lease_for(server)[1]
    start = 2 * export_lease.BLOCK
    with pytest.raises(export_lease.RangesRefused, match="answered a read from byte %d with the whole stream" % start) \
            as refused:
        lease.download(lease.device_urls[0], io.BytesIO(DATA[:start]), start=start)
    assert refused.value.offset == start and TICKET not in str(refused.value)


def test_a_dropped_connection_goes_on_from_where_it_stopped(server):
    server.drop_at = 2 * export_lease.BLOCK + 5
    lease = lease_for(server)[1]
    out, seen = io.BytesIO(), hashlib.sha256()
    assert lease.download(lease.device_urls[0], out, sink=seen.update) == len(DATA)
    assert out.getvalue() == DATA and seen.hexdigest() == hashlib.sha256(DATA).hexdigest()
    assert [r[1] for r in server.requests][0] is None
    assert [r[1] for r in server.requests][1] == "bytes=%d-" % (2 * export_lease.BLOCK + 5)


def test_an_ended_lease_says_so_without_its_ticket(server):
    server.status = 404
    lease = lease_for(server)[1]
    with pytest.raises(VCenterError) as raised:
        lease.download(lease.device_urls[0], io.BytesIO())
    message = str(raised.value)
    assert TICKET not in message
    assert message == ("disk URL /vm-42/VirtualLsiLogicController0:0 (https://127.0.0.1:%d/nfc/********/disk-0.vmdk) "
                       "answered HTTP 404 to a read (expected 200): the lease has ended or timed out"
                       % server.server_address[1])


def test_a_server_that_goes_away_fails_after_the_attempts(server):
    lease = lease_for(server)[1]
    port = server.server_address[1]
    server.shutdown()
    server.server_close()
    with pytest.raises(VCenterError, match="failed at byte 0 of %d, 3 times in a row" % len(DATA)):
        lease.download(dict(lease.device_urls[0], url="https://127.0.0.1:%d/nfc/%s/disk-0.vmdk" % (port, TICKET)),
                       io.BytesIO())


def test_open_waits_for_ready_and_reports_a_lease_that_ended(monkeypatch, server):
    monkeypatch.setattr(export_lease, "managed_object_types", lambda: types.SimpleNamespace(HttpNfcLease=object))
    client = FakeClient(server.server_address[1], states=["initializing", "initializing", "ready"])
    vm = types.SimpleNamespace(ExportVm=FakeLease)
    lease = export_lease.ExportLease.open(client, vm, "VM db01", clock=Clock(), sleep=lambda s: None,
                                          connection=http.client.HTTPConnection)
    assert lease.timeout == 20 and lease.device_urls[0]["file_size"] == len(DATA)
    assert client.calls[0][0] == "export VM db01"
    failed = FakeClient(server.server_address[1], states=["initializing", "error"])
    with pytest.raises(VCenterError, match=r"ended the export lease of VM db01 \(error\): Operation timed out."):
        export_lease.ExportLease.open(failed, vm, "VM db01", clock=Clock(), sleep=lambda s: None)
    slow = FakeClient(server.server_address[1], states=["initializing"])
    with pytest.raises(VCenterError, match=r"was not ready within 5 s \(40%\)"):
        export_lease.ExportLease.open(slow, vm, "VM db01", ready_timeout=5, clock=Clock(), sleep=lambda s: None)
