"""The cold migration's runner over doubles of vCenter and the cloud, with the real qemu-img and staging files.

The doubles keep state as the real sides do (a record of strings, images, servers, a VM's power),
so each test can interrupt a run, start another and check what the second one does.
"""

import hashlib
import os

import pytest

from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._common.errors import BackendError
from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._migration import disk_hashes, steps
from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._migration.cold import BootFailed, ColdMigration
from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._openstack.migration_record import metadata_update
from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._qemu_img.client import QemuImg

KEY = 2000
URL_KEY = "/vm-42/VirtualLsiLogicController0:0"
CHUNK = 64 << 10
TIMEOUTS = {"stop": 5, "lease_ready": 5, "active": 5}


class Interrupted(Exception):
    """The run dies (killed) in the middle of a download."""


class Lease:
    def __init__(self, vm):
        self.vm, self.completed, self.aborted = vm, False, False
        self.device_urls = [{"key": URL_KEY, "url": "https://*/nfc/disk-0", "file_size": len(vm.disk), "disk": True}]

    def download(self, url, out, start=0, sink=None, percent=None):
        self.vm.starts.append(start)
        if start and not self.vm.ranges:
            raise disk_hashes.RangesRefused("no ranges here", start)
        offset = start
        while offset < len(self.vm.disk):
            if self.vm.die_at is not None and offset >= self.vm.die_at:
                self.vm.die_at = None
                raise Interrupted()
            block = self.vm.disk[offset:offset + 4096]
            out.seek(offset)
            out.write(block)
            sink(block)
            offset += len(block)
        return offset

    def manifest(self):
        return {URL_KEY: {"sha1": hashlib.sha1(self.vm.served_sha1_of).hexdigest(), "size": len(self.vm.disk)}}

    def complete(self):
        self.completed = True

    def abort(self):
        self.aborted = True


class VM:
    def __init__(self, disk, power="poweredOn"):
        self.disk, self.served_sha1_of, self.power = disk, disk, power
        self.change_version, self.die_at, self.starts, self.destroyed, self.leases = "1", None, [], False, []
        self.ranges = True

    def read(self):
        return {"power_state": self.power, "change_version": self.change_version,
                "disks": [{"key": KEY, "file": "[nfs-a] vm/vm.vmdk", "capacity_bytes": len(self.disk)}]}

    def fingerprint_facts(self):
        source = self.read()
        return [source["power_state"], source["change_version"]]

    def power_off(self, timeout):
        self.power = "poweredOff"

    def power_on(self, timeout):
        self.power = "poweredOn"

    def destroy(self, timeout):
        self.destroyed = True

    def open_lease(self, ready_timeout):
        self.leases.append(Lease(self))
        return self.leases[-1]


