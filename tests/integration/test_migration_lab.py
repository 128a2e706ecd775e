"""The lab side of the migration's end-to-end tests (issue 16): each helper of helpers/migration.py on the real lab,
and what the design's open questions (docs/migration-design.md, "Ports, MACs and IPs") found there.

- the lab's guest image as a raw disk with a data file of the test's own;
- a VM nova does not manage holding it (the lab's simulator), read back through ExportVm;
- a nova instance on a vSphere proxy holding it (a private one-host simulator, as test_proxy_compute_spawn.py):
  nova's lock and os-stop on it, and why it cannot have a port in the lab;
- that disk booted on a KVM host (``openstack server create --nic none``), its console showing the data file,
  with the image properties the plan could give an LSI Logic disk.
"""

import os
import subprocess
import time
from uuid import uuid4

import pytest
from pyVim.task import WaitForTask
from pyVmomi import vim

from helpers.cloud import Cloud, guest_manifest, openstack_cli, vsphere_proxy
from helpers.kvm import KvmCloud, virsh
from helpers.migration import (build_guest_image, exported_sha256, find_vm, guest_disk_bytes, nova_instance_with_guest,
                               vm_with_guest)
from helpers.vsphere import VSphere

PREFIX = "migration-lab-"
GIB = 1 << 30


@pytest.fixture(scope="module")
def guest(tmp_path_factory):
    return guest_disk_bytes(tmp_path_factory.mktemp("guest-disk"), "migration-lab " + uuid4().hex[:12])


def test_the_guest_disk_is_the_lab_image_with_the_test_data_file(guest, tmp_path):
    partition = "%s@@%d" % (guest.path, build_guest_image.PARTITION_START * 512)
    env = dict(os.environ, MTOOLS_SKIP_CHECK="1")
    data = subprocess.run(["mtype", "-i", partition, "::/" + build_guest_image.DATA_FILE], check=True,
                          capture_output=True, text=True, env=env).stdout
    assert data == guest.data + "\n"
    files = subprocess.run(["mdir", "-b", "-i", partition, "::/"], check=True, capture_output=True, text=True,
                           env=env).stdout.split()
    # The data file replaced, not added (SYSLINUX's ldlinux.sys and .c32 are hidden: mdir -b leaves them out).
    assert sorted(files) == ["::/initrd.gz", "::/lab-data.txt", "::/syslinux.cfg", "::/vmlinuz"], files
    image = tmp_path / "image.raw"
    subprocess.run(["qemu-img", "convert", "-O", "raw", guest_manifest()["qcow2"], str(image)], check=True)
    with guest.path.open("rb") as disk, image.open("rb") as original:
        assert disk.read(512) == original.read(512)  # the MBR: boot code and partition table
    assert guest.size == image.stat().st_size == guest_manifest()["virtual_size"]
    assert guest.sha256 == guest.sha256_as(guest.size) != guest.sha256_as(guest.size + 512)


def test_a_vm_nova_does_not_manage_holds_the_guest_and_exports_it(vsphere, guest):
    found = vm_with_guest(vsphere.si, PREFIX + "unmanaged", guest)
    vm = found["vm"]
    try:
        hardware = vm.config.hardware
        assert (vm.runtime.powerState, vm.config.managedBy, hardware.numCPU, hardware.memoryMB) == (
            "poweredOn", None, 1, 256)
        assert not [d for d in hardware.device if isinstance(d, vim.vm.device.VirtualEthernetCard)]
        assert [type(d) for d in hardware.device if isinstance(d, vim.vm.device.VirtualSCSIController)] == [
            vim.vm.device.VirtualLsiLogicController]
        assert (found["moid"], found["instance_uuid"]) == (vm._moId, vm.config.instanceUuid)
        assert found["capacity"] == guest.size and found["sha256"] == guest.sha256

        WaitForTask(vm.PowerOffVM_Task())
        assert exported_sha256(vsphere.si, vm) == {"/%s/VirtualLsiLogicController0:0" % vm._moId: guest.sha256}
    finally:
        if vm.runtime.powerState != "poweredOff":
            WaitForTask(vm.PowerOffVM_Task())
        WaitForTask(vm.Destroy_Task())


