"""vm_migrate against the lab: VMs of the simulated vSphere whose disk holds the lab's guest image and a data file of
the test's own, moved cold to the real KVM hosts, where the guest boots and prints that data file.

Each test reads back what the module did through the lab's own clients (pyVmomi, the openstack CLI, nova's console
API), never through the module: the source's power and existence, the record's aggregate, the images and servers.
"""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
import threading
import time
import urllib.parse
import uuid
from pathlib import Path

import pytest
from pyVim.task import WaitForTask
from pyVmomi import vim

from helpers.cloud import Cloud, openstack_cli, vsphere_proxy
from helpers.lab import VENV_BIN
from helpers.migration import (exported_sha256, find_vm, guest_disk_bytes, nfc_rate, nova_instance_with_guest,
                               vm_with_guest, write_bytes)
from helpers.playbook import run_module
from helpers.vsphere import VSphere

ROOT = Path(__file__).resolve().parents[2]
MIB = 1 << 20
RECORD = "mixed-cloud-migration:"


@pytest.fixture(scope="module")
def cloud(lab):
    """The test's own view of the cloud (openstacksdk in this process), to read back what the module did."""
    return Cloud(lab["env"])


def create_flavor(cloud, name, **extra_specs):
    flavor = cloud.call("POST", "/flavors", {"flavor": {"name": name, "vcpus": 1, "ram": 512, "disk": 1}})["flavor"]
    if extra_specs:
        cloud.call("POST", "/flavors/%s/os-extra_specs" % flavor["id"], {"extra_specs": extra_specs})
    return flavor


@pytest.fixture(scope="module")
def kvm_flavor(cloud):
    """A flavor the guest boots with on the lab's KVM hosts (its kernel and drivers need more than 256 MiB)."""
    flavor = create_flavor(cloud, "test-migrate-%s" % uuid.uuid4().hex[:6])
    yield flavor
    cloud.call("DELETE", "/flavors/%s" % flavor["id"])


def environment(admin_env, vcenter, **more):
    return {**admin_env, **vcenter, **more}


def migrate(admin_env, vcenter, source, target, check_mode=False, **options):
    args = {"source": source, "target": target, "ports": "none", **options}
    return run_module("vm_migrate", args, env=environment(admin_env, vcenter), check_mode=check_mode)


def record_of(cloud, migration_id):
    """The migration's record (its aggregate's metadata), or None."""
    found = [a for a in cloud.call("GET", "/os-aggregates")["aggregates"] if a["name"] == RECORD + migration_id]
    return found[0]["metadata"] if found else None


def images_of(cloud, migration_id):
    return [image for image in cloud.conn.image.images()
            if image.name.startswith("mixed-cloud-migration-%s-" % migration_id)]


def servers_named(cloud, name):
    return cloud.listing("/servers/detail?all_tenants=1&name=%s" % urllib.parse.quote("^%s$" % name), "servers")


def delete_leftovers(cloud, name, migration_id):
    for server in servers_named(cloud, name):
        cloud.call("DELETE", "/servers/%s" % server["id"])
    deadline = time.monotonic() + 120
    while servers_named(cloud, name) and time.monotonic() < deadline:
        time.sleep(1)
    for image in images_of(cloud, migration_id):
        cloud.conn.image.delete_image(image)
    for aggregate in cloud.call("GET", "/os-aggregates")["aggregates"]:
        if aggregate["name"] == RECORD + migration_id:
            cloud.call("DELETE", "/os-aggregates/%s" % aggregate["id"])


def destroy_vms(vsphere, name):
    for vm in [vm for vm in vsphere.all(vim.VirtualMachine) if vm.name == name]:
        if vm.runtime.powerState == "poweredOn":
            WaitForTask(vm.PowerOffVM_Task())
        WaitForTask(vm.Destroy_Task())


@pytest.fixture
def guest(tmp_path):
    return guest_disk_bytes(tmp_path, "migrated-%s" % uuid.uuid4().hex[:12])