class Cloud:
    def __init__(self, boots="ACTIVE"):
        self.records, self.images, self.servers, self.boots = {}, {}, {}, boots
        self.locked, self.calls, self.ports, self.fail_port_create, self.booted = set(), [], {}, 0, []

    def find_record(self, migration_id):
        return (migration_id, dict(self.records[migration_id])) if migration_id in self.records else (None, None)

    def claim_record(self, migration_id, record):
        if migration_id in self.records:
            return None, None
        self.records[migration_id] = dict(record)
        return migration_id, dict(record)

    def write_record(self, aggregate, migration_id, old, new):
        record = self.records[migration_id]
        for key, value in metadata_update(old, new).items():
            if value is None:
                record.pop(key, None)
            else:
                record[key] = value
        return dict(record)

    def delete_record(self, aggregate, migration_id):
        del self.records[migration_id]

    def lock_server(self, server_id):
        self.locked.add(server_id)

    def unlock_server(self, server_id):
        self.locked.discard(server_id)

    def create_image(self, name, properties):
        image = {"id": "image-%d" % len(self.images), "name": name, "status": "queued", "properties": properties}
        self.images[image["id"]] = image
        return image

    def upload_image(self, image, path):
        with open(path, "rb") as f:
            self.images[image["id"]].update(status="active", data=f.read())

    def find_image(self, image_id):
        return self.images.get(image_id)

    def delete_image(self, image_id):
        self.images.pop(image_id, None)

    def find_migrated_server(self, name, migration_id):
        found = [s for s in self.servers.values() if s["metadata"].get("mixed_cloud_migrated_from") == migration_id]
        return found[0] if found else None

    def create_server(self, name, image_id, flavor_id, metadata, networks, availability_zone):
        server = {"id": "server-%d" % len(self.servers), "name": name, "image": image_id, "flavor": flavor_id,
                  "metadata": dict(metadata), "networks": networks, "status": "BUILD"}
        self.servers[server["id"]] = server
        self.booted.append(server)
        return server

    def wait_server(self, server_id, timeout):
        server = self.servers[server_id]
        server["status"] = self.boots
        if self.boots == "ERROR":
            server["fault"] = {"message": "No valid host was found."}
        return server

    def delete_server(self, server_id, timeout):
        self.servers.pop(server_id, None)

    def set_server_metadata(self, server_id, metadata):
        self.servers[server_id]["metadata"].update(metadata)

    # ports: {id: {"name", "network", "mac", "fixed_ips", "device"}}
    def detach_port(self, server_id, port_id, timeout):
        self.calls.append(("detach", port_id))
        self.ports[port_id]["device"] = None

    def attach_port(self, server_id, port_id):
        self.calls.append(("attach", port_id))
        self.ports[port_id]["device"] = server_id

    def find_port(self, name):
        found = [dict(port, id=port_id) for port_id, port in self.ports.items() if port["name"] == name]
        return found[0] if found else None

    def create_port(self, name, network_id, mac, fixed_ips):
        if self.fail_port_create:
            self.fail_port_create -= 1
            raise BackendError("neutron is unreachable")
        port_id = "port-%d" % len(self.ports)
        self.ports[port_id] = {"name": name, "network": network_id, "mac": mac, "fixed_ips": fixed_ips, "device": None}
        self.calls.append(("create", port_id))
        return dict(self.ports[port_id], id=port_id)

    def delete_port(self, port_id):
        self.calls.append(("delete", port_id))
        self.ports.pop(port_id, None)

    def stop_server(self, server_id, timeout):
        self.calls.append(("stop", server_id))

    def start_server(self, server_id, timeout):
        self.calls.append(("start", server_id))


def plan_of(vm):
    return {"migration_id": "uuid-42", "source": {"name": "app01", "moref": "vm-42", "instance_uuid": "uuid-42",
                                                  "nova_id": None, "power_state": vm.power},
            "disks": [{"key": KEY, "capacity_bytes": len(vm.disk), "device_url_key": URL_KEY, "boot": True,
                       "into": "image", "image_properties": {"hw_disk_bus": "scsi", "hw_scsi_model": "lsilogic"}}],
            "nics": [], "flavor": {"id": "flavor-1", "name": "m1"}, "availability_zone": "kvm",
            "metadata": {"mixed_cloud_migrated_from": "uuid-42"}, "image_properties": {},
            "bytes_total": len(vm.disk), "blockers": [], "not_moved": []}


def migration(vm, cloud, tmp_path, owner="host:1", **options):
    options.setdefault("owner_alive", lambda run: False)  # the run before is dead
    return ColdMigration(plan_of(vm), vm, cloud, QemuImg(), str(tmp_path), owner, TIMEOUTS, chunk=CHUNK,
                         progress_every=0, **options)


@pytest.fixture
def disk():
    data = bytearray(os.urandom(640 << 10))
    data[200 << 10:400 << 10] = bytes(200 << 10)  # a hole, as a real disk has
    return bytes(data)


