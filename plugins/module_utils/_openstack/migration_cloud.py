# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cloud side of a migration as the runner (``_migration/cold.py``) sees it.

The record (``migration_record``), the nova instance that is the source (stop, start, lock,
its ports), the target server, its ports and images, all through the calls of ``nova.py``,
``neutron.py`` and ``glance.py``. Waits poll with a deadline on the injected clock. Deleting
what is already gone (a rollback resumed after its call went through) is not an error.
"""

from __future__ import annotations

import re
import time

from .._common.errors import BackendError
from . import glance, migration_record, neutron, nova

POLL = 2.0
UUID = re.compile(r"^[0-9a-fA-F]{8}-?([0-9a-fA-F]{4}-?){3}[0-9a-fA-F]{12}$")
SCOPE = "aggregate_instance_extra_specs:"
GLANCE_HASH = "sha512"  # glance's default [DEFAULT] hashing_algorithm, used until an image names its own


def _gone(error):
    return getattr(error, "status", None) == 404


class MigrationCloud:
    def __init__(self, client, clock=time.monotonic, sleep=time.sleep):
        self.client, self.clock, self.sleep = client, clock, sleep

    # --- the record -------------------------------------------------------------------

    def find_record(self, migration_id):
        return migration_record.find_record(nova.list_aggregates(self.client), migration_id)

    def claim_record(self, migration_id, record):
        return migration_record.claim(self.client, migration_id, record)

    def write_record(self, aggregate_id, migration_id, old, new):
        return migration_record.write(self.client, aggregate_id, migration_id, old, new)

    def delete_record(self, aggregate_id, migration_id):
        migration_record.delete(self.client, aggregate_id, migration_id)

    # --- the plan's reads -------------------------------------------------------------

    def source_server(self, name_or_id):
        """The nova instance to migrate, by ID or exact name; never a server a migration created
        (it bears the source's name). None when there is none."""
        found = nova.find_server(self.client, name_or_id) if UUID.match(name_or_id) else None
        candidates = [found] if found else nova.list_servers_named(self.client, name_or_id)
        sources = [server for server in candidates if not (server.get("metadata") or {}).get("mixed_cloud_migrated_from")]
        if len(sources) > 1:
            raise BackendError("%d instances are named %s (%s): name the source by its ID." % (
                len(sources), name_or_id, ", ".join(server["id"] for server in sources)))
        return sources[0] if sources else None

    def finalized_server(self, name=None, migration_id=None):
        """The server of a finalized migration (its source is gone), by the source's name or UUID."""
        servers = nova.list_servers_named(self.client, name) if name else nova.list_all(
            self.client, "/servers/detail", "servers", nova.MICROVERSIONS["servers"], {"all_tenants": 1},
            "list the instances")
        found = [server for server in servers if (server.get("metadata") or {}).get("mixed_cloud_migration") ==
                 "finalized" and (migration_id is None or server["metadata"].get("mixed_cloud_migrated_from") ==
                                  migration_id)]
        return found[0] if found else None

    def nova_view(self, server):
        """The plan's ``nova`` part of a source instance: its status, metadata, flavor and ports."""
        ports = neutron.list_ports(self.client, device_id=server["id"])
        flavor = server.get("flavor") or {}
        return {"id": server["id"], "status": server["status"], "metadata": dict(server.get("metadata") or {}),
                "flavor": {key: flavor.get(key) for key in ("vcpus", "ram", "disk")},
                "ports": [{"id": port["id"], "mac": port["mac_address"], "network_id": port["network_id"],
                           "fixed_ips": [{"subnet_id": ip["subnet_id"], "ip_address": ip["ip_address"]}
                                         for ip in port.get("fixed_ips") or ()]} for port in ports]}

    def target(self, flavor=None, aggregate=None):
        """The plan's target: the named flavor, or the aggregate with the flavors it takes.

        A flavor is taken by an aggregate when it names the aggregate's metadata in
        ``aggregate_instance_extra_specs:`` extra specs (as the mixed_cloud role's flavors do)
        and every such spec matches it: a flavor without them could land on any host, a vSphere
        proxy included.
        """
        flavors = [{"id": f["id"], "name": f["name"], "vcpus": f["vcpus"], "ram": f["ram"], "disk": f["disk"],
                    "extra_specs": f.get("extra_specs") or {}} for f in nova.list_flavors(self.client)]
        out = {"flavor": None, "aggregate": None, "flavors": []}
        if flavor:
            named = [f for f in flavors if flavor in (f["id"], f["name"])]
            if not named:
                raise BackendError("No flavor %s in the cloud." % flavor)
            out["flavor"] = named[0]
            return out
        found = [a for a in nova.list_aggregates(self.client) if a["name"] == aggregate]
        if not found:
            raise BackendError("No host aggregate %s in the cloud." % aggregate)
        metadata = found[0].get("metadata") or {}
        out["aggregate"] = {"name": aggregate, "availability_zone": found[0].get("availability_zone")}
        for candidate in flavors:
            scoped = {k[len(SCOPE):]: v for k, v in candidate["extra_specs"].items() if k.startswith(SCOPE)}
            if scoped and all(metadata.get(k) == v for k, v in scoped.items()):
                out["flavors"].append(candidate)
        return out

    # --- servers ----------------------------------------------------------------------

    def _wait(self, server_id, done, what, timeout):
        """Poll the instance until ``done(server or None)``; the last read (None: deleted)."""
        deadline = self.clock() + timeout
        while True:
            server = nova.find_server(self.client, server_id)
            if done(server):
                return server
            if self.clock() >= deadline:
                state = "gone" if server is None else "%s (task %s)" % (server["status"], server.get("OS-EXT-STS:task_state"))
                raise BackendError("Instance %s did not %s within %d s; it is %s." % (server_id, what, timeout, state))
            self.sleep(POLL)

    def stop_server(self, server_id, timeout):
        server = nova.read_server(self.client, server_id)
        if server["status"] != "SHUTOFF":
            nova.server_action(self.client, server_id, {"os-stop": None}, "stop instance %s" % server_id)
        self._wait(server_id, lambda s: s and s["status"] == "SHUTOFF" and not s.get("OS-EXT-STS:task_state"),
                   "stop", timeout)

    def start_server(self, server_id, timeout):
        server = nova.read_server(self.client, server_id)
        if server["status"] != "ACTIVE":
            nova.server_action(self.client, server_id, {"os-start": None}, "start instance %s" % server_id)
        self._wait(server_id, lambda s: s and s["status"] == "ACTIVE" and not s.get("OS-EXT-STS:task_state"),
                   "start", timeout)

    def lock_server(self, server_id):
        reason = "being migrated to KVM by nova_vsphere.mixed_cloud.vm_migrate"
        nova.server_action(self.client, server_id, {"lock": {"locked_reason": reason}}, "lock instance %s" % server_id,
                           nova.MICROVERSIONS["lock_with_reason"])

    def unlock_server(self, server_id):
        nova.server_action(self.client, server_id, {"unlock": None}, "unlock instance %s" % server_id)

    def delete_server(self, server_id, timeout):
        if nova.find_server(self.client, server_id) is None:
            return
        try:
            nova.delete_server(self.client, server_id)
        except BackendError as error:
            if not _gone(error):
                raise
        self._wait(server_id, lambda s: s is None, "go away", timeout)

    def find_migrated_server(self, name, migration_id):
        """The server a run created for this migration (its metadata names it), or None."""
        found = [server for server in nova.list_servers_named(self.client, name)
                 if (server.get("metadata") or {}).get("mixed_cloud_migrated_from") == migration_id]
        return found[0] if found else None

    def create_server(self, name, image_id, flavor_id, metadata, networks, availability_zone):
        body = {"name": name, "imageRef": image_id, "flavorRef": flavor_id, "metadata": metadata,
                "networks": networks}
        if availability_zone:
            body["availability_zone"] = availability_zone
        return nova.create_server(self.client, body)

    def wait_server(self, server_id, timeout):
        """The server once it is ACTIVE or ERROR; still building at the deadline, as it is then."""
        try:
            return self._wait(server_id, lambda s: s is None or s["status"] in ("ACTIVE", "ERROR"), "boot", timeout) \
                or {"id": server_id, "status": "DELETED", "fault": {"message": "the instance was deleted"}}
        except BackendError as error:
            server = nova.find_server(self.client, server_id) or {"id": server_id, "status": "DELETED"}
            return dict(server, fault={"message": str(error)})

    def set_server_metadata(self, server_id, metadata):
        nova.set_server_metadata(self.client, server_id, metadata)

    # --- ports ------------------------------------------------------------------------

    def detach_port(self, server_id, port_id, timeout):
        """Detach the nova source's port and wait until neutron shows it free (the target takes it next)."""
        if neutron.read_port(self.client, port_id).get("device_id") == server_id:
            nova.detach_interface(self.client, server_id, port_id)
        deadline = self.clock() + timeout
        while neutron.read_port(self.client, port_id).get("device_id"):
            if self.clock() >= deadline:
                raise BackendError("Port %s was still bound %d s after it was detached from instance %s." % (
                    port_id, timeout, server_id))
            self.sleep(POLL)

    def attach_port(self, server_id, port_id):
        if neutron.read_port(self.client, port_id).get("device_id") != server_id:
            nova.attach_interface(self.client, server_id, port_id)

    def find_port(self, name):
        found = neutron.list_ports(self.client, name=name)
        return found[0] if found else None

    def create_port(self, name, network_id, mac, fixed_ips):
        return neutron.create_port(self.client, {"name": name, "network_id": network_id, "mac_address": mac,
                                                 "fixed_ips": fixed_ips})

    def delete_port(self, port_id):
        try:
            neutron.delete_port(self.client, port_id)
        except BackendError as error:
            if not _gone(error):
                raise

    def networks(self, ids):
        return neutron.list_networks(self.client, ids)

    # --- images -----------------------------------------------------------------------

    def find_image(self, image_id):
        try:
            image = glance.call(self.client, "GET", "/images/%s" % image_id, "read image %s" % image_id)
        except BackendError as error:
            if _gone(error):
                return None
            raise
        return dict(glance.view(image), id=image["id"])

    def create_image(self, name, properties):
        return glance.create(self.client, {"name": name, "disk_format": "qcow2", "container_format": "bare",
                                           "visibility": None, "properties": properties})

    def upload_image(self, image, path):
        """Upload the file; glance's hash of what it stored must be the file's (what was sent arrived whole)."""
        stored = glance.upload(self.client, image, path)
        local = glance.file_hash(path, stored.get("os_hash_algo") or GLANCE_HASH)
        if stored.get("status") != "active" or stored.get("os_hash_value") != local:
            raise BackendError("Glance holds image %s (%s) as %s with %s %s; the file sent hashes %s: its upload "
                               "starts again on the next run." % (
                                   image["name"], image["id"], stored.get("status"), stored.get("os_hash_algo"),
                                   stored.get("os_hash_value"), local))
        return stored

    def delete_image(self, image_id):
        try:
            glance.call(self.client, "DELETE", "/images/%s" % image_id, "delete image %s" % image_id)
        except BackendError as error:
            if not _gone(error):
                raise
