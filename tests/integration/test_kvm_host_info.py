"""kvm_host_info's virt_type check against real libvirtds: the lab's KVM hosts, Debian's libvirtd
as an unprivileged session daemon, and libvirt's test driver.

Each lab KVM host's libvirtd answers on its own socket (docs/lab.md, "The KVM hosts") with the
nova.conf its nova-compute runs on: the module must find the host by its own name and the
virt_type the lab chose (kvm where /dev/kvm works, else qemu) among what that libvirt offers.

The case of a host where nova's default virt_type kvm cannot work needs a libvirtd without
/dev/kvm: an unprivileged one serves qemu:///session from XDG directories given to it; run as
nobody, it has no access to /dev/kvm (0600 root), so its QEMU driver offers only the qemu
domain type.
"""

import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from helpers.lab import ROOT
from helpers.playbook import run_module

sys.path.insert(0, str(ROOT / "tests" / "lab"))
from minilab import kvm  # noqa: E402  pylint: disable=wrong-import-position
from minilab.config import LabConfig  # noqa: E402  pylint: disable=wrong-import-position
from minilab.openstack import compute  # noqa: E402  pylint: disable=wrong-import-position

NOBODY = 65534


@pytest.fixture(scope="module")
def session_libvirtd():
    if not (shutil.which("libvirtd") and shutil.which("qemu-system-x86_64")):
        pytest.skip("needs Debian's libvirt-daemon and qemu-system-x86")
    if os.geteuid() != 0:
        pytest.skip("starts libvirtd as nobody, which needs root")
    # Not under pytest's tmp_path: that is private to root, and libvirtd runs as nobody.
    base = Path(tempfile.mkdtemp(prefix="kvm-host-info-libvirtd-"))
    base.chmod(0o755)
    dirs = {name: base / name for name in ("run", "config", "cache", "home")}
    for path in dirs.values():
        path.mkdir()
        os.chown(path, NOBODY, NOBODY)
    env = dict(os.environ, HOME=str(dirs["home"]), XDG_RUNTIME_DIR=str(dirs["run"]),
               XDG_CONFIG_HOME=str(dirs["config"]), XDG_CACHE_HOME=str(dirs["cache"]))
    with open(base / "libvirtd.log", "w") as log:
        daemon = subprocess.Popen(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups", "libvirtd"],
                                  env=env, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)
    socket = dirs["run"] / "libvirt" / "libvirt-sock"
    deadline = time.monotonic() + 30
    while not socket.exists():
        if daemon.poll() is not None or time.monotonic() > deadline:
            daemon.kill()
            pytest.fail("libvirtd did not start: %s" % (base / "libvirtd.log").read_text()[-2000:])
        time.sleep(0.2)
    yield f"qemu+unix:///session?socket={socket}"
    os.killpg(daemon.pid, signal.SIGTERM)
    daemon.wait(timeout=30)
    shutil.rmtree(base)


@pytest.mark.usefixtures("lab")
def test_each_lab_kvm_host_offers_the_virt_type_its_nova_compute_runs():
    cfg = LabConfig.from_env()
    hosts = kvm.hosts(cfg)
    assert len(hosts) >= 2, hosts
    for host in hosts:
        conf = compute.compute_conf(cfg, host.name)
        run = run_module("kvm_host_info", {"uri": host.uri, "nova_conf": [str(conf)], "fail_on_mismatch": True})
        assert not run.failed, run.output
        # Its own libvirtd, not the machine's nor another host's: libvirt names the host after itself.
        assert run.result["host"]["hostname"] == host.name
        assert run.result["host"]["hypervisor"] == "QEMU"
        assert kvm.virt_type(cfg) in run.result["host"]["domain_types"]
        assert run.result["virt_type"] == {"value": kvm.virt_type(cfg), "source": str(conf), "ok": True,
                                           "msg": "virt_type %s is offered by libvirt on %s" % (kvm.virt_type(cfg),
                                                                                                host.name)}


def test_real_qemu_driver_without_dev_kvm(session_libvirtd, tmp_path):
    conf = tmp_path / "nova.conf"
    conf.write_text("[DEFAULT]\nhost = kvm1\n")
    run = run_module("kvm_host_info", {"uri": session_libvirtd, "nova_conf": [str(conf)]})
    assert not run.failed, run.output
    assert run.result["host"]["hypervisor"] == "QEMU"
    assert run.result["host"]["domain_types"] == ["qemu"]
    verdict = run.result["virt_type"]
    assert (verdict["value"], verdict["source"], verdict["ok"]) == ("kvm", "nova's default", False)
    assert "no usable /dev/kvm" in verdict["msg"]

    compute_conf = tmp_path / "nova-compute.conf"
    compute_conf.write_text("[libvirt]\nvirt_type = qemu\n")
    run = run_module("kvm_host_info", {"uri": session_libvirtd, "nova_conf": [str(conf), str(compute_conf)],
                                       "fail_on_mismatch": True})
    assert not run.failed, run.output
    assert run.result["virt_type"] == {"value": "qemu", "source": str(compute_conf), "ok": True,
                                       "msg": "virt_type qemu is offered by libvirt on %s" % run.result["host"]["hostname"]}


def test_fail_on_mismatch(session_libvirtd):
    run = run_module("kvm_host_info", {"uri": session_libvirtd, "virt_type": "kvm", "fail_on_mismatch": True})
    assert run.failed
    assert run.msg.startswith("nova's virt_type kvm is not among the domain types libvirt offers")
    assert run.result["virt_type"]["source"] == "the virt_type option"


def test_test_driver_and_absent_config():
    run = run_module("kvm_host_info", {"uri": "test:///default", "nova_conf": ["/nonexistent/nova.conf"]})
    assert not run.failed, run.output
    assert run.result["virt_type"]["ok"] is False
    assert run.result["virt_type"]["msg"].endswith("(test): set virt_type to one of them")


def test_unparsable_config(tmp_path):
    conf = tmp_path / "nova.conf"
    conf.write_text("virt_type = kvm\n")
    run = run_module("kvm_host_info", {"uri": "test:///default", "nova_conf": [str(conf)]})
    assert run.failed
    assert run.msg.startswith("%s is not a configuration file oslo.config can read: line 1" % conf)