@pytest.fixture
def source_vm(vsphere, guest):
    """A powered-on VM nova does not manage, its disk the guest's; deleted afterwards if the test left it."""
    name = "test-migrate-%s" % uuid.uuid4().hex[:6]
    made = vm_with_guest(vsphere.si, name, guest)
    yield made
    destroy_vms(vsphere, name)


def test_a_vm_nova_does_not_manage_boots_on_kvm_with_its_data_every_byte_proven(
        cloud, admin_env, vcenter, vsphere, source_vm, guest, kvm_flavor, tmp_path):
    source = {"vm_name": source_vm["name"]}
    target = {"flavor": kvm_flavor["name"]}
    try:
        plan = migrate(admin_env, vcenter, source, target, check_mode=True)
        assert not plan.failed, plan.msg
        migration = plan.result["migration"]
        assert plan.result["changed"] and migration["state"] == "done" and migration["steps_run"][:2] == [
            "claim", "stop_source"]
        assert [disk["capacity_bytes"] for disk in migration["plan"]["disks"]] == [source_vm["capacity"]]
        assert migration["plan"]["disks"][0]["image_properties"] == {"hw_disk_bus": "ide"}  # LSI Logic
        assert source_vm["vm"].runtime.powerState == "poweredOn" and record_of(cloud, migration["id"]) is None, \
            "check mode changed something"

        # The playbook: the plan, the run in the background with its progress, the proof.
        extra = {"vm_migrate_vm_name": source_vm["name"], "vm_migrate_flavor": kvm_flavor["name"],
                 "vm_migrate_ports": "none", "vm_migrate_poll": 1, "vm_migrate_staging_dir": str(tmp_path / "staging")}
        run = subprocess.run([str(VENV_BIN / "ansible-playbook"), str(ROOT / "playbooks" / "vm_migrate.yml"),
                              "-e", json.dumps(extra)], env=environment(admin_env, vcenter), capture_output=True,
                             text=True, timeout=900, check=False)
        assert run.returncode == 0, run.stdout[-4000:] + run.stderr[-2000:]
        assert vcenter["VMWARE_PASSWORD"] not in run.stdout + run.stderr
        record = record_of(cloud, migration["id"])
        assert record["state"] == "done", record
        key = str(source_vm["disk_key"])
        assert record["disk.%s.sha256" % key] == record["disk.%s.target_sha256" % key] == source_vm["sha256"]
        assert "sha256 of the source's bytes %s, of the target's %s: equal" % (source_vm["sha256"], source_vm["sha256"]) \
            in run.stdout
        assert source_vm["vm"].runtime.powerState == "poweredOff"
        (server,) = servers_named(cloud, source_vm["name"])
        assert server["OS-EXT-SRV-ATTR:host"].startswith("kvm-compute-") and server["status"] == "ACTIVE", server
        assert server["metadata"]["mixed_cloud_migrated_from"] == migration["id"]
        console = cloud.console(server["id"])
        assert console.data == guest.data, console
        image = cloud.conn.image.get_image(record["disk.%s.image" % key])
        assert image.properties["mixed_cloud_source_sha256"] == source_vm["sha256"]

        again = migrate(admin_env, vcenter, source, target)
        assert not again.failed and not again.result["changed"], again.result
        assert again.result["migration"]["disks"][0]["equal"]
        assert again.result["migration"]["server"]["id"] == server["id"]

        final = migrate(admin_env, vcenter, source, target, state="finalized")
        assert not final.failed and final.result["changed"], final.msg
        assert not [vm for vm in vsphere.all(vim.VirtualMachine) if vm.name == source_vm["name"]]
        assert record_of(cloud, migration["id"]) is None
        metadata = cloud.call("GET", "/servers/%s" % server["id"])["server"]["metadata"]
        assert metadata["mixed_cloud_migration"] == "finalized"
        final_again = migrate(admin_env, vcenter, source, target, state="finalized")
        assert not final_again.failed and not final_again.result["changed"], final_again.result
        assert final_again.result["migration"]["server"]["id"] == server["id"]
    finally:
        delete_leftovers(cloud, source_vm["name"], source_vm["instance_uuid"])


