# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The plan of a cold migration from vSphere to KVM: disks, flavor, ports, what stays behind and why.

Pure logic over plain data (docs/migration-design.md): a source VM as the vCenter reads
describe it (its disks, NICs and other devices, power state, and for a nova instance nova's
server and ports), the target as the OpenStack reads describe it (a flavor, or an aggregate
with the flavors that may land on it; the networks reachable from its KVM hosts; whether the
cloud has cinder) and the operator's network map. The plan is what check mode returns and
what every later step follows; ``blockers`` not empty means nothing may be written.

Source::

    {"name", "moref", "instance_uuid", "power_state": "poweredOn" | "poweredOff" | "suspended",
     "cpus", "memory_mb", "firmware": "bios" | "efi", "snapshots": int, "encrypted": bool,
     "boot_disk": None | the device key the VM's boot order names (else the first disk boots),
     "disks": [{"key", "label", "capacity_bytes", "controller" (vim type name, e.g.
                "VirtualLsiLogicController"), "bus", "unit", "backing": "flat" | "sparse" |
                "rdm_physical" | "rdm_virtual", "mode" (vim diskMode), "sharing" (vim sharing)}]
              in vCenter's device order,
     "nics": [{"key", "mac", "network" (port group name), "type" (vim type name), "ips": [...]}],
     "other_devices": [{"kind": "cdrom" | "floppy" | "usb" | "pci_passthrough" | "vgpu" | ..., "label"}],
     "nova": None | {"id", "status", "metadata": {}, "flavor": {"vcpus", "ram", "disk"},
                     "ports": [{"id", "mac", "network_id", "fixed_ips": [{"subnet_id", "ip_address"}]}]}}

Target::

    {"flavor": None | {"id", "name", "vcpus", "ram", "disk"},
     "aggregate": None | {"name", "availability_zone"},
     "flavors": [flavor, ...],            # candidates when no flavor is named, already those the aggregate takes
     "networks": {network_id: {"name", "on_target": bool, "subnets": [{"id", "cidr"}]}},
     "network_map": {source network (port group name or neutron network id): target network id},
     "cinder": bool}
