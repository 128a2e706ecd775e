"""The cold migration's plan from a source VM's plain description and the target: plain data, no network."""

import copy

from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._migration import plan as migration

GIB = 1 << 30
UUID = "5003a1b2-0000-4000-8000-000000000042"
NET_KVM, NET_VMW, NET_MAPPED = "net-shared", "net-vds-only", "net-kvm-120"


def disk(key=2000, unit=0, capacity=10 * GIB, **more):
    return dict({"key": key, "label": "Hard disk %d" % (unit + 1), "capacity_bytes": capacity,
                 "controller": "VirtualLsiLogicController", "bus": 0, "unit": unit, "backing": "flat",
                 "mode": "persistent", "sharing": "sharingNone"}, **more)


def source(nova=True, **more):
    vm = {
        "name": "legacy-db01", "moref": "vm-42", "instance_uuid": UUID, "power_state": "poweredOn",
        "cpus": 2, "memory_mb": 4096, "firmware": "bios", "snapshots": 0, "encrypted": False,
        "disks": [disk()],
        "nics": [{"key": 4000, "mac": "00:50:56:aa:00:01", "network": "VLAN-100", "type": "VirtualVmxnet3",
                  "ips": ["10.0.100.5"]},
                 {"key": 4001, "mac": "00:50:56:aa:00:02", "network": "VLAN-120", "type": "VirtualVmxnet3",
                  "ips": []}],
        "other_devices": [],
        "nova": None,
    }
    if nova:
        vm["nova"] = {"id": UUID, "status": "ACTIVE", "metadata": {"owner": "db-team"},
                      "flavor": {"vcpus": 2, "ram": 4096, "disk": 10},
                      "ports": [{"id": "port-1", "mac": "00:50:56:aa:00:01", "network_id": NET_KVM,
                                 "fixed_ips": [{"subnet_id": "sub-100", "ip_address": "10.0.100.5"}]},
                                {"id": "port-2", "mac": "00:50:56:aa:00:02", "network_id": NET_VMW,
                                 "fixed_ips": [{"subnet_id": "sub-vmw", "ip_address": "10.0.120.9"}]}]}
    vm.update(more)
    return vm


def flavor(name, vcpus, ram, disk_gib):
    return {"id": "id-" + name, "name": name, "vcpus": vcpus, "ram": ram, "disk": disk_gib}


def target(**more):
    value = {
        "flavor": None, "aggregate": {"name": "kvm-hosts", "availability_zone": "kvm"},
        "flavors": [flavor("m.large", 4, 8192, 40), flavor("m.small", 1, 2048, 20), flavor("m.medium", 2, 4096, 20),
                    flavor("m.medium-big", 2, 4096, 80)],
        "networks": {NET_KVM: {"name": "shared", "on_target": True,
                               "subnets": [{"id": "sub-100", "cidr": "10.0.100.0/24"}]},
                     NET_VMW: {"name": "vds", "on_target": False,
                               "subnets": [{"id": "sub-vmw", "cidr": "10.0.120.0/24"}]},
                     NET_MAPPED: {"name": "kvm-120", "on_target": True,
                                  "subnets": [{"id": "sub-120", "cidr": "10.0.120.0/24"}]}},
        "network_map": {NET_VMW: NET_MAPPED, "VLAN-100": NET_KVM, "VLAN-120": NET_MAPPED},
        "cinder": False,
    }
    value.update(more)
    return value


def whys(rows):
    return [row["what"] + ": " + row["why"] for row in rows]