@pytest.fixture
def kvm_aggregate(cloud):
    """An aggregate of the lab's KVM hosts and the one flavor that selects it (AggregateInstanceExtraSpecsFilter)."""
    tag = uuid.uuid4().hex[:6]
    aggregate = cloud.call("POST", "/os-aggregates", {"aggregate": {"name": "test-migrate-kvm-" + tag}})["aggregate"]
    action = "/os-aggregates/%s/action" % aggregate["id"]
    hosts = sorted(s["host"] for s in cloud.services().values() if s["host"].startswith("kvm-compute-"))
    for host in hosts:
        cloud.call("POST", action, {"add_host": {"host": host}})
    cloud.call("POST", action, {"set_metadata": {"metadata": {"test_migrate": tag}}})
    flavor = create_flavor(cloud, "test-migrate-kvm-" + tag, **{"aggregate_instance_extra_specs:test_migrate": tag})
    yield {"name": aggregate["name"], "flavor": flavor, "hosts": hosts}
    cloud.call("DELETE", "/flavors/%s" % flavor["id"])
    for host in hosts:
        cloud.call("POST", action, {"remove_host": {"host": host}})
    cloud.call("DELETE", "/os-aggregates/%s" % aggregate["id"])


def test_a_copy_shows_its_progress_and_killed_mid_disk_resumes_from_its_staged_chunks(
        cloud, admin_env, vcenter, vsphere, guest, kvm_aggregate, tmp_path):
    name = "test-migrate-%s" % uuid.uuid4().hex[:6]
    made = vm_with_guest(vsphere.si, name, guest, capacity=192 * MIB)
    # Incompressible data behind the guest: the stream is long enough to be cut past its first 64 MiB chunk.
    made = write_bytes(vsphere.si, made, guest, 64 * MIB, os.urandom(112 * MIB))
    staging = tmp_path / "staging"
    extra = {"vm_migrate_vm_moref": made["moid"], "vm_migrate_aggregate": kvm_aggregate["name"],
             "vm_migrate_ports": "none", "vm_migrate_poll": 1, "vm_migrate_staging_dir": str(staging)}
    nfc_rate(vsphere.si, 8 * MIB)  # about 15 s for the whole stream, whatever this machine's speed
    try:
        first = subprocess.Popen([str(VENV_BIN / "ansible-playbook"), str(ROOT / "playbooks" / "vm_migrate.yml"),
                                  "-e", json.dumps(extra)], env=environment(admin_env, vcenter), text=True,
                                 stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        lines = []
        reader = threading.Thread(target=lambda: lines.extend(first.stdout), daemon=True)
        reader.start()
        progress = staging / made["instance_uuid"] / "progress.json"
        deadline = time.monotonic() + 300
        figures = {}
        shown = []
        while time.monotonic() < deadline and first.poll() is None:
            shown = [line for line in list(lines) if re.match(r"vm_migrate \S+: disk %s of 1 disk" % made["disk_key"], line)]
            if progress.exists() and shown:
                figures = json.loads(progress.read_text() or "{}")
                if figures.get("bytes_done", 0) >= 64 * MIB:
                    break
            time.sleep(0.05)
        cut = ("no chance to cut the copy", figures, "".join(lines)[-3000:])
        assert first.poll() is None and figures.get("percent", 100) < 100, cut
        # While it ran, the playbook showed its progress: percent, MiB of the stream and the rate.
        assert re.search(r": \d+%, [\d.]+ of [\d.]+ MiB at [\d.]+ MiB/s", shown[-1]), shown
        os.kill(int(figures["owner"].rpartition(":")[2]), signal.SIGKILL)  # the run dies, as a lost node's would
        first.wait(timeout=120)
        reader.join(timeout=10)
        record = record_of(cloud, made["instance_uuid"])
        assert record["state"] == "running" and record["at"] == "stop_source", record
        assert record["progress"].startswith("disk %s " % made["disk_key"]), record

        nfc_rate(vsphere.si, 0)
        args = {"source": {"vm_moref": made["moid"]}, "target": {"aggregate": kvm_aggregate["name"]},
                "ports": "none", "staging_dir": str(staging)}
        second = run_module("vm_migrate", args, env=environment(admin_env, vcenter))
        assert not second.failed, second.msg
        migration = second.result["migration"]
        assert migration["state"] == "done" and migration["steps_run"][0] == "download:%s" % made["disk_key"]
        assert migration["plan"]["flavor"]["id"] == kvm_aggregate["flavor"]["id"]  # the aggregate's flavor
        resumed = migration["resumed"][str(made["disk_key"])]
        assert resumed >= 64 * MIB and resumed % (64 * MIB) == 0, migration["resumed"]
        assert migration["disks"][0]["equal"] and migration["disks"][0]["sha256_source"] == made["sha256"]
        assert migration["server"]["host"] in kvm_aggregate["hosts"]
        assert cloud.console(migration["server"]["id"]).data == guest.data
    finally:
        nfc_rate(vsphere.si, 0)
        delete_leftovers(cloud, name, made["instance_uuid"])
        destroy_vms(vsphere, name)


def test_a_target_that_cannot_boot_is_rolled_back_and_the_source_runs_as_before(
        cloud, admin_env, vcenter, source_vm):
    # No host's aggregate has this: nova's AggregateInstanceExtraSpecsFilter leaves none, the server goes to ERROR.
    flavor = create_flavor(cloud, "test-migrate-nowhere-%s" % uuid.uuid4().hex[:6],
                           **{"aggregate_instance_extra_specs:test_nowhere": "true"})
    source = {"vm_uuid": source_vm["instance_uuid"]}
    try:
        never = migrate(admin_env, vcenter, source, {"flavor": flavor["name"]}, state="finalized")
        assert never.failed and "Nothing to finalize" in never.msg, never.result
        failed = migrate(admin_env, vcenter, source, {"flavor": flavor["name"]})
        assert failed.failed and "No valid host" in failed.msg and "Rolled back" in failed.msg, failed.msg
        assert source_vm["vm"].runtime.powerState == "poweredOn"
        assert record_of(cloud, source_vm["instance_uuid"])["state"] == "rolled_back"
        assert not images_of(cloud, source_vm["instance_uuid"]) and not servers_named(cloud, source_vm["name"])
        again = migrate(admin_env, vcenter, source, {"flavor": flavor["name"]}, state="rolled_back")
        assert not again.failed and not again.result["changed"], again.result
    finally:
        delete_leftovers(cloud, source_vm["name"], source_vm["instance_uuid"])
        cloud.call("DELETE", "/flavors/%s" % flavor["id"])


@pytest.fixture(scope="module")
def proxy(lab, tmp_path_factory):
    """A vSphere proxy of the lab's nova on a private one-host simulator, for this file's nova instances."""
    work = tmp_path_factory.mktemp("migration-vcenter")
    with vsphere_proxy(lab, work, "vmware-proxy-migrate", "secret-%s" % uuid.uuid4().hex[:8], str(uuid.uuid4())) as made:
        session = VSphere(made["vcenter"])
        yield dict(made, si=session.si)
        session.close()


def test_a_nova_instance_moves_with_its_name_and_metadata_and_is_finalized(
        cloud, lab, proxy, admin_env, kvm_flavor, guest):
    name = "test-migrate-nova-%s" % uuid.uuid4().hex[:6]
    server_id = None
    try:
        with nova_instance_with_guest(lab, proxy, proxy["si"], name, guest) as made:
            server_id = made["server"]["id"]
            cloud.call("POST", "/servers/%s/metadata" % server_id, {"metadata": {"owner": "team-a"}})
            result = migrate(admin_env, proxy["vcenter"], {"nova_server": name}, {"flavor": kvm_flavor["name"]})
            assert not result.failed, result.msg
            migration = result.result["migration"]
            assert migration["id"] == server_id and migration["disks"][0]["equal"], migration
            assert migration["disks"][0]["sha256_source"] == made["sha256"]
            source = cloud.call("GET", "/servers/%s" % server_id, microversion="2.73")["server"]
            assert source["status"] == "SHUTOFF" and source["locked"], source
            assert "vm_migrate" in source["locked_reason"]
            target = cloud.call("GET", "/servers/%s" % migration["server"]["id"])["server"]
            assert target["name"] == name and target["metadata"]["owner"] == "team-a", target
            assert target["OS-EXT-SRV-ATTR:host"].startswith("kvm-compute-"), target
            assert cloud.console(target["id"]).data == guest.data
            final = migrate(admin_env, proxy["vcenter"], {"nova_server": name}, {"flavor": kvm_flavor["name"]},
                            state="finalized")
            assert not final.failed and final.result["changed"], final.msg
            assert [server["id"] for server in servers_named(cloud, name)] == [target["id"]]
    finally:
        if server_id:
            delete_leftovers(cloud, name, server_id)


def wait_status(cloud, server_id, status, timeout=180):
    deadline = time.monotonic() + timeout
    while (server := cloud.call("GET", "/servers/%s" % server_id)["server"])["status"] != status:
        assert time.monotonic() < deadline and server["status"] != "ERROR", server
        time.sleep(1)


def test_the_lab_binds_no_port_for_a_vsphere_instance_so_its_migrations_run_with_ports_none(cloud, lab, proxy, guest):
    """What docs/migration-design.md ("What the lab shows") says of ports in the lab, shown: a nova instance on
    the vSphere proxy, stopped by the admin though locked, exports the bytes written into it, and can be given no
    port (which is why this file's migrations boot with ``ports: none``)."""
    name = "test-migrate-ports-%s" % uuid.uuid4().hex[:6]
    with nova_instance_with_guest(lab, proxy, proxy["si"], name, guest) as found:
        server_id = found["server"]["id"]
        vm = find_vm(proxy["si"], server_id)
        assert found["instance_uuid"] == server_id and vm.config.managedBy.extensionKey == "org.openstack.compute"
        action = "/servers/%s/action" % server_id
        cloud.call("POST", action, {"lock": {"locked_reason": "migration"}}, microversion="2.73")
        # A locked server still stops for the admin (nova lets admins act on locked servers).
        cloud.call("POST", action, {"os-stop": None})
        wait_status(cloud, server_id, "SHUTOFF")
        assert vm.runtime.powerState == "poweredOff"
        assert exported_sha256(proxy["si"], vm) == {"/%s/VirtualLsiLogicController0:0" % vm._moId: found["sha256"]}
        ports_cannot_bind_on_the_vsphere_proxy(lab, cloud, proxy, proxy["si"], name, server_id)
        cloud.call("POST", action, {"unlock": None})


def ports_cannot_bind_on_the_vsphere_proxy(lab, cloud, proxy, si, name, server_id):
    """The lab's neutron (ML2 without mechanism drivers) binds no port for the VMware driver either: attaching one to
    the stopped instance fails (nova answers 500, PortBindingFailed) and leaves the port binding_failed, the VM
    without a NIC. (A server created with such a port fails to spawn the same way and ends in ERROR once
    rescheduled: docs/migration-design.md.)"""
    net = name + "-net"
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
    finally:
        for command in (["port", "delete", net + "-a"], ["subnet", "delete", net], ["network", "delete", net]):
            subprocess.run(openstack + command, env=proxy["env"], capture_output=True, check=False, timeout=300)
