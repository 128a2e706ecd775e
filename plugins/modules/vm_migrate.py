#!/usr/bin/python
# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vm_migrate
short_description: Move a VM from vSphere to KVM in the same cloud, cold, without VDDK, every disk's bytes proven
version_added: 0.2.0
description:
  - Moves a nova instance on a vSphere proxy, or a vCenter VM that nova does not manage, to the
    KVM hosts of the same cloud - a server on KVM with the source's name, metadata, a mapped
    flavor and, for a nova instance, its own neutron ports.
  - "Cold: the source is stopped (through nova when nova manages it, which also locks it), then
    each disk is read through vSphere's own export API - C(ExportVm) and its C(HttpNfcLease),
    kept alive with C(HttpNfcLeaseProgress) - into a staging file while it is hashed, checked
    against the lease manifest's sha1, converted to qcow2 with qemu-img and uploaded to glance,
    whose stored hash must be the file's. No VDDK, no nbdkit plugin."
  - "Proof per disk, in the result - the sha256 of the source disk's bytes (of the raw stream, or
    of a streamOptimized stream decoded by the collection's own reader while it downloads)
    equals the sha256 of the target qcow2's bytes as qemu-img reads them back. A difference
    uploads nothing and starts that disk's copy again on the next run."
  - "Every step is recorded in the cloud, in a host aggregate named
    C(mixed-cloud-migration:<the source's vCenter instance UUID>) whose metadata is the record
    (the aggregate has no hosts, so no scheduler filter sees it). Its creation is the claim: two
    runs cannot migrate one source. An interrupted run resumes at the step it stopped in - a
    download from the last whole 64 MiB chunk it staged - and a re-run of a finished migration
    changes nothing. The record also holds the live progress of a copy."
  - "Cutover - the source stays powered off and untouched until the target server is ACTIVE; a
    target that goes to ERROR or does not become ACTIVE within O(timeouts.active) is rolled back
    at once (the task fails naming nova's fault). O(state=rolled_back) undoes a migration - the
    server, its ports and images are deleted, moved ports go back to the source, which is
    powered on if it ran. O(state=finalized) deletes the source of a done migration."
  - In check mode, returns the plan - disks and sizes, flavor, ports, image properties, what is not
    moved and why, what blocks the migration - and, for a migration under way, where it is and
    what a run would do next.
  - "The guest is not converted (no C(virt-v2v-in-place) here): the image properties give it the
    devices it has drivers for - the source's disk controller where QEMU has it (LSI Logic SAS, paravirtual
    SCSI), else IDE (LSI Logic Parallel and BusLogic, which QEMU lacks; SATA under EFI) - and
    NIC model. docs/migration.md says what a production conversion host needs."
author:
  - nova_vsphere.mixed_cloud maintainers (@nova-vsphere)
options:
  source:
    description: The VM to move; exactly one of its keys.
    type: dict
    required: true
    suboptions:
      nova_server:
        description:
          - A nova instance on a vSphere proxy, by ID or exact name. Its VM is the one whose
            instance UUID is the server's ID (nova's VMware driver sets it so).
        type: str
      vm_name:
        description: A VM that nova does not manage, by its name in vCenter.
        type: str
      vm_uuid:
        description: A VM that nova does not manage, by its instance UUID (C(config.instanceUuid)).
        type: str
      vm_moref:
        description: A VM that nova does not manage, by its managed object ID, such as C(vm-123).
        type: str
  target:
    description: Where on the KVM side; exactly one of its keys.
    type: dict
    required: true
    suboptions:
      flavor:
        description:
          - The flavor of the new server, by name or ID. Its root disk must hold the boot disk;
            fewer vCPUs or less RAM than the source is allowed and reported under C(not_moved).
        type: str
      aggregate:
        description:
          - A host aggregate of KVM hosts. The server goes to its availability zone, with the smallest
            flavor that fits the source among those whose C(aggregate_instance_extra_specs:) extra specs
            select this aggregate.
        type: str
  network_map:
    description:
      - Source network -> target neutron network ID, for NICs whose network the KVM hosts do not
        reach. Keys are port group names for a VM nova does not manage, neutron network IDs for a
        nova instance.
      - A nova instance's port whose network is not a key here moves with the server (same port ID,
        MAC and IPs); one whose network is mapped stays with the source, and a new port on the
        mapped network gets the same MAC and fixed IPs.
      - A VM nova does not manage gets a new port per NIC on the mapped network, with the NIC's MAC
        and the IPs vCenter reports for it.
    type: dict
    default: {}
  ports:
    description:
      - V(keep) gives the server the ports as O(network_map) says.
      - V(none) boots it without networking (nova's C(networks=none)); every NIC is reported under
        C(not_moved). For clouds or tests whose KVM hosts cannot bind the ports.
    type: str
    choices: [keep, none]
    default: keep
  state:
    description:
      - V(migrated) runs the migration, or resumes it where it stopped.
      - V(rolled_back) undoes it and brings the source back as it was.
      - V(finalized) deletes the source of a done migration; the images stay (nova rebuilds from
        them), the record is deleted and the server's metadata C(mixed_cloud_migration=finalized)
        remains as the witness.
    type: str
    choices: [migrated, rolled_back, finalized]
    default: migrated
  staging_dir:
    description:
      - Where the disks are staged, one at a time - the download, then its qcow2 (at most about
        twice the largest disk). On the host that runs the module.
    type: path
    default: /var/tmp/mixed-cloud-migration
  timeouts:
    description: Deadlines, in seconds, of the waits.
    type: dict
    default: {}
    suboptions:
      stop:
        description: For the source to stop (or start, on rollback), a port to detach, a server to go away.
        type: int
        default: 300
      lease_ready:
        description: For vCenter to make an export lease ready.
        type: int
        default: 600
      active:
        description: For the target server to become ACTIVE.
        type: int
        default: 900
  takeover_after:
    description:
      - How long, in seconds, a running migration's heartbeat must be silent before another run
        takes it over (its run was killed on another host). A run of the same host that is gone is
        taken over at once.
    type: int
    default: 600
extends_documentation_fragment:
  - nova_vsphere.mixed_cloud.openstack
  - nova_vsphere.mixed_cloud.vcenter_option
  - ansible.builtin.action_common_attributes
  - nova_vsphere.mixed_cloud.attributes.changes
notes:
  - Needs admin credentials in the cloud (the record's aggregate, ports with a given MAC) and, in
    vCenter, the privileges to power the VM and export it (C(VApp.Export)).
  - Needs C(qemu-img) on the host that runs the module (Debian's qemu-utils).
  - A data disk needs a cinder volume; a cloud without cinder can move VMs with one disk only,
    and the plan says so.
  - Run long copies with C(async) and C(poll=0); the record's C(progress) shows the copy while it
    runs (the vm_migration role does both).
seealso:
  - name: Migration from vSphere to KVM
    description: What is moved, what is not, how to verify, how to roll back (docs/migration.md).
    link: https://github.com/nova-vsphere/mixed_cloud/blob/main/docs/migration.md
"""

EXAMPLES = r"""
- name: Move db01 (a nova instance on a vSphere proxy) to the KVM hosts, keeping its ports
  nova_vsphere.mixed_cloud.vm_migrate:
    vcenter: "{{ mixed_cloud_vcenter }}"
    source:
      nova_server: db01
    target:
      aggregate: kvm-hosts
  async: 14400
  poll: 0
  register: db01_migration

- name: Move a VM nova does not manage onto a flavor, its NIC onto a KVM network
  nova_vsphere.mixed_cloud.vm_migrate:
    source:
      vm_name: legacy-app-01
    target:
      flavor: m1.medium
    network_map:
      VLAN-120: 5f1c2a9e-8d3b-4f6a-9c2e-1b7d3e4f5a60

- name: Roll it back - the source runs again as it was
  nova_vsphere.mixed_cloud.vm_migrate:
    source:
      vm_name: legacy-app-01
    target:
      flavor: m1.medium
    state: rolled_back
"""

RETURN = r"""
migration:
  description: The migration, as it is after the run (in check mode, as it is and the plan).
  returned: always
  type: dict
  contains:
    id:
      description: The source's vCenter instance UUID, which names the migration and its record.
      type: str
    state:
      description: V(planned) (nothing done yet), V(running), V(done), V(rolled_back) or V(finalized).
      type: str
    at:
      description: The last step completed.
      type: str
    steps_run:
      description: The steps this run carried out, in order (in check mode, those a run would do).
      type: list
      elements: str
    timings:
      description: Seconds each step of this run took, by step.
      type: dict
    plan:
      description:
        - The plan - C(disks), C(nics), C(flavor), C(availability_zone), C(stop), C(metadata),
          C(image_properties), C(bytes_total), C(not_moved) and C(blockers), each with what and why.
      type: dict
    disks:
      description:
        - Per disk - C(sha256_source) (the source disk's bytes), C(sha256_target) (the target
          image's bytes), C(equal), C(stream_sha1) (equal to the lease manifest's), C(image) (glance ID).
      type: list
      elements: dict
    server:
      description: The target server - C(id), C(name), C(status), C(host).
      type: dict
    progress:
      description:
        - The last copy's figures - C(disk), C(bytes_done), C(bytes_total), C(percent),
          C(bytes_per_second), C(seconds), C(seconds_left) - or the record's C(progress) line.
      type: raw
    resumed:
      description: Disks whose download this run resumed, by disk key, and the byte it resumed from.
      type: dict
    restarted:
      description: Disks whose copy this run started again, and why.
      type: list
      elements: dict
    rolled_back:
      description: What the rollback undid (the boot failed, or O(state=rolled_back)).
      type: list
      elements: str
  sample:
    id: 5003a1b2-6c1d-4e2f-9a3b-0c4d5e6f7a8b
    state: done
    at: wait_active
    disks:
      - disk: "2000"
        sha256_source: 9f2c...
        sha256_target: 9f2c...
        equal: true
        stream_sha1: 1b3e...
        image: 0d9e...
    server: {id: 6a1f..., name: db01, status: ACTIVE, host: kvm-compute-1}
"""

import os
import platform

from ..module_utils._common.errors import BackendError, failing_cleanly
from ..module_utils._migration import steps as migration_steps
from ..module_utils._migration.cold import ColdMigration
from ..module_utils._migration.disk_hashes import proof_of
from ..module_utils._migration.plan import plan_migration
from ..module_utils._openstack.client import OpenStackModule, openstack_argument_spec, openstack_session
from ..module_utils._openstack.migration_cloud import MigrationCloud
from ..module_utils._qemu_img.client import QemuImg
from ..module_utils._vcenter.client import VCENTER_ARGUMENT_SPEC, vcenter_session
from ..module_utils._vcenter.migration_reads import find_vm, read_source
from ..module_utils._vcenter.migration_source import VCenterSource

SOURCE_KEYS = ("nova_server", "vm_name", "vm_uuid", "vm_moref")
ARGUMENT_SPEC = dict(
    source=dict(type="dict", required=True, options={key: dict(type="str") for key in SOURCE_KEYS},
                mutually_exclusive=[SOURCE_KEYS], required_one_of=[SOURCE_KEYS]),
    target=dict(type="dict", required=True, options=dict(flavor=dict(type="str"), aggregate=dict(type="str")),
                mutually_exclusive=[("flavor", "aggregate")], required_one_of=[("flavor", "aggregate")]),
    network_map=dict(type="dict", default={}),
    ports=dict(type="str", choices=["keep", "none"], default="keep"),
    state=dict(type="str", choices=["migrated", "rolled_back", "finalized"], default="migrated"),
    staging_dir=dict(type="path", default="/var/tmp/mixed-cloud-migration"),
    timeouts=dict(type="dict", default={}, options=dict(
        stop=dict(type="int", default=300), lease_ready=dict(type="int", default=600),
        active=dict(type="int", default=900))),
    takeover_after=dict(type="int", default=600),
    vcenter=dict(type="dict", apply_defaults=True, options=VCENTER_ARGUMENT_SPEC),
)


def owner_alive(owner):
    """Whether the run ``owner`` (host:pid) still lives, where this host can tell; None elsewhere."""
    host, _sep, pid = owner.rpartition(":")
    if host != platform.node() or not pid.isdigit():
        return None
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def find_source(cloud, client, source):
    """(VM reference, nova instance or None); (None, None) when there is no such source (finalized?)."""
    if source["nova_server"]:
        server = cloud.source_server(source["nova_server"])
        if server is None:
            return None, None
        vm = find_vm(client, uuid=server["id"])
        if vm is None:
            raise BackendError("Instance %s (%s) has no VM in vCenter %s: it is not an instance of this vCenter's "
                               "proxies." % (server["name"], server["id"], client.endpoint))
        return vm, server
    return find_vm(client, name=source["vm_name"], uuid=source["vm_uuid"], moref=source["vm_moref"]), None


def read_plan(module, cloud, client, vm, server):
    params = module.params
    source = read_source(client, vm)
    if server is not None:
        source["nova"] = cloud.nova_view(server)
        source["name"] = server["name"]  # vCenter's is nova's "<name> (<uuid>)"
    target = cloud.target(**params["target"])
    ports = (source["nova"] or {}).get("ports") or ()
    target["network_map"] = params["network_map"]
    ids = {port["network_id"] for port in ports} | set(params["network_map"].values())
    target["networks"] = cloud.networks(ids)
    for network_id, network in target["networks"].items():
        network["on_target"] = network_id not in params["network_map"]
    if params["ports"] == "none":
        source["nics"] = []
        if source["nova"]:
            source["nova"]["ports"] = []
    plan = plan_migration(source, target)
    if params["ports"] == "none":
        for port in ports or source.get("nics") or ():
            plan["not_moved"].append({"what": "NIC %s" % port.get("mac"), "why": "ports: none"})
    return plan, source


def result_of(migration, state=None):
    record = migration.record or {}
    disks = proof_of(record) if record else []
    for disk in disks:
        disk["stream_sha1"] = record.get("disk.%s.stream_sha1" % disk["disk"])
        disk["image"] = record.get("disk.%s.image" % disk["disk"])
    return {"id": migration.id, "state": state or record.get("state") or "planned", "at": record.get("at"),
            "steps_run": migration.steps_run, "timings": migration.timings, "plan": migration.plan, "disks": disks,
            "server": migration.server, "progress": migration.progress or record.get("progress"),
            "restarted": migration.restarted, "resumed": migration.resumed}


def server_view(server):
    if not server:
        return None
    return {"id": server["id"], "name": server.get("name"), "status": server.get("status"),
            "host": server.get("OS-EXT-SRV-ATTR:host")}


def would_do(plan, record, state):
    """The steps a run would take, for check mode."""
    if state == "migrated":
        fresh = record is None or record.get("state") == "rolled_back"
        record = migration_steps.claim_record(plan) if fresh else record
        if record.get("state") != "running":
            return []
        names = ["%s:%s" % step if step[1] is not None else step[0] for step in migration_steps.steps(record)]
        return names[names.index(record["at"]) + (0 if fresh else 1):]
    if state == "rolled_back":
        return ["rollback:" + action["action"] for action in migration_steps.rollback_actions(record)]
    return ["finalize:" + action["action"] for action in migration_steps.finalize_actions(record)]


def run(module, cloud, client):
    params = module.params
    vm, server = find_source(cloud, client, params["source"])
    if vm is None:
        name = params["source"]["nova_server"] or params["source"]["vm_name"]
        done = cloud.finalized_server(name=name, migration_id=params["source"]["vm_uuid"]) \
            if name or params["source"]["vm_uuid"] else None
        if done is None:
            raise BackendError("No source %s in vCenter %s or nova (nor a finalized migration of it)." % (
                ", ".join("%s=%s" % (k, v) for k, v in params["source"].items() if v), client.endpoint))
        migrated = {"id": done["metadata"]["mixed_cloud_migrated_from"], "state": "finalized",
                    "server": server_view(done), "steps_run": []}
        return False, {"state": "finalized", "at": None}, migrated
    plan, source = read_plan(module, cloud, client, vm, server)
    migration = ColdMigration(plan, VCenterSource(client, vm, source["name"]), cloud, QemuImg(),
                              params["staging_dir"], "%s:%d" % (platform.node(), os.getpid()), params["timeouts"],
                              owner_alive=owner_alive, stale_after=params["takeover_after"])
    record = migration.record
    before = {"state": (record or {}).get("state") or "planned", "at": (record or {}).get("at")}
    if record is not None and record.get("server"):
        migration.server = server_view(cloud.find_migrated_server(source["name"], migration.id))
    if params["state"] == "migrated" and plan["blockers"] and (record is None or record.get("state") == "rolled_back"):
        raise BackendError("%s cannot be migrated: %s." % (source["name"], "; ".join(
            "%s: %s" % (b["what"], b["why"]) for b in plan["blockers"])), migration=result_of(migration))
    if params["state"] == "finalized" and record is None:
        raise BackendError("Nothing to finalize: no migration of %s (%s) is recorded; migrate it first." % (
            source["name"], migration.id), migration=result_of(migration))
    if module.check_mode:
        migration.steps_run = would_do(plan, record, params["state"])
        result = result_of(migration)
        if migration.steps_run:  # what the run would leave
            result["state"] = {"migrated": "done"}.get(params["state"], params["state"])
        return bool(migration.steps_run), before, result
    if params["state"] == "migrated":
        try:
            migration.migrate()
        except BackendError as error:
            raise BackendError(str(error), migration=result_of(migration)) from None
        if migration.record and migration.record.get("server"):
            migration.server = server_view(cloud.find_migrated_server(source["name"], migration.id))
        return bool(migration.steps_run), before, result_of(migration)
    if params["state"] == "rolled_back":
        undone = migration.rollback()
        return bool(undone), before, dict(result_of(migration), rolled_back=undone)
    done = migration.finalize()
    return bool(done), before, result_of(migration, state="finalized")


def main():
    module = OpenStackModule(argument_spec=openstack_argument_spec(**ARGUMENT_SPEC), supports_check_mode=True)
    with failing_cleanly(module):
        with openstack_session(module.params) as os_client, vcenter_session(module.params["vcenter"]) as client:
            changed, before, migration = run(module, MigrationCloud(os_client), client)
    after = {"state": migration["state"], "at": migration.get("at")}
    module.exit_json(changed=changed, migration=migration, diff={"before": before, "after": after})


if __name__ == "__main__":
    main()
