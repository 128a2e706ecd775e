"""The vCenter connection layer against the lab's simulator: success and every failure."""

import http.server
import threading

import pytest

from helpers.lab import clean_env
from helpers.playbook import run_module


def test_reads_the_inventory_in_bulk_with_a_verified_certificate(vcenter):
    run = run_module("vcenter_inventory_info", env=clean_env(**vcenter))
    assert not run.failed, run.output
    assert run.result["about"]["api_version"] == "6.5"
    (dc,) = run.result["datacenters"]
    clusters = {c["name"]: c for c in dc["clusters"]}
    assert sorted(clusters) == ["Cluster-A", "Cluster-B"]
    hosts = clusters["Cluster-A"]["hosts"]
    assert len({h["memory_mb"] for h in hosts}) == 3, "the lab's hosts differ in memory size"
    assert clusters["Cluster-A"]["capacity"]["memory_mb"] == sum(h["memory_mb"] for h in hosts)
    partial = next(d for d in dc["datastores"] if d["name"] == "nfs-a-partial")
    assert len(partial["hosts"]) == 2


def test_options_override_the_environment(vcenter):
    run = run_module("vcenter_inventory_info", {"hostname": "127.0.0.1", "port": int(vcenter["VMWARE_PORT"])},
                     env=clean_env(**dict(vcenter, VMWARE_HOST="vcenter.invalid", VMWARE_PORT="1")))
    assert not run.failed, run.output


def test_wrong_password_is_named_and_never_echoed(vcenter):
    wrong = "Wr0ng-Pa55word-xyz"
    run = run_module("vcenter_inventory_info", {"password": wrong}, env=clean_env(**vcenter))
    assert run.failed
    assert "rejected the login of user administrator@vsphere.local" in run.msg
    assert "wrong user name or password" in run.msg
    assert wrong not in run.output
    assert vcenter["VMWARE_PASSWORD"] not in run.output
    assert "Traceback" not in run.output


def test_refused_port(vcenter):
    run = run_module("vcenter_inventory_info", {"port": 1}, env=clean_env(**vcenter))
    assert run.failed
    assert run.msg.startswith("Connection to vCenter 127.0.0.1:1 refused")


@pytest.mark.parametrize("port", [0, -1, 99999])
def test_a_port_out_of_range_is_refused_before_connecting(vcenter, port):
    # Once, 0 silently became 443, -1 failed to resolve the host and 99999 was "refused".
    run = run_module("vcenter_inventory_info", env=clean_env(**dict(vcenter, VMWARE_PORT=str(port))))
    assert run.failed
    assert run.msg == "vCenter port %d is out of range: set port (VMWARE_PORT) to a TCP port from 1 to 65535." % port
    assert run_module("vcenter_cluster", {"cluster": "Cluster-A", "port": port}, env=clean_env(**vcenter)).msg == run.msg


def test_unresolvable_host(vcenter):
    run = run_module("vcenter_inventory_info", env=clean_env(**dict(vcenter, VMWARE_HOST="vcenter.invalid")))
    assert run.failed
    assert "Cannot resolve the vCenter host name vcenter.invalid" in run.msg


def test_untrusted_certificate(vcenter):
    # Without the lab CA in the trust bundle, the simulator's certificate is unknown.
    env = clean_env(**dict(vcenter, SSL_CERT_FILE="/etc/ssl/certs/ca-certificates.crt"))
    run = run_module("vcenter_inventory_info", env=env)
    assert run.failed
    assert "TLS certificate of vCenter 127.0.0.1" in run.msg
    assert "validate_certs: false" in run.msg
    accepted = run_module("vcenter_inventory_info", {"validate_certs": False}, env=env)
    assert not accepted.failed, accepted.output


@pytest.fixture
def plain_http_port():
    server = http.server.HTTPServer(("127.0.0.1", 0), http.server.BaseHTTPRequestHandler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield server.server_address[1]
    server.shutdown()


def test_not_a_vsphere_endpoint(vcenter, plain_http_port):
    # A plain HTTP server where vCenter's HTTPS should be: the TLS handshake fails, said as such.
    run = run_module("vcenter_inventory_info", {"port": plain_http_port}, env=clean_env(**vcenter))
    assert run.failed
    assert "TLS handshake with vCenter 127.0.0.1:%d failed" % plain_http_port in run.msg


def test_missing_hostname_names_the_variable(vcenter):
    run = run_module("vcenter_inventory_info", env=clean_env(**dict(vcenter, VMWARE_HOST=None)))
    assert run.failed
    assert run.msg == "No vCenter hostname given: set the hostname option or the VMWARE_HOST environment variable."


def test_missing_pyvmomi(vcenter, bare_python):
    run = run_module("vcenter_inventory_info", env=clean_env(**vcenter), interpreter=bare_python)
    assert run.failed
    assert "pyVmomi is required" in run.msg
    assert "pip install pyvmomi" in run.msg


def test_unknown_datacenter_names_those_that_exist(vcenter):
    run = run_module("vcenter_inventory_info", {"datacenter": "DC9"}, env=clean_env(**vcenter))
    assert run.failed
    assert run.msg == "Datacenter DC9 not found; this vCenter has: DC1."