def test_a_nova_instance_keeps_its_ports_where_their_network_reaches_kvm_else_gets_the_same_mac_and_ip():
    plan = migration.plan_migration(source(), target())
    assert plan["blockers"] == []
    assert plan["migration_id"] == UUID
    assert plan["stop"] == "nova"
    assert plan["nics"] == [
        {"mac": "00:50:56:aa:00:01", "port_id": "port-1", "network": NET_KVM, "vif_model": "vmxnet3",
         "action": "move_port", "target_network": NET_KVM,
         "fixed_ips": [{"subnet_id": "sub-100", "ip_address": "10.0.100.5"}]},
        {"mac": "00:50:56:aa:00:02", "port_id": "port-2", "network": NET_VMW, "vif_model": "vmxnet3",
         "action": "new_port", "target_network": NET_MAPPED,
         "fixed_ips": [{"subnet_id": "sub-120", "ip_address": "10.0.120.9"}]},
    ]
    assert plan["metadata"] == {"owner": "db-team", "mixed_cloud_migrated_from": UUID}
    assert plan["image_properties"] == {"hw_vif_model": "vmxnet3"}
    assert plan["flavor"]["name"] == "m.medium"  # the smallest that fits 2 vCPUs, 4 GiB, a 10 GiB disk
    assert plan["availability_zone"] == "kvm"
    assert plan["disks"] == [{"key": 2000, "label": "Hard disk 1", "capacity_bytes": 10 * GIB,
                              "device_url_key": "/vm-42/VirtualLsiLogicController0:0", "boot": True, "into": "image",
                              "image_properties": {"hw_disk_bus": "ide"}}]
    assert plan["bytes_total"] == 10 * GIB
    assert whys(plan["not_moved"]) == ["the guest's drivers and configuration: not converted (no virt-v2v-in-place): "
                                       "the image properties give the guest the controller and NIC models it has "
                                       "drivers for"]
    assert migration.plan_migration(source(), target(), guest_conversion=True)["not_moved"] == []


def test_a_vm_nova_does_not_manage_gets_new_ports_with_its_macs_on_the_mapped_networks():
    plan = migration.plan_migration(source(nova=False, power_state="poweredOff"), target())
    assert plan["blockers"] == []
    assert plan["stop"] is None
    assert [(n["mac"], n["action"], n["port_id"], n["target_network"], n["fixed_ips"]) for n in plan["nics"]] == [
        ("00:50:56:aa:00:01", "new_port", None, NET_KVM, [{"subnet_id": "sub-100", "ip_address": "10.0.100.5"}]),
        ("00:50:56:aa:00:02", "new_port", None, NET_MAPPED, []),
    ]
    assert "the IPs of NIC 00:50:56:aa:00:02: vCenter reports none (no VMware Tools in the guest): neutron " \
           "allocates new ones, the MAC stays" in whys(plan["not_moved"])
    assert plan["metadata"] == {"mixed_cloud_migrated_from": UUID}


def test_a_nic_without_a_target_network_or_an_ip_outside_it_blocks():
    plan = migration.plan_migration(source(nova=False), target(network_map={"VLAN-100": NET_MAPPED}))
    assert whys(plan["blockers"]) == [
        "IP 10.0.100.5 of NIC 00:50:56:aa:00:01: no subnet of network kvm-120 holds it",
        "NIC 00:50:56:aa:00:02 on VLAN-120: no target network for it: add it to network_map (a network the KVM "
        "hosts reach)",
    ]


def test_what_export_cannot_read_or_a_copy_cannot_make_consistent_blocks():
    vm = source(disks=[disk(backing="rdm_physical"), disk(2001, 1, sharing="sharingMultiWriter")])
    plan = migration.plan_migration(vm, target(cinder=True))
    assert [row["what"] for row in plan["blockers"]] == ["disk 2000 (Hard disk 1)", "disk 2001 (Hard disk 2)"]
    assert "physical-mode raw device mapping" in plan["blockers"][0]["why"]
    assert "multi-writer" in plan["blockers"][1]["why"]
    assert plan["disks"] == []


def test_the_disk_the_boot_order_names_boots():
    vm = source(disks=[disk(2000, 0, capacity=GIB), disk(2001, 1)], boot_disk=2001)
    plan = migration.plan_migration(vm, target(cinder=True))
    assert [(d["key"], d["boot"]) for d in plan["disks"]] == [(2001, True), (2000, False)]
    assert plan["flavor"]["name"] == "m.medium"  # sized for the 10 GiB boot disk


def test_data_disks_need_cinder():
    vm = source(disks=[disk(2000, 0), disk(2001, 1, capacity=GIB)])
    blocked = migration.plan_migration(vm, target())
    assert whys(blocked["blockers"]) == ["disk 2001 (Hard disk 2): a data disk needs a cinder volume and this cloud "
                                         "has no cinder: nova boots a server from one image only"]
    plan = migration.plan_migration(vm, target(cinder=True))
    assert plan["blockers"] == []
    assert [(d["key"], d["boot"], d["into"]) for d in plan["disks"]] == [(2000, True, "image"), (2001, False, "volume")]
    assert plan["bytes_total"] == 11 * GIB