def wait_status(cloud, server_id, status, timeout=180):
    deadline = time.monotonic() + timeout
    while (server := cloud.call("GET", "/servers/%s" % server_id)["server"])["status"] != status:
        assert time.monotonic() < deadline and server["status"] != "ERROR", server
        time.sleep(1)


def test_a_nova_instance_on_a_vsphere_proxy_holds_the_guest_locks_stops_and_exports_it(
        lab, guest, tmp_path_factory):
    started = time.monotonic()
    cloud = Cloud(lab["env"])
    work = tmp_path_factory.mktemp("migration-vcenter")
    with vsphere_proxy(lab, work, "vmware-proxy-migration", "migration-secret",
                       "6c1f8b2a-3d4e-4f5a-8b9c-0d1e2f3a4b5c") as proxy:
        session = VSphere(proxy["vcenter"])
        name = PREFIX + "nova"
        try:
            with nova_instance_with_guest(lab, proxy, session.si, name, guest) as found:
                print("a proxy and an ACTIVE instance holding the guest in %.0f s" % (time.monotonic() - started))
                server_id = found["server"]["id"]
                vm = find_vm(session.si, server_id)
                assert found["instance_uuid"] == server_id
                assert vm.config.managedBy.extensionKey == "org.openstack.compute"
                # The flavor's GiB: the guest's bytes, then zeros.
                assert found["capacity"] == GIB and found["sha256"] == guest.sha256_as(GIB) != guest.sha256

                action = "/servers/%s/action" % server_id
                cloud.call("POST", action, {"lock": {"locked_reason": "migration"}}, microversion="2.73")
                locked = cloud.call("GET", "/servers/%s" % server_id, microversion="2.73")["server"]
                assert (locked["locked"], locked["locked_reason"]) == (True, "migration")
                # A locked server still stops for the admin (nova lets admins act on locked servers).
                cloud.call("POST", action, {"os-stop": None})
                wait_status(cloud, server_id, "SHUTOFF")
                assert vm.runtime.powerState == "poweredOff"
                assert exported_sha256(session.si, vm) == {
                    "/%s/VirtualLsiLogicController0:0" % vm._moId: found["sha256"]}

                ports_cannot_bind_on_the_vsphere_proxy(lab, cloud, proxy, session.si, name, server_id)
                cloud.call("POST", action, {"unlock": None})
                assert cloud.call("GET", "/servers/%s" % server_id, microversion="2.73")["server"]["locked"] is False
        finally:
            session.close()


