"""The libvirt connection layer: libvirt's test driver, and every failure we can cause here."""

from helpers.playbook import run_module


def test_reads_a_host_through_libvirts_test_driver():
    run = run_module("kvm_host_info", {"uri": "test:///default"})
    assert not run.failed, run.output
    host = run.result["host"]
    assert host["hypervisor"] == "TEST"
    assert host["domain_types"] == ["test"]
    assert host["memory_mb"] > 0 and host["cpu_threads"] > 0
    assert host["libvirt_version"].count(".") == 2


def test_daemon_not_listening():
    run = run_module("kvm_host_info", {"uri": "qemu+unix:///system?socket=/nonexistent/libvirt-sock"})
    assert run.failed
    assert run.msg.startswith("Cannot reach libvirtd at qemu+unix:///system")
    assert "is libvirtd (or virtqemud) running" in run.msg


def test_refused_port():
    run = run_module("kvm_host_info", {"uri": "qemu+tcp://127.0.0.1:1/system"})
    assert run.failed
    assert "Cannot reach libvirtd at qemu+tcp://127.0.0.1:1/system" in run.msg
    assert "Connection refused" in run.msg


def test_unresolvable_host():
    run = run_module("kvm_host_info", {"uri": "qemu+tcp://kvm.invalid/system"})
    assert run.failed
    assert "kvm.invalid" in run.msg
    assert "Traceback" not in run.output


def test_missing_libvirt_python(bare_python):
    run = run_module("kvm_host_info", {"uri": "test:///default"}, interpreter=bare_python)
    assert run.failed
    assert "libvirt-python is required" in run.msg