def test_power_states_and_encryption():
    suspended = migration.plan_migration(source(power_state="suspended"), target())
    assert whys(suspended["blockers"]) == ["the VM: it is suspended: its memory state would be lost; resume it and "
                                           "shut it down, or power it off"]
    assert suspended["stop"] is None
    encrypted = migration.plan_migration(source(encrypted=True), target())
    assert [row["why"][:17] for row in encrypted["blockers"]] == ["it is encrypted ("]
    assert migration.plan_migration(source(power_state="poweredOff"), target())["stop"] is None
    assert migration.plan_migration(source(nova=False), target())["stop"] == "vcenter"


def test_the_flavor_named_or_chosen():
    named = migration.plan_migration(source(), target(flavor=flavor("tiny", 1, 512, 5)))
    assert whys(named["blockers"]) == ["the flavor: flavor tiny has a 5 GiB root disk; the boot disk holds 10 GiB "
                                       "(nova refuses a smaller disk: FlavorDiskSmallerThanImage)"]
    assert "the VM's size: flavor tiny has 1 vCPUs and 512 MiB; the source has 2 and 4096" in whys(named["not_moved"])
    diskless = migration.plan_migration(source(), target(flavor=flavor("bfv", 2, 4096, 0)))
    assert diskless["blockers"] == [] and diskless["flavor"]["name"] == "bfv"
    big = source(disks=[disk(capacity=30 * GIB + 1)])
    assert migration.plan_migration(big, target())["flavor"]["name"] == "m.medium-big"  # 31 GiB needed
    none = migration.plan_migration(source(cpus=8), target())
    assert whys(none["blockers"]) == ["the flavor: no flavor of the target fits 8 vCPUs, 4096 MiB of RAM and a 10 GiB "
                                      "root disk"]
    assert none["flavor"] is None


def test_what_stays_behind_is_listed():
    vm = source(snapshots=2, firmware="efi", other_devices=[{"kind": "cdrom", "label": "CD/DVD drive 1"},
                                                            {"kind": "pci_passthrough", "label": "PCI device 0"},
                                                            {"kind": "sound", "label": "Sound card"}],
                disks=[disk(mode="independent_nonpersistent", controller="ParaVirtualSCSIController")])
    plan = migration.plan_migration(vm, target(), guest_conversion=True)
    assert plan["blockers"] == []
    assert [row["what"] for row in plan["not_moved"]] == [
        "disk 2000 (Hard disk 1) changes since power-on", "2 snapshot(s)", "CD/DVD drive 1", "PCI device 0",
        "Sound card"]
    assert plan["not_moved"][-1]["why"] == "a sound device has no KVM equivalent here"
    assert plan["image_properties"] == {"hw_firmware_type": "uefi", "hw_machine_type": "q35", "hw_vif_model": "vmxnet3"}
    assert plan["disks"][0]["image_properties"] == {"hw_disk_bus": "scsi", "hw_scsi_model": "vmpvscsi"}


def test_a_disk_whose_controller_qemu_lacks_goes_on_ide_or_on_sata_under_efi():
    bios = migration.plan_migration(source(), target())
    efi = migration.plan_migration(source(firmware="efi"), target())
    assert bios["disks"][0]["image_properties"] == {"hw_disk_bus": "ide"}  # LSI Logic Parallel: no such QEMU device
    assert efi["disks"][0]["image_properties"] == {"hw_disk_bus": "sata"}


def test_no_disk_blocks():
    assert whys(migration.plan_migration(source(disks=[]), target(flavor=flavor("f", 2, 4096, 0)))["blockers"]) == [
        "the VM: it has no virtual disk to move"]


def test_the_lease_device_urls_map_to_the_disks():
    disks = [disk(), disk(2001, 1), disk(2002, 0, bus=1, controller="ParaVirtualSCSIController")]
    urls = [{"key": "/vm-42/VirtualLsiLogicController0:1", "url": "https://*/nfc/t/disk-1.vmdk", "disk": True},
            {"key": "/vm-42/VirtualLsiLogicController0:0", "url": "https://*/nfc/t/disk-0.vmdk", "disk": True},
            {"key": "/vm-42/nvram", "url": "https://*/nfc/t/nvram", "disk": False}]
    found, missing = migration.disks_of_device_urls("vm-42", disks, urls)
    assert {key: url["url"][-11:] for key, url in found.items()} == {2000: "disk-0.vmdk", 2001: "disk-1.vmdk"}
    assert missing == [2002]


def test_the_plan_does_not_change_its_input():
    vm, where = source(), target()
    before = copy.deepcopy((vm, where))
    migration.plan_migration(vm, where)
    assert (vm, where) == before