"""

from __future__ import annotations

import ipaddress

GIB = 1 << 30
STOPPABLE = ("poweredOn", "poweredOff")
# What ExportVm cannot read, or what a copy of the bytes would not make whole on the target.
REFUSED_BACKINGS = {
    "rdm_physical": "a physical-mode raw device mapping: its LUN is not in any VMDK that ExportVm serves; "
                    "move the LUN's data separately or convert it to a virtual disk first (Storage vMotion)",
}
REFUSED_SHARING = {
    "sharingMultiWriter": "a multi-writer disk shared with other VMs (a cluster's quorum or data disk): "
                          "a copy taken while the others run is not consistent; move the cluster as a whole",
}
NOT_MOVED_DEVICES = {
    "cdrom": "a CD/DVD drive: its medium (an ISO on a datastore, or a host device) is not a disk of the VM",
    "floppy": "a floppy drive: its image is not a disk of the VM",
    "usb": "a USB device passed through from its ESXi host",
    "pci_passthrough": "a PCI device passed through from its ESXi host (no such device on the KVM host)",
    "vgpu": "a vGPU profile of the ESXi host's GPU",
    "serial": "a serial port's backing (file, pipe or network)",
}
# Source controller and NIC types -> the image properties that give an unconverted guest
# devices it has drivers for. QEMU has no LSI53C1030 (vSphere's "LSI Logic Parallel", which
# guests drive with mptspi) nor BusLogic: libvirt's "lsilogic" is the LSI 53C895A, whose
# driver (sym53c8xx) a vSphere guest lacks, so those disks go on IDE, which every x86 guest
# drives (the lab's guest boots on it, and not on lsilogic). On q35 (EFI) there is no IDE: SATA.
# QEMU does have vSphere's LSI SAS (mptsas1068) and paravirtual SCSI (pvscsi).
DISK_BUS = {
    "VirtualLsiLogicController": {"hw_disk_bus": "ide"},
    "VirtualBusLogicController": {"hw_disk_bus": "ide"},
    "VirtualLsiLogicSASController": {"hw_disk_bus": "scsi", "hw_scsi_model": "lsisas1068"},
    "ParaVirtualSCSIController": {"hw_disk_bus": "scsi", "hw_scsi_model": "vmpvscsi"},
    "VirtualAHCIController": {"hw_disk_bus": "sata"},
    "VirtualIDEController": {"hw_disk_bus": "ide"},
    "VirtualNVMEController": {"hw_disk_bus": "sata"},
}
VIF_MODEL = {"VirtualVmxnet3": "vmxnet3", "VirtualE1000": "e1000", "VirtualE1000e": "e1000e"}


def device_url_key(moref, disk):
    """The key ExportVm's lease gives the disk's device URL: /<vm>/<controller type><bus>:<unit>."""
    return "/%s/%s%d:%d" % (moref, disk["controller"], disk["bus"], disk["unit"])


def disks_of_device_urls(moref, disks, device_urls):
    """Each disk's device URL of a lease (list of {"key", "url", "fileSize", "disk"}), by disk key.

    A disk of the plan without a URL in the lease is an error the caller reports: the lease
    was taken of another VM or its devices changed since the plan.
    """
    by_key = {url["key"]: url for url in device_urls if url.get("disk", True)}
    found, missing = {}, []
    for disk in disks:
        url = by_key.get(device_url_key(moref, disk))
        if url is None:
            missing.append(disk["key"])
        else:
            found[disk["key"]] = url
    return found, missing


def _need_gib(capacity_bytes):
    return -(-capacity_bytes // GIB)


def _fits(flavor, source, root_gib):
    return (flavor["vcpus"] >= source["cpus"] and flavor["ram"] >= source["memory_mb"]
            and (flavor["disk"] == 0 or flavor["disk"] >= root_gib))


def choose_flavor(source, target, root_gib):
    """The named flavor, or the smallest candidate that fits (vCPUs, RAM, root disk); and a blocker."""
    flavor = target.get("flavor")
    if flavor:
        if flavor["disk"] and flavor["disk"] < root_gib:
            return flavor, "flavor %s has a %d GiB root disk; the boot disk holds %d GiB (nova refuses a smaller " \
                           "disk: FlavorDiskSmallerThanImage)" % (flavor["name"], flavor["disk"], root_gib)
        return flavor, None
    fitting = [f for f in target.get("flavors") or () if _fits(f, source, root_gib)]
    if not fitting:
        return None, "no flavor of the target fits %d vCPUs, %d MiB of RAM and a %d GiB root disk" % (
            source["cpus"], source["memory_mb"], root_gib)
    return min(fitting, key=lambda f: (f["vcpus"], f["ram"], f["disk"] or root_gib, f["name"])), None


def _plan_disks(source, target, plan):
    disks = list(source.get("disks") or ())
    boot_key = source.get("boot_disk")
    if boot_key is not None:  # the VM's boot order names it: it goes first, the others keep their order
        disks.sort(key=lambda d: d["key"] != boot_key)
    for index, disk in enumerate(disks):
        what = "disk %s (%s)" % (disk["key"], disk.get("label", ""))
        refused = REFUSED_BACKINGS.get(disk.get("backing")) or REFUSED_SHARING.get(disk.get("sharing"))
        if refused:
            plan["blockers"].append({"what": what, "why": refused})
            continue
        boot = index == 0
        if not boot and not target.get("cinder"):
            why = "a data disk needs a cinder volume and this cloud has no cinder: nova boots a server from one image only"
            plan["blockers"].append({"what": what, "why": why})
            continue
        if disk.get("mode") == "independent_nonpersistent":
            plan["not_moved"].append({"what": what + " changes since power-on",
                                      "why": "an independent non-persistent disk drops its changes at power-off; "
                                             "its base is moved"})
        properties = dict(DISK_BUS.get(disk["controller"], {"hw_disk_bus": "sata"}))
        if source.get("firmware") == "efi" and properties["hw_disk_bus"] == "ide":
            properties["hw_disk_bus"] = "sata"  # q35, which EFI needs, has no IDE
        plan["disks"].append({
            "key": disk["key"], "label": disk.get("label"), "capacity_bytes": disk["capacity_bytes"],
            "device_url_key": device_url_key(source["moref"], disk), "boot": boot,
            "into": "image" if boot else "volume", "image_properties": properties,
        })
    if not plan["disks"] and not plan["blockers"]:
        plan["blockers"].append({"what": "the VM", "why": "it has no virtual disk to move"})


def _subnet_of(ip, subnets):
    address = ipaddress.ip_address(ip)
    for subnet in subnets:
        if address in ipaddress.ip_network(subnet["cidr"], strict=False):
            return subnet["id"]
    return None


def _new_port(nic_view, source_network, ips, target, plan):
    """A new port on the mapped network with the source's MAC and, where known, its IPs."""
    network_id = (target.get("network_map") or {}).get(source_network)
    network = (target.get("networks") or {}).get(network_id)
    if network is None:
        plan["blockers"].append({"what": "NIC %s on %s" % (nic_view["mac"], source_network),
                                 "why": "no target network for it: add it to network_map (a network the KVM hosts "
                                        "reach)"})
        return
    fixed_ips = []
    for ip in ips:
        subnet = _subnet_of(ip, network.get("subnets") or ())
        if subnet is None:
            plan["blockers"].append({"what": "IP %s of NIC %s" % (ip, nic_view["mac"]),
                                     "why": "no subnet of network %s holds it" % network.get("name", network_id)})
            return
        fixed_ips.append({"subnet_id": subnet, "ip_address": ip})
    nic_view.update(action="new_port", target_network=network_id, fixed_ips=fixed_ips)
    if not ips:
        plan["not_moved"].append({"what": "the IPs of NIC %s" % nic_view["mac"],
                                  "why": "vCenter reports none (no VMware Tools in the guest): neutron allocates new "
                                         "ones, the MAC stays"})