def ports_cannot_bind_on_the_vsphere_proxy(lab, cloud, proxy, si, name, server_id):
    """The lab's neutron (ML2 without mechanism drivers) binds no port for the VMware driver either: attaching one to
    the stopped instance fails (nova answers 500, PortBindingFailed); a server created with one fails to spawn
    (PortBindingFailed) and, rescheduled to no other host, goes to ERROR."""
    net = PREFIX + "net"
    openstack = [str(lab["state"] / "venv" / "bin" / "openstack")]
    try:
        openstack_cli(lab, "network", "create", "--provider-network-type", "flat", "--provider-physical-network",
                      "physnet1", net)
        openstack_cli(lab, "subnet", "create", "--network", net, "--subnet-range", "10.77.0.0/24", net)
        port = openstack_cli(lab, "port", "create", "--network", net, net + "-a")
        answer = cloud.conn.compute.request("/servers/%s/os-interface" % server_id, "POST", microversion="2.53",
                                            json={"interfaceAttachment": {"port_id": port["id"]}}, raise_exc=False)
        assert answer.status_code == 500, answer.text
        assert openstack_cli(lab, "port", "show", port["id"])["binding_vif_type"] == "binding_failed"
        assert not [d for d in find_vm(si, server_id).config.hardware.device
                    if isinstance(d, vim.vm.device.VirtualEthernetCard)]
        other = openstack_cli(lab, "port", "create", "--network", net, net + "-b")
        created = subprocess.run(openstack + ["--os-compute-api-version", "2.74", "server", "create", "--image", name,
                                              "--flavor", name, "--port", other["id"], "--host", proxy["host"],
                                              "--wait", net, "-f", "json"],
                                 env=proxy["env"], capture_output=True, text=True, timeout=300, check=False)
        print("server create --port on the proxy:", created.returncode, created.stderr[-500:])
        failed = openstack_cli(lab, "server", "show", net)
        assert failed["status"] == "ERROR" and "Exhausted all hosts" in failed["fault"]["message"], failed
        # Why: the proxy's nova-compute (the build's instance action event reads Success: the build was rescheduled).
        log = (lab["state"] / "proxies" / proxy["host"] / "supervisor" / "nova-compute.log").read_text()
        assert "[instance: %s] Instance failed to spawn: nova.exception.PortBindingFailed" % failed["id"] in log
    finally:
        for command in (["server", "delete", "--wait", net], ["port", "delete", net + "-a", net + "-b"],
                        ["subnet", "delete", net], ["network", "delete", net]):
            subprocess.run(openstack + command, env=proxy["env"], capture_output=True, check=False, timeout=300)


@pytest.fixture(scope="module")
def kvm(lab):
    cloud = KvmCloud(lab["env"])
    yield cloud
    cloud.delete([PREFIX])


# The plan's image properties for an LSI Logic disk, and what the lab's guest (drivers: virtio, IDE, LSI Logic's
# mptspi) finds on a KVM host with them: QEMU's "lsilogic" is the LSI 53C895A (sym53c8xx), not the LSI53C1030 that
# vSphere emulates (mptspi), so the guest boots (SeaBIOS reads the disk) and its kernel finds no disk.
# By SCSI model: the image's other properties, and whether the guest finds its disk.
BOOTS = {
    "lsilogic": {"properties": {"hw_vif_model": "vmxnet3"}, "finds_disk": False},
    "virtio-scsi": {"properties": {}, "finds_disk": True},
}


def test_the_guest_disk_boots_on_kvm_with_no_nic_and_shows_its_data_file(lab, kvm, guest):
    qcow2 = guest.path.with_suffix(".qcow2")
    subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "qcow2", str(guest.path), str(qcow2)], check=True)
    kvm.flavor(PREFIX + "tiny", 256)
    images = {}
    try:
        for name, boot in BOOTS.items():
            images[name] = kvm.conn.create_image(PREFIX + name, filename=str(qcow2), disk_format="qcow2",
                                                 container_format="bare", wait=True, hw_disk_bus="scsi",
                                                 hw_scsi_model=name, **boot["properties"]).id
        started = time.monotonic()
        servers = {name: openstack_cli(lab, "server", "create", "--image", images[name], "--flavor", PREFIX + "tiny",
                                       "--nic", "none", PREFIX + name, microversion="2.74") for name in BOOTS}
        for name, boot in BOOTS.items():
            server = kvm.wait(PREFIX + name, 1, lambda s: s["status"] == "ACTIVE")[0]
            console = kvm.console(server["id"])
            print("%s: ACTIVE, console complete after %.0f s" % (name, time.monotonic() - started))
            xml = virsh(kvm.hosts[server["OS-EXT-SRV-ATTR:host"]], "dumpxml", server["OS-EXT-SRV-ATTR:instance_name"])
            assert "<controller type='scsi' index='0' model='%s'>" % name in xml and "<interface" not in xml
            if boot["finds_disk"]:
                assert (console.data, console.uuid, console.token_state) == (guest.data, servers[name]["id"], "new")
            else:
                assert console.ready and console.error == "no disk holds lab-data.txt", console
    finally:
        kvm.delete([PREFIX])
        for image in images.values():
            kvm.conn.image.delete_image(image)
