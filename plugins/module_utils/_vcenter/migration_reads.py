# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The source VM of a migration, read in one PropertyCollector call, as ``_migration/plan.py``'s source dict.

``read_source(client, ref)`` reads the VM's listed properties at once; ``source_of(row)`` turns
them into plain data: its disks (device key, capacity, controller type, bus and unit, backing
kind, mode, sharing), its NICs (MAC, network, card type, the IPs VMware Tools reports), the other
devices a migration cannot carry, power state, firmware, snapshot count, encryption, and the
``config.changeVersion`` that goes into the stopped source's fingerprint. Device objects are read
by their type's name (``vim.vm.device.VirtualDisk``), so this file imports no SDK.
"""

from __future__ import annotations

from .client import VCenterError, managed_object_types

PROPERTIES = ["name", "config.instanceUuid", "config.changeVersion", "runtime.powerState", "config.hardware.numCPU",
              "config.hardware.memoryMB", "config.firmware", "config.hardware.device", "config.keyId", "snapshot",
              "guest.net", "config.bootOptions.bootOrder"]
DISK_MODES = {"independent_persistent", "independent_nonpersistent", "persistent", "nonpersistent", "undoable",
              "append"}
# Devices that carry something a copy of the disks does not; controllers, video, input and VMCI do not.
OTHER_DEVICES = {"VirtualCdrom": "cdrom", "VirtualFloppy": "floppy", "VirtualUSB": "usb",
                 "VirtualPCIPassthrough": "pci_passthrough", "VirtualSerialPort": "serial",
                 "VirtualParallelPort": "parallel", "VirtualSoundCard": "sound", "VirtualEnsoniq1371": "sound",
                 "VirtualHdAudioCard": "sound", "VirtualSoundBlaster16": "sound", "VirtualTPM": "vtpm"}
NIC_TYPES = {"VirtualVmxnet3", "VirtualVmxnet3Vrdma", "VirtualVmxnet2", "VirtualVmxnet", "VirtualE1000",
             "VirtualE1000e", "VirtualPCNet32", "VirtualSriovEthernetCard"}


def type_name(obj):
    """The last part of a pyVmomi object's type name: vim.vm.device.VirtualDisk -> VirtualDisk,
    vim.vm.device.VirtualDisk.FlatVer2BackingInfo -> FlatVer2BackingInfo."""
    return type(obj).__name__.rpartition(".")[2]


def _backing_kind(backing):
    kind = type_name(backing)
    if kind == "RawDiskMappingVer1BackingInfo":
        return "rdm_physical" if getattr(backing, "compatibilityMode", None) == "physicalMode" else "rdm_virtual"
    if kind in ("FlatVer2BackingInfo", "FlatVer1BackingInfo"):
        return "flat"
    if "Sparse" in kind:
        return "sparse"
    return kind


def _network(backing):
    kind = type_name(backing)
    if kind == "DistributedVirtualPortBackingInfo":
        return backing.port.portgroupKey
    if kind == "OpaqueNetworkBackingInfo":
        return backing.opaqueNetworkId
    return getattr(backing, "deviceName", None)


def _count_snapshots(trees):
    return sum(1 + _count_snapshots(getattr(tree, "childSnapshotList", None) or ()) for tree in trees or ())


def source_of(row):
    """The plan's source dict from one VM's properties (a ``retrieve_objects`` row)."""
    devices = row.get("config.hardware.device") or ()
    controllers = {device.key: device for device in devices if hasattr(device, "busNumber")}
    ips = {}
    for nic in row.get("guest.net") or ():
        if getattr(nic, "macAddress", None):
            ips[nic.macAddress.lower()] = [ip for ip in getattr(nic, "ipAddress", None) or () if ip]
    disks, nics, others = [], [], []
    for device in devices:
        kind = type_name(device)
        label = getattr(getattr(device, "deviceInfo", None), "label", None)
        if kind == "VirtualDisk":
            controller = controllers.get(device.controllerKey)
            backing = device.backing
            capacity = getattr(device, "capacityInBytes", None) or (device.capacityInKB or 0) * 1024
            disks.append({
                "key": device.key, "label": label, "capacity_bytes": capacity,
                "controller": type_name(controller) if controller is not None else None,
                "bus": getattr(controller, "busNumber", None), "unit": device.unitNumber,
                "backing": _backing_kind(backing), "mode": getattr(backing, "diskMode", None),
                "sharing": getattr(backing, "sharing", None) or "sharingNone",
                "file": getattr(backing, "fileName", None),
            })
        elif kind in NIC_TYPES:
            mac = (device.macAddress or "").lower()
            nics.append({"key": device.key, "mac": mac, "network": _network(device.backing), "type": kind,
                         "ips": ips.get(mac, [])})
        elif kind in OTHER_DEVICES:
            other = OTHER_DEVICES[kind]
            if other == "pci_passthrough" and "Vmiop" in type_name(device.backing):
                other = "vgpu"
            others.append({"kind": other, "label": label})
    boot = [getattr(entry, "deviceKey", None) for entry in row.get("config.bootOptions.bootOrder") or ()
            if type_name(entry) == "BootableDiskDevice"]
    return {
        "name": row["name"], "moref": row["moid"], "boot_disk": boot[0] if boot else None, "instance_uuid": row.get("config.instanceUuid"),
        "power_state": str(row.get("runtime.powerState")), "cpus": row.get("config.hardware.numCPU"),
        "memory_mb": row.get("config.hardware.memoryMB"), "firmware": row.get("config.firmware") or "bios",
        "snapshots": _count_snapshots(getattr(row.get("snapshot"), "rootSnapshotList", None)),
        "encrypted": row.get("config.keyId") is not None,
        "change_version": row.get("config.changeVersion"),
        "disks": disks, "nics": nics, "other_devices": others, "nova": None,
    }


def read_source(client, ref):
    """The VM ``ref`` as the plan's source (``nova`` is the caller's to fill in for a nova instance)."""
    vim = managed_object_types()
    rows = client.retrieve_objects(vim.VirtualMachine, [ref], PROPERTIES)
    return source_of(rows[0]) if rows else None


def find_vm(client, name=None, uuid=None, moref=None):
    """The VM a migration's source names, by exactly one of name, instance UUID or moref; None if none.

    One read of every VM's name and instance UUID (a moref is looked up as well, so that a
    wrong one is "not found" and not a fault later). Two VMs of one name are refused: the
    caller is to name it by UUID or moref.
    """
    vim = managed_object_types()
    rows = client.retrieve(vim.VirtualMachine, ["name", "config.instanceUuid"])
    if moref:
        found = [row for row in rows if row["moid"] == moref]
    elif uuid:
        found = [row for row in rows if (row.get("config.instanceUuid") or "").lower() == uuid.lower()]
    else:
        found = [row for row in rows if row.get("name") == name]
    if len(found) > 1:
        raise VCenterError("%d VMs of vCenter %s are named %s (%s): name the source by vm_uuid or vm_moref." % (
            len(found), client.endpoint, name, ", ".join(row["moid"] for row in found)))
    return found[0]["obj"] if found else None


def fingerprint_facts(source):
    """What the stopped source's fingerprint (``steps.source_fingerprint``) is made of: its power state,
    its configuration's version and each disk's file and size (a power-on or a reconfigure changes them)."""
    return {"power_state": source["power_state"], "change_version": source.get("change_version"),
            "disks": [[disk["key"], disk.get("file"), disk["capacity_bytes"]] for disk in source["disks"]]}