def test_a_running_vm_is_stopped_copied_proven_and_booted_and_a_rerun_changes_nothing(disk, tmp_path):
    vm, cloud = VM(disk), Cloud()
    run = migration(vm, cloud, tmp_path)
    run.migrate()
    assert run.steps_run == ["claim", "stop_source", "download:2000", "convert:2000", "hash_target:2000",
                             "upload:2000", "create_server", "wait_active"]
    record = cloud.records["uuid-42"]
    assert record["state"] == "done" and vm.power == "poweredOff"
    assert record["disk.2000.sha256"] == record["disk.2000.target_sha256"] == hashlib.sha256(disk).hexdigest()
    (image,) = list(cloud.images.values())
    assert image["properties"]["hw_scsi_model"] == "lsilogic" and image["properties"]["hypervisor_type"] == "qemu"
    (server,) = list(cloud.servers.values())
    assert server["image"] == image["id"] and server["networks"] == "none" and server["status"] == "ACTIVE"
    assert vm.leases[0].completed and not os.path.exists(os.path.join(tmp_path, "uuid-42"))
    again = migration(vm, cloud, tmp_path, owner="host:2")
    again.migrate()
    assert again.steps_run == [] and len(cloud.servers) == 1 and len(vm.leases) == 1


def test_a_run_killed_mid_download_is_resumed_from_its_last_whole_chunk(disk, tmp_path):
    vm, cloud = VM(disk, power="poweredOff"), Cloud()
    vm.die_at = 300 << 10
    with pytest.raises(Interrupted):
        migration(vm, cloud, tmp_path).migrate()
    assert cloud.records["uuid-42"]["at"] == "claim" and "progress" in cloud.records["uuid-42"]
    run = migration(vm, cloud, tmp_path, owner="host:2")
    run.migrate()
    assert vm.starts == [0, (300 << 10) // CHUNK * CHUNK]
    record = cloud.records["uuid-42"]
    assert record["state"] == "done" and record["disk.2000.sha256"] == hashlib.sha256(disk).hexdigest()
    assert record["disk.2000.stream_sha1"] == hashlib.sha1(disk).hexdigest()


def test_a_resume_from_a_server_without_ranges_starts_the_disk_again_at_zero(disk, tmp_path):
    vm, cloud = VM(disk, power="poweredOff"), Cloud()
    vm.die_at = 300 << 10
    with pytest.raises(Interrupted):
        migration(vm, cloud, tmp_path).migrate()
    vm.ranges = False
    run = migration(vm, cloud, tmp_path, owner="host:2")
    run.migrate()
    assert vm.starts == [0, (300 << 10) // CHUNK * CHUNK, 0] and run.resumed == {}
    assert [row["disk"] for row in run.restarted] == [str(KEY)] and "starts again at 0" in run.restarted[0]["why"]
    assert cloud.records["uuid-42"]["disk.2000.sha256"] == hashlib.sha256(disk).hexdigest()


def test_a_live_run_keeps_others_off_and_a_source_powered_on_meanwhile_is_refused(disk, tmp_path):
    vm, cloud = VM(disk, power="poweredOff"), Cloud()
    vm.die_at = 100 << 10
    with pytest.raises(Interrupted):
        migration(vm, cloud, tmp_path).migrate()
    with pytest.raises(steps.MigrationRefused, match="another run"):
        migration(vm, cloud, tmp_path, owner="other:7", owner_alive=lambda run: None).migrate()
    vm.power = "poweredOn"
    with pytest.raises(steps.MigrationRefused, match="source changed"):
        migration(vm, cloud, tmp_path, owner="host:2").migrate()


def test_a_stream_that_differs_from_the_manifest_is_copied_again_then_refused(disk, tmp_path):
    vm, cloud = VM(disk, power="poweredOff"), Cloud()
    vm.served_sha1_of = b"other bytes"
    with pytest.raises(disk_hashes.DiskMismatch, match="manifest"):
        migration(vm, cloud, tmp_path).migrate()
    assert len(vm.leases) == 2 and all(lease.aborted for lease in vm.leases)
    assert cloud.records["uuid-42"]["at"] == "claim" and not cloud.images


def test_a_failed_boot_rolls_back_and_the_source_runs_again(disk, tmp_path):
    vm, cloud = VM(disk), Cloud(boots="ERROR")
    with pytest.raises(BootFailed, match="No valid host.*Rolled back: delete_server, delete_image, power_on_source"):
        migration(vm, cloud, tmp_path).migrate()
    assert vm.power == "poweredOn" and not cloud.servers and not cloud.images
    assert cloud.records["uuid-42"]["state"] == "rolled_back"
    assert not os.path.exists(os.path.join(tmp_path, "uuid-42"))
    cloud.boots = "ACTIVE"
    run = migration(vm, cloud, tmp_path, owner="host:2")
    run.migrate()  # started again after its rollback: a new claim
    assert run.steps_run[0] == "claim" and cloud.records["uuid-42"]["state"] == "done"


def test_finalize_only_when_done_then_deletes_the_source_marks_the_server_and_drops_the_record(disk, tmp_path):
    vm, cloud = VM(disk), Cloud()
    vm.die_at = 100 << 10
    with pytest.raises(Interrupted):
        migration(vm, cloud, tmp_path).migrate()
    with pytest.raises(steps.MigrationRefused, match="Only a migration that is done"):
        migration(vm, cloud, tmp_path).finalize()
    migration(vm, cloud, tmp_path).migrate()
    run = migration(vm, cloud, tmp_path)
    assert run.finalize() == ["delete_source", "mark_server_finalized", "delete_record"]
    assert vm.destroyed and "uuid-42" not in cloud.records
    (server,) = list(cloud.servers.values())
    assert server["metadata"]["mixed_cloud_migration"] == "finalized"
    assert migration(vm, cloud, tmp_path).finalize() == []


def test_a_finalize_interrupted_after_deleting_the_source_cannot_be_rolled_back(disk, tmp_path):
    vm, cloud = VM(disk), Cloud()
    migration(vm, cloud, tmp_path).migrate()

    def unreachable(server_id, metadata):
        raise BackendError("nova is unreachable")

    cloud.set_server_metadata = unreachable
    with pytest.raises(BackendError, match="unreachable"):
        migration(vm, cloud, tmp_path).finalize()
    with pytest.raises(steps.MigrationRefused, match="source is deleted"):
        migration(vm, cloud, tmp_path).rollback()


def test_a_nova_instance_keeps_its_port_and_gets_a_new_one_with_the_mac_once_even_across_an_interruption(disk, tmp_path):
    vm, cloud = VM(disk), Cloud(boots="ERROR")
    cloud.ports["port-a"] = {"name": "", "network": "net-kvm", "mac": "fa:16:3e:00:00:01", "fixed_ips": [],
                             "device": "nova-42"}
    plan = plan_of(vm)
    plan["source"]["nova_id"] = "nova-42"
    plan["nics"] = [
        {"action": "move_port", "port_id": "port-a", "mac": "fa:16:3e:00:00:01"},
        {"action": "new_port", "port_id": "port-v", "mac": "fa:16:3e:00:00:02", "target_network": "net-kvm",
         "fixed_ips": [{"subnet_id": "sub-1", "ip_address": "10.0.0.12"}]},
    ]
    cloud.fail_port_create = 1

    def run(owner):
        return ColdMigration(plan, vm, cloud, QemuImg(), str(tmp_path), owner, TIMEOUTS, chunk=CHUNK,
                             progress_every=0, owner_alive=lambda other: False)

    with pytest.raises(BackendError, match="neutron is unreachable"):
        run("host:1").migrate()
    assert cloud.records["uuid-42"]["port.0"] == "port-a:moved" and "nova-42" in cloud.locked
    with pytest.raises(BootFailed):
        run("host:2").migrate()  # resumes the ports step: port-a is not detached twice
    assert [call for call in cloud.calls if call[0] in ("detach", "create")] == [("detach", "port-a"),
                                                                                 ("create", "port-1")]
    (created,) = [call for call in cloud.calls if call[0] == "create"]
    assert cloud.booted[-1]["networks"] == [{"port": "port-a"}, {"port": created[1]}]
    undone = [call for call in cloud.calls if call[0] in ("attach", "delete", "start")]
    assert undone == [("delete", created[1]), ("attach", "port-a"), ("start", "nova-42")]
    assert cloud.ports["port-a"]["device"] == "nova-42" and "nova-42" not in cloud.locked
