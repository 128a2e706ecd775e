"""The lab's KVM hosts: real nova-computes on libvirt and QEMU/KVM, each host its own libvirtd.

A guest of the lab's guest image boots on each host; one host's libvirt never shows the other's
domains; a host whose power is cut (`lab host-power HOST off`: every process of it SIGKILLed) and
restored comes back with no stale domain and no guest running twice, also after its guest was
evacuated.
"""

import pytest

from helpers.kvm import KvmCloud, domains, host_power, virsh

PREFIX = "kvm-test-"
FLAVOR = "kvm-test-tiny"


@pytest.fixture(scope="module")
def cloud(lab):
    cloud = KvmCloud(lab["env"])
    assert len(cloud.hosts) >= 2, "the lab runs %s KVM hosts; these tests need two" % len(cloud.hosts)
    cloud.flavor(FLAVOR, 128)
    yield cloud
    cloud.delete([PREFIX])


def boot(cloud, name, host):
    return cloud.boot(PREFIX + name, 1, host, FLAVOR)[0]


def wait(cloud, server, done):
    return cloud.wait(server["name"], 1, done)[0]


def test_a_guest_runs_on_each_kvm_host_and_no_host_sees_the_others(cloud):
    hypervisors = {h["hypervisor_hostname"]: h for h in cloud.hypervisors()}
    servers = {}
    for name in cloud.hosts:
        assert hypervisors[name]["hypervisor_type"] == "QEMU"
        servers[name] = boot(cloud, "on-" + name, name)

    for name, host in cloud.hosts.items():
        server = servers[name]
        assert server["OS-EXT-SRV-ATTR:host"] == name
        domain = server["OS-EXT-SRV-ATTR:instance_name"]
        assert virsh(host, "domstate", domain).strip() == "running"
        others = {s["OS-EXT-SRV-ATTR:instance_name"] for s in servers.values()} - {domain}
        assert not domains(host, "--all") & others
        assert cloud.qemus(server) == [name]
        # nova reads the guest's serial console from the log QEMU writes into the instance's directory: the
        # guest booted there, and prints nova's instance UUID.
        assert (host.instances / server["id"] / "console.log").exists()
        console = cloud.console(server["id"])
        assert (console.uuid, console.data) == (server["id"], cloud.manifest["data"]), console


def test_a_power_cut_host_comes_back_with_no_stale_or_double_guest(cloud):
    source, target = list(cloud.hosts)[:2]
    moved = boot(cloud, "moved", source)
    stayed = boot(cloud, "stayed", source)
    assert cloud.qemus(moved) == cloud.qemus(stayed) == [source]
    try:
        assert "power cut" in host_power(source, "off")
        assert cloud.processes(source) == []
        assert cloud.qemus(moved) == cloud.qemus(stayed) == []

        cloud.set_service(source, forced_down=True)
        cloud.action(moved, {"evacuate": {"host": target}}, microversion="2.68")
        moved = wait(cloud, moved, lambda s: s["status"] == "ACTIVE" and s["OS-EXT-SRV-ATTR:host"] == target)
    finally:
        assert "powered on" in host_power(source, "on")
        cloud.set_service(source, forced_down=False)

    # nova-compute's start (host_power waits for its first report) cleaned up after the evacuation.
    source_host, target_host = cloud.hosts[source], cloud.hosts[target]
    moved_domain, stayed_domain = moved["OS-EXT-SRV-ATTR:instance_name"], stayed["OS-EXT-SRV-ATTR:instance_name"]
    assert moved_domain not in domains(source_host, "--all")
    assert moved_domain in domains(target_host)
    assert cloud.qemus(moved) == [target]
    # The guest that was not evacuated lost its power with the host: defined, not running.
    assert domains(source_host) == set()
    assert virsh(source_host, "domstate", stayed_domain).strip() == "shut off"
    assert cloud.qemus(stayed) == []
    stayed = wait(cloud, stayed, lambda s: s["status"] == "SHUTOFF")
    assert stayed["OS-EXT-SRV-ATTR:host"] == source
