"""A migration's source VM from its properties (pyVmomi data objects, no vCenter) to the plan's plain dict."""

from pyVmomi import vim

from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._migration import plan as migration
from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._vcenter.migration_reads import source_of

GIB = 1 << 30
dev = vim.vm.device


def disk(key, unit, controller, capacity, backing):
    return dev.VirtualDisk(key=key, unitNumber=unit, controllerKey=controller, capacityInBytes=capacity,
                           capacityInKB=capacity // 1024, backing=backing,
                           deviceInfo=vim.Description(label="Hard disk %d" % (unit + 1), summary=""))


def row():
    flat = dev.VirtualDisk.FlatVer2BackingInfo(fileName="[nfs-a] db01/db01.vmdk", diskMode="persistent",
                                               thinProvisioned=True)
    rdm = dev.VirtualDisk.RawDiskMappingVer1BackingInfo(fileName="[nfs-a] db01/lun.vmdk",
                                                        compatibilityMode="physicalMode",
                                                        diskMode="independent_persistent", sharing="sharingNone")
    devices = [
        dev.VirtualLsiLogicController(key=1000, busNumber=0),
        dev.ParaVirtualSCSIController(key=1001, busNumber=1),
        disk(2000, 0, 1000, 10 * GIB, flat),
        disk(2001, 0, 1001, 5 * GIB, rdm),
        dev.VirtualVmxnet3(key=4000, macAddress="00:50:56:AA:00:01",
                           backing=dev.VirtualEthernetCard.NetworkBackingInfo(deviceName="VLAN-100")),
        dev.VirtualE1000(key=4001, macAddress="00:50:56:aa:00:02",
                         backing=dev.VirtualEthernetCard.DistributedVirtualPortBackingInfo(
                             port=vim.dvs.PortConnection(portgroupKey="dvportgroup-21", switchUuid="x"))),
        dev.VirtualCdrom(key=3000, deviceInfo=vim.Description(label="CD/DVD drive 1", summary="")),
        dev.VirtualPCIPassthrough(key=5000, deviceInfo=vim.Description(label="PCI device 0", summary=""),
                                  backing=dev.VirtualPCIPassthrough.VmiopBackingInfo(vgpu="grid_t4-4q")),
        dev.VirtualVideoCard(key=500),
        dev.VirtualKeyboard(key=600),
    ]
    snapshots = vim.vm.SnapshotInfo(rootSnapshotList=[vim.vm.SnapshotTree(
        name="a", childSnapshotList=[vim.vm.SnapshotTree(name="b"), vim.vm.SnapshotTree(name="c")])])
    guest = [vim.vm.GuestInfo.NicInfo(macAddress="00:50:56:aa:00:01", ipAddress=["10.0.100.5", "fe80::1"])]
    return {"obj": None, "moid": "vm-42", "name": "db01", "config.instanceUuid": "5003a1b2",
            "config.changeVersion": "2026-12-01T20:00:00.1Z", "runtime.powerState": "poweredOn",
            "config.hardware.numCPU": 2, "config.hardware.memoryMB": 4096, "config.firmware": "efi",
            "config.hardware.device": devices, "config.keyId": None, "snapshot": snapshots, "guest.net": guest,
            "config.bootOptions.bootOrder": [vim.vm.BootOptions.BootableCdromDevice(),
                                             vim.vm.BootOptions.BootableDiskDevice(deviceKey=2000)]}


def test_a_vm_reads_as_the_plans_source():
    source = source_of(row())
    assert {k: v for k, v in source.items() if k not in ("disks", "nics", "other_devices")} == {
        "name": "db01", "moref": "vm-42", "boot_disk": 2000, "instance_uuid": "5003a1b2", "power_state": "poweredOn", "cpus": 2,
        "memory_mb": 4096, "firmware": "efi", "snapshots": 3, "encrypted": False,
        "change_version": "2026-12-01T20:00:00.1Z", "nova": None}
    assert source["disks"] == [
        {"key": 2000, "label": "Hard disk 1", "capacity_bytes": 10 * GIB, "controller": "VirtualLsiLogicController",
         "bus": 0, "unit": 0, "backing": "flat", "mode": "persistent", "sharing": "sharingNone",
         "file": "[nfs-a] db01/db01.vmdk"},
        {"key": 2001, "label": "Hard disk 1", "capacity_bytes": 5 * GIB, "controller": "ParaVirtualSCSIController",
         "bus": 1, "unit": 0, "backing": "rdm_physical", "mode": "independent_persistent", "sharing": "sharingNone",
         "file": "[nfs-a] db01/lun.vmdk"}]
    assert source["nics"] == [
        {"key": 4000, "mac": "00:50:56:aa:00:01", "network": "VLAN-100", "type": "VirtualVmxnet3",
         "ips": ["10.0.100.5", "fe80::1"]},
        {"key": 4001, "mac": "00:50:56:aa:00:02", "network": "dvportgroup-21", "type": "VirtualE1000", "ips": []}]
    assert source["other_devices"] == [{"kind": "cdrom", "label": "CD/DVD drive 1"},
                                       {"kind": "vgpu", "label": "PCI device 0"}]


def test_what_it_reads_plans():
    plan = migration.plan_migration(source_of(row()), {"flavor": {"id": "f", "name": "f", "vcpus": 2, "ram": 4096,
                                                                  "disk": 0}, "cinder": True})
    assert [b["what"] for b in plan["blockers"]][:1] == ["disk 2001 (Hard disk 1)"]
    assert plan["disks"][0]["device_url_key"] == "/vm-42/VirtualLsiLogicController0:0"
