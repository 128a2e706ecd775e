# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""A cold migration carried out: the steps of ``steps.py`` run against the two sides of the cloud.

The runner holds no SDK: it is handed the source (``_vcenter/migration_source.VCenterSource``:
the VM's reads, power, export leases, deletion), the cloud (``_openstack/migration_cloud.MigrationCloud``:
the record, nova's servers and locks, neutron's ports, glance's images) and the qemu-img client,
and works over the plan and the record, plain data both. Every step ends in one write of the
record, so an interruption anywhere resumes at the step it stopped in (docs/migration-design.md):

- ``migrate()`` runs the forward steps from where the record is; a failed boot rolls back;
- ``rollback()`` and ``finalize()`` run what is left of their actions, each removing its fact.

Long waits poll with a deadline on the injected clock; a download reports its progress into
the record (``progress``, ``heartbeat``) every ``progress_every`` seconds, where a poller reads it.
"""

from __future__ import annotations

import hashlib
import os
import time

from .._common.errors import BackendError
from . import disk_hashes, staging, steps
from .progress import Every, Progress
from .stream_optimized import RawDisk

VMDK_MAGIC = b"KDMV"
MANIFEST_ATTEMPTS = 2
IMAGE_NAME = "mixed-cloud-migration-%s-disk-%s"
PORT_NAME = "mixed-cloud-migration-%s-%s"
# Properties every migrated image carries: the KVM side's hypervisor (nova's ImagePropertiesFilter
# keeps it off the vSphere proxies) and where its bytes came from.
KVM_IMAGE_PROPERTIES = {"hypervisor_type": "qemu"}


class BootFailed(BackendError):
    """The target server did not come up (ERROR, or not ACTIVE in time): the migration was rolled back."""


class SourceDiskDigest:
    """The sha256 of the source disk's bytes, fed the lease's stream in order.

    A raw stream is the disk itself; a streamOptimized one (vCenter's ``ExportVm`` default) is
    decoded by ``RawDisk`` on the way, so that the source's hash owes nothing to qemu-img.
    """

    def __init__(self):
        self.digest = hashlib.sha256()
        self._head = b""
        self._decoder = None
        self.format = None

    def update(self, data):
        if self.format is None:
            self._head += bytes(data)
            if len(self._head) < len(VMDK_MAGIC):
                return
            data, self._head = self._head, b""
            self.format = "vmdk" if data[:4] == VMDK_MAGIC else "raw"
            if self.format == "vmdk":
                self._decoder = RawDisk(self.digest.update)
        if self._decoder is not None:
            self._decoder.update(data)
        else:
            self.digest.update(data)

    def hexdigest(self):
        if self._decoder is not None:
            self._decoder.finish()
        return self.digest.hexdigest()


class ColdMigration:
    def __init__(self, plan, source, cloud, qemu, staging_root, owner, timeouts, owner_alive=None, stale_after=steps.STALE_AFTER,
                 chunk=disk_hashes.CHUNK,
                 clock=time.time, monotonic=time.monotonic, sleep=time.sleep, progress_every=5.0):
        self.plan, self.source, self.cloud, self.qemu = plan, source, cloud, qemu
        self.id = plan["migration_id"]
        self.staging_root, self.owner, self.timeouts = staging_root, owner, timeouts
        self.owner_alive, self.stale_after, self.chunk = owner_alive, stale_after, chunk
        self.clock, self.monotonic, self.sleep, self.progress_every = clock, monotonic, sleep, progress_every
        self.aggregate, self.record = cloud.find_record(self.id)
        self.steps_run, self.timings, self.progress, self.restarted, self.server = [], {}, None, [], None
        self.resumed = {}  # disk key -> the byte its download resumed from
        self.nova_id = plan["source"].get("nova_id")

    # --- the record ------------------------------------------------------------------------

    def _write(self, new):
        new = steps.heartbeat(new, self.owner, self.clock()) if new.get("state") == "running" else new
        self.record = self.cloud.write_record(self.aggregate, self.id, self.record, steps.check(new))

    def _note(self, **facts):
        self._write(steps.noted(self.record, **facts))

    def _completed(self, step, disk=None, **facts):
        self._write(steps.completed(self.record, step, disk, **facts))

    # --- forward ---------------------------------------------------------------------------

    def migrate(self):
        """Run the migration's steps from where its record is; a failed boot is rolled back and raised."""
        if self.record is not None and self.record.get("state") == "rolled_back":
            self.cloud.delete_record(self.aggregate, self.id)  # a migration started again after its rollback
            self.aggregate, self.record = None, None
        if self.record is None:
            self._claim()
        elif self.record.get("state") == "running":
            allowed, why = steps.may_run(self.record, self.owner, self.clock(), self.stale_after, self.owner_alive)
            if not allowed:
                raise steps.MigrationRefused("Migration %s is running in another run: %s." % (self.id, why))
            if self.record.get("source_fp"):
                steps.check_source_unchanged(self.record, self._fingerprint())
            self._write(dict(self.record))
        while True:
            step = steps.next_step(self.record)
            if step is None:
                return
            name, disk = step
            started = self.monotonic()
            label = name if disk is None else "%s:%s" % (name, disk)
            try:
                if disk is None:
                    getattr(self, "_" + name)()
                else:
                    getattr(self, "_" + name)(disk)
            finally:
                self.timings[label] = round(self.timings.get(label, 0) + self.monotonic() - started, 2)
            self.steps_run.append(label)

    def _fingerprint(self):
        return steps.source_fingerprint(self.source.fingerprint_facts())

    def _claim(self):
        stopped = self.plan["source"]["power_state"] == "poweredOff"
        record = steps.claim_record(self.plan, self._fingerprint() if stopped else None)
        record = steps.heartbeat(record, self.owner, self.clock())
        self.aggregate, self.record = self.cloud.claim_record(self.id, record)
        if self.aggregate is None:
            raise steps.MigrationRefused("Another run claimed migration %s a moment ago; nothing was changed." % self.id)
        if self.nova_id:
            # nova's users cannot start the stopped source (or change it) until it is rolled back or deleted.
            self.cloud.lock_server(self.nova_id)
        self.steps_run.append("claim")

    def _stop_source(self):
        if self.nova_id:
            self.cloud.stop_server(self.nova_id, self.timeouts["stop"])
        self.source.power_off(self.timeouts["stop"])
        self._completed("stop_source", source_fp=self._fingerprint())

    def _disk(self, key):
        return next(disk for disk in self.plan["disks"] if str(disk["key"]) == str(key))

    def _staging(self, key):
        return staging.DiskStaging(self.staging_root, self.id, key)

    def _restart(self, key, why):
        """Start a disk's copy again (its staging files are gone, or its hashes differed)."""
        self._write(steps.restart_disk(self.record, key))
        self.restarted.append({"disk": key, "why": why})

    def _download(self, key):
        disk = self._disk(key)
        attempt = 0
        while True:
            try:
                facts = self._download_once(key, disk)
                break
            except disk_hashes.RangesRefused as error:
                # No resume from this server: the staged prefix is of no use, the disk starts again at 0
                # (not counted as an attempt: nothing differed).
                self._staging(key).remove_download()
                self.resumed.pop(key, None)
                self.restarted.append({"disk": key, "why": "%s; its copy starts again at 0" % error})
            except disk_hashes.DiskMismatch:
                attempt += 1
                self._staging(key).remove_download()
                if attempt == MANIFEST_ATTEMPTS:
                    raise
        self._completed("download", key, **facts)

    def _download_once(self, key, disk):
        lease = self.source.open_lease(self.timeouts["lease_ready"])
        try:
            url = {url["key"]: url for url in lease.device_urls}.get(disk["device_url_key"])
            if url is None:
                raise BackendError("The export lease of %s has no URL for disk %s (%s): the VM's devices changed "
                                   "since the plan; roll back and start again." % (
                                       self.plan["source"]["name"], key, disk["device_url_key"]))
            files = self._staging(key)
            source_digest = SourceDiskDigest()
            read_at, staged = files.reader()
            try:
                saved = files.load_saved()
                if saved and saved.get("size") == url["file_size"]:
                    hashes = disk_hashes.resume(saved, read_at, size=url["file_size"], sinks=[source_digest.update])
                else:
                    hashes = disk_hashes.StreamHashes(("sha1", "sha256"), chunk=self.chunk, size=url["file_size"],
                                                      sinks=[source_digest.update])
            finally:
                if staged is not None:
                    staged.close()
            if hashes.offset:
                self.resumed[key] = hashes.offset
            meter = Progress(url["file_size"] or disk["capacity_bytes"], done=hashes.offset, clock=self.monotonic)
            report = Every(self.progress_every, self.monotonic)
            with files.open_stream(resume=hashes.offset > 0) as out:
                files.save(hashes.saved(), out)
                out.truncate(hashes.offset)
                chunks = [len(hashes.chunks)]

                def sink(block):
                    hashes.update(block)
                    meter.add(len(block))
                    if len(hashes.chunks) != chunks[0]:  # a whole chunk more: what a resume may start from
                        chunks[0] = len(hashes.chunks)
                        files.save(hashes.saved(), out)
                        self._report(key, meter)
                    elif report.due():
                        self._report(key, meter)

                size = lease.download(url, out, start=hashes.offset, sink=sink, percent=meter.percent)
                files.save(hashes.saved(), out)
            self._report(key, meter)
            digests = hashes.hexdigests()
            disk_hashes.check_manifest(url["key"], {"sha1": digests["sha1"], "size": size}, lease.manifest())
            facts = {"disk.%s.stream_sha1" % key: digests["sha1"], "disk.%s.sha256" % key: source_digest.hexdigest(),
                     "disk.%s.format" % key: source_digest.format or "raw"}
        except BaseException:
            lease.abort()
            raise
        lease.complete()
        return facts

    def _report(self, key, meter):
        """The download's progress (every whole chunk, and every ``progress_every`` seconds), into the result,
        the progress file (for vm_migrate_wait) and the record (for any poller, and the run's heartbeat)."""
        self.progress = dict(meter.figures(), disk=key, disks=len(self.plan["disks"]), owner=self.owner)
        self._note(progress="disk %(disk)s %(bytes_done)d/%(bytes_total)d bytes %(percent)d%% %(bytes_per_second)d B/s"
                   % self.progress)
        # The file last: whoever sees these figures there finds them in the record too.
        staging.write_progress(self.staging_root, self.id, self.progress)

    def _convert(self, key):
        files = self._staging(key)
        if not os.path.exists(files.stream):
            return self._restart(key, "its downloaded stream is not on this host (the run moved or its staging "
                                      "was removed)")
        self.qemu.convert(files.stream, self.record["disk.%s.format" % key], files.target, "qcow2")
        files.remove_download()
        self._completed("convert", key)
        return None

    def _hash_target(self, key):
        files = self._staging(key)
        if not os.path.exists(files.target):
            return self._restart(key, "its converted image is not on this host")
        target = self.qemu.raw_sha256(files.target, "qcow2", files.check)
        try:
            disk_hashes.disk_proof(key, self.record["disk.%s.sha256" % key], target)
        except disk_hashes.DiskMismatch:
            self._restart(key, "the target's sha256 %s differed from the source's" % target)
            raise
        self._completed("hash_target", key, **{"disk.%s.target_sha256" % key: target})
        return None

    def _upload(self, key):
        files = self._staging(key)
        fact = "disk.%s.image" % key
        if self.record.get(fact):
            image = self.cloud.find_image(self.record[fact])
            if image and image.get("status") == "active" and \
                    image.get("properties", {}).get("mixed_cloud_source_sha256") == self.record["disk.%s.sha256" % key]:
                files.remove_download()
                self._completed("upload", key, **{fact: image["id"]})
                return None
            if image:
                self.cloud.delete_image(image["id"])
        if not os.path.exists(files.target):
            return self._restart(key, "its converted image is not on this host")
        disk = self._disk(key)
        properties = dict(self.plan["image_properties"], **disk["image_properties"])
        properties.update(KVM_IMAGE_PROPERTIES, mixed_cloud_source_sha256=self.record["disk.%s.sha256" % key],
                          mixed_cloud_migration=self.id)
        image = self.cloud.create_image(IMAGE_NAME % (self.id, key), properties)
        self._note(**{fact: image["id"]})
        self.cloud.upload_image(image, files.target)
        os.remove(files.target)
        self._completed("upload", key, **{fact: image["id"]})
        return None

    def _ports(self):
        """Each NIC's port, noted as soon as its call succeeded; a resumed step skips the ports it noted
        (a moved port is no longer the source's, so a resumed plan lists fewer: ports are known by ID)."""
        noted = {port_id for _n, port_id, _how in steps.ports(self.record)}
        for nic in self.plan["nics"]:
            fact = "port.%d" % len(steps.ports(self.record))
            if nic["action"] == "move_port":
                if nic["port_id"] in noted:
                    continue
                self.cloud.detach_port(self.nova_id, nic["port_id"], self.timeouts["stop"])
                self._note(**{fact: "%s:moved" % nic["port_id"]})
            else:
                name = PORT_NAME % (self.id, nic["mac"].replace(":", ""))
                port = self.cloud.find_port(name)
                if port is not None and port["id"] in noted:
                    continue
                port = port or self.cloud.create_port(name, nic["target_network"], nic["mac"], nic["fixed_ips"])
                self._note(**{fact: "%s:created" % port["id"]})
        self._completed("ports")

    def _create_server(self):
        server = self.cloud.find_migrated_server(self.plan["source"]["name"], self.id)
        if server is None:
            boot = self.record["disk.%s.image" % self.plan["disks"][0]["key"]]
            networks = [{"port": port_id} for _n, port_id, _how in steps.ports(self.record)] or "none"
            server = self.cloud.create_server(self.plan["source"]["name"], boot, self.plan["flavor"]["id"],
                                              self.plan["metadata"], networks, self.plan["availability_zone"])
            self._note(server=server["id"])
        self._completed("create_server", server=server["id"])

    def _wait_active(self):
        server = self.cloud.wait_server(self.record["server"], self.timeouts["active"])
        if server["status"] != "ACTIVE":
            fault = (server.get("fault") or {}).get("message") or "no fault given"
            why = "Server %s (%s) of migration %s is %s, not ACTIVE: %s" % (
                server.get("name"), server["id"], self.id, server["status"], fault)
            undone = self.rollback()
            raise BootFailed("%s. Rolled back: %s; the source is as it was." % (why, ", ".join(undone) or "nothing"))
        self.server = server
        self._completed("wait_active")
        staging.remove_all(self.staging_root, self.id)

    # --- undoing and finalizing ----------------------------------------------------------

    def rollback(self):
        """Undo what the record says was done, newest first; the names of the actions taken."""
        done = []
        for action in steps.rollback_actions(self.record):
            kind = action["action"]
            if kind == "delete_server":
                self.cloud.delete_server(action["server"], self.timeouts["active"])
            elif kind == "reattach_port":
                self.cloud.attach_port(self.nova_id, action["port"])
            elif kind == "delete_port":
                self.cloud.delete_port(action["port"])
            elif kind == "delete_image":
                self.cloud.delete_image(action["image"])
            elif kind == "power_on_source":
                if self.nova_id:
                    self.cloud.start_server(self.nova_id, self.timeouts["stop"])
                else:
                    self.source.power_on(self.timeouts["stop"])
            elif kind == "delete_staging":
                staging.remove_all(self.staging_root, self.id)
                if self.nova_id:
                    self.cloud.unlock_server(self.nova_id)
            new = steps.undone(self.record, action)
            self.record = self.cloud.write_record(self.aggregate, self.id, self.record, new)
            done.append(kind)
            self.steps_run.append("rollback:" + kind)
        return done

    def finalize(self):
        """Delete the source of a done migration, mark its server, drop the record; the actions taken."""
        done = []
        for action in steps.finalize_actions(self.record):
            kind = action["action"]
            if kind == "delete_source":
                if self.nova_id:
                    self.cloud.delete_server(self.nova_id, self.timeouts["stop"])
                else:
                    self.source.destroy(self.timeouts["stop"])
            elif kind == "mark_server_finalized":
                self.cloud.set_server_metadata(action["server"], {"mixed_cloud_migration": "finalized"})
            if kind == "delete_record":
                self.cloud.delete_record(self.aggregate, self.id)
                self.record = None
            else:
                new = steps.finalized(self.record, action)
                self.record = self.cloud.write_record(self.aggregate, self.id, self.record, new)
            done.append(kind)
            self.steps_run.append("finalize:" + kind)
        return done
