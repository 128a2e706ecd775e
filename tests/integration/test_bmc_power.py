"""bmc_power against the lab's BMCs (sushy-tools' Redfish over TLS, one per KVM host) with the real fence_redfish:
powering a host off through its BMC is the lab's power cut of it, on brings its nova-compute back, the power read
back is the truth, and a wrong password or a BMC that cannot be reached fails in one line with nothing changed."""

import socket

import pytest

from helpers.bmc import endpoints, status_line
from helpers.kvm import KvmCloud, host_power
from helpers.lab import clean_env
from helpers.playbook import run_module

HOST = "kvm-compute-2"


@pytest.fixture(scope="module")
def cloud(lab):
    cloud = KvmCloud(lab["env"])
    assert HOST in cloud.hosts, "these tests fence %s; the lab runs %s" % (HOST, sorted(cloud.hosts))
    yield cloud
    # Whatever a test left, the host is on again for the next ones.
    host_power(HOST, "on")


@pytest.fixture(scope="module")
def bmc(cloud):
    return endpoints()[HOST]


def power(bmc, state, check_mode=False, env=None, **overrides):
    return run_module("bmc_power", {**bmc, **overrides, "state": state}, check_mode=check_mode, env=env)


def one_line_failure(run, *parts):
    assert run.failed, run.result
    assert "\n" not in run.msg and all(part in run.msg for part in parts), run.msg
    assert run.result["changed"] is False


def test_the_bmc_reads_the_host_on_and_lab_status_shows_it(cloud, bmc):
    run = power(bmc, "on")
    assert not run.failed, run.msg
    assert (run.result["changed"], run.result["power"]) == (False, {"before": "on", "after": "on"})
    assert run.result["bmc"] == "https://127.0.0.1:%s%s" % (bmc["port"], bmc["system"])
    line = status_line(HOST)
    assert line.endswith("https://127.0.0.1:%s/redfish/v1 power On" % bmc["port"]), line
    assert bmc["password"] not in line


def test_off_cuts_the_hosts_power_and_on_brings_its_nova_compute_back(cloud, bmc):
    assert cloud.processes(HOST)
    checked = power(bmc, "off", check_mode=True)
    assert (checked.result["changed"], checked.result["power"]) == (True, {"before": "on", "after": "off"})
    assert checked.result["diff"] == {"before": {"power": "on"}, "after": {"power": "off"}}
    assert cloud.processes(HOST), "check mode changed the power"

    off = power(bmc, "off")
    assert not off.failed, off.msg
    assert (off.result["changed"], off.result["power"]) == (True, {"before": "on", "after": "off"})
    # The lab's power cut: every process of the host (libvirtd, nova-compute, QEMU) is gone.
    assert cloud.processes(HOST) == []
    assert status_line(HOST).endswith("power Off")
    again = power(bmc, "off")
    assert (again.result["changed"], again.result["power"]) == (False, {"before": "off", "after": "off"})
    assert power(bmc, "on", check_mode=True).result["changed"] is True
    assert cloud.processes(HOST) == [], "check mode changed the power"

    on = power(bmc, "on")
    assert not on.failed, on.msg
    assert (on.result["changed"], on.result["power"]) == (True, {"before": "off", "after": "on"})
    assert cloud.processes(HOST)
    cloud.wait_reporting(HOST)


def test_a_wrong_password_fails_in_one_line_never_showing_a_password_at_vvv(cloud, bmc):
    wrong = "wrong-" + bmc["password"][::-1]
    run = power(bmc, "off", env=clean_env(ANSIBLE_VERBOSITY="3"), password=wrong)
    one_line_failure(run, "https://127.0.0.1:%s%s" % (bmc["port"], bmc["system"]), "HTTP 401", "username and password")
    assert wrong not in run.output and bmc["password"] not in run.output
    assert cloud.processes(HOST), "a refused fence changed the power"


def free_port():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_a_port_nobody_listens_on_fails_clearly(cloud, bmc):
    port = free_port()
    run = power(bmc, "off", port=port)
    one_line_failure(run, "https://127.0.0.1:%s" % port, "connection refused")
    assert cloud.processes(HOST)


def test_ipmi_to_a_port_no_bmc_answers_on_fails_clearly(cloud, bmc):
    # The lab's BMCs speak Redfish only: this runs the real fence_ipmilan (and ipmitool) up to its timeout.
    # (An IPMI 2.0 password has at most 20 bytes, the lab's BMC passwords more.)
    port, password = free_port(), "ipmi-" + bmc["password"][:15]
    run = power({k: v for k, v in bmc.items() if k not in ("system", "ca_path")}, "off", agent="ipmilan", port=port,
                password=password, timeout=5)
    one_line_failure(run, "ipmi://127.0.0.1:%s" % port, "fence_ipmilan could not read the power state: no answer")
    assert password not in run.output
    assert cloud.processes(HOST)


def test_a_bmc_that_never_answers_is_given_up_on_at_the_deadline(cloud, bmc):
    # fence_redfish sets no timeout on its requests: a BMC that accepts the connection and never answers would
    # hold it forever; the module kills it after timeout + 15 s.
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen()
        port = silent.getsockname()[1]
        run = power(bmc, "off", port=port, timeout=1)
    one_line_failure(run, "https://127.0.0.1:%s" % port, "no answer within 16 s")
    assert cloud.processes(HOST)


def test_an_unknown_system_fails_naming_it(cloud, bmc):
    run = power(bmc, "off", system="no-such-system")
    one_line_failure(run, "/redfish/v1/Systems/no-such-system", "HTTP 404")
    assert cloud.processes(HOST)