def _plan_nics(source, target, plan):
    """The issue's rule: a nova instance keeps its own ports (same IDs, MACs, IPs) where their network
    reaches the KVM hosts; else, and for a VM nova does not manage, a new port with the same MAC
    and fixed IPs on the mapped network."""
    nova = source.get("nova")
    types = {nic["mac"].lower(): nic.get("type") for nic in source.get("nics") or ()}
    networks = target.get("networks") or {}
    if nova:
        for port in nova.get("ports") or ():
            view = {"mac": port["mac"], "port_id": port["id"], "network": port["network_id"],
                    "vif_model": VIF_MODEL.get(types.get(port["mac"].lower()))}
            if (networks.get(port["network_id"]) or {}).get("on_target"):
                view.update(action="move_port", target_network=port["network_id"],
                            fixed_ips=[dict(ip) for ip in port.get("fixed_ips") or ()])
            else:
                _new_port(view, port["network_id"], [ip["ip_address"] for ip in port.get("fixed_ips") or ()],
                          target, plan)
            plan["nics"].append(view)
        return
    for nic in source.get("nics") or ():
        view = {"mac": nic["mac"], "port_id": None, "network": nic["network"],
                "vif_model": VIF_MODEL.get(nic.get("type"))}
        _new_port(view, nic["network"], list(nic.get("ips") or ()), target, plan)
        plan["nics"].append(view)


def plan_migration(source, target, guest_conversion=False):
    """Everything a cold migration will do, as plain data; nothing may be written while blockers exist.

    ``guest_conversion``: whether the module will run virt-v2v-in-place on the boot disk (else the
    plan says the guest is left as it is).
    """
    plan = {
        "migration_id": source["instance_uuid"],
        "source": {"name": source["name"], "moref": source["moref"], "instance_uuid": source["instance_uuid"],
                   "nova_id": (source.get("nova") or {}).get("id"), "power_state": source["power_state"]},
        "disks": [], "nics": [], "flavor": None, "availability_zone": None,
        "stop": None, "metadata": {}, "image_properties": {},
        "not_moved": [], "blockers": [],
    }
    nova = source.get("nova")
    if source["power_state"] not in STOPPABLE:
        why = "it is %s: its memory state would be lost; resume it and shut it down, or power it off"
        plan["blockers"].append({"what": "the VM", "why": why % source["power_state"]})
    if source.get("encrypted"):
        why = "it is encrypted (VM encryption): ExportVm refuses it; decrypt it first"
        plan["blockers"].append({"what": "the VM", "why": why})
    if source["power_state"] == "poweredOn":
        plan["stop"] = "nova" if nova else "vcenter"
    _plan_disks(source, target, plan)
    root_gib = _need_gib(plan["disks"][0]["capacity_bytes"]) if plan["disks"] else 0
    flavor, refused = choose_flavor(source, target, root_gib)
    if refused:
        plan["blockers"].append({"what": "the flavor", "why": refused})
    if flavor:
        plan["flavor"] = {k: flavor[k] for k in ("id", "name", "vcpus", "ram", "disk")}
        if flavor["vcpus"] < source["cpus"] or flavor["ram"] < source["memory_mb"]:
            plan["not_moved"].append({"what": "the VM's size", "why": "flavor %s has %d vCPUs and %d MiB; the source "
                                      "has %d and %d" % (flavor["name"], flavor["vcpus"], flavor["ram"],
                                                         source["cpus"], source["memory_mb"])})
    aggregate = target.get("aggregate")
    if aggregate:
        plan["availability_zone"] = aggregate.get("availability_zone")
    _plan_nics(source, target, plan)
    if source.get("firmware") == "efi":
        plan["image_properties"]["hw_firmware_type"] = "uefi"
        plan["image_properties"]["hw_machine_type"] = "q35"
    models = {nic["vif_model"] for nic in plan["nics"] if nic.get("vif_model")}
    if len(models) == 1:
        plan["image_properties"]["hw_vif_model"] = models.pop()
    if nova:
        plan["metadata"].update(nova.get("metadata") or {})
    plan["metadata"]["mixed_cloud_migrated_from"] = source["instance_uuid"]
    if source.get("snapshots"):
        plan["not_moved"].append({"what": "%d snapshot(s)" % source["snapshots"],
                                  "why": "ExportVm reads the VM's current state through its snapshot chain; the "
                                         "snapshot tree itself has no KVM equivalent"})
    for device in source.get("other_devices") or ():
        why = NOT_MOVED_DEVICES.get(device["kind"], "a %s device has no KVM equivalent here" % device["kind"])
        plan["not_moved"].append({"what": device.get("label") or device["kind"], "why": why})
    if not guest_conversion:
        plan["not_moved"].append({"what": "the guest's drivers and configuration",
                                  "why": "not converted (no virt-v2v-in-place): the image properties give the guest "
                                         "the controller and NIC models it has drivers for"})
    plan["bytes_total"] = sum(disk["capacity_bytes"] for disk in plan["disks"])
    return plan
