"""The lab side of the migration's end-to-end tests (issue 16): each helper of helpers/migration.py on the real lab,
and what the design's open questions (docs/migration-design.md, "Ports, MACs and IPs") found there.

- the lab's guest image as a raw disk with a data file of the test's own;
- a VM nova does not manage holding it (the lab's simulator), read back through ExportVm;
- that disk booted on a KVM host (``openstack server create --nic none``) with libvirt's ``lsilogic`` SCSI
  controller, where the guest finds no disk (why plan.py's DISK_BUS puts an LSI Logic disk on IDE), and with
  ``virtio-scsi``, where it boots and shows its data file (the disk itself is sound).

The nova instance on a vSphere proxy (helpers/migration.py ``nova_instance_with_guest``) and what the lab shows
about its ports are in test_vm_migrate.py, beside its migration, so that the lab provisions that proxy once.
"""

import os
import subprocess
import time
from uuid import uuid4

import pytest
from pyVim.task import WaitForTask
from pyVmomi import vim

from helpers.cloud import guest_manifest, openstack_cli
from helpers.kvm import KvmCloud, virsh
from helpers.migration import build_guest_image, exported_sha256, guest_disk_bytes, vm_with_guest

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
