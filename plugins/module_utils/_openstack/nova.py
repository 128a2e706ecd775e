# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Nova's REST API: one table of microversions, one listing helper that follows paging.

Every nova call of the collection goes through this file, so each behaviour the collection
relies on is pinned once, in MICROVERSIONS:

- 2.41: host aggregates carry their UUID (nothing the collection uses changed after it).
- 2.53: compute services by UUID (``PUT /os-services/{id}`` with status, disabled_reason and
  forced_down together); the newest microversion whose hypervisor listings still carry vCPU,
  memory and disk figures (2.88 removed them); servers with their flavor embedded, extra
  specs included (2.47+).
- 2.59: os-migrations with paging, changes-since and each record's uuid.
- 2.61: flavor listings carry the extra specs.
- 2.86: nova validates extra specs' keys and values when they are set (used where the cloud has it).
- 2.68: evacuate without the force flag (removed there, so a named host still goes through
  the scheduler's checks) and without onSharedStorage (gone since 2.14: nova finds out);
  nova brings active instances back active and stopped ones stopped.
- 2.95: the same, except that nova leaves every evacuated instance stopped.
- Servers (2.53) are also created, stopped, started, locked, deleted and given interfaces by
  the migration (``_openstack/migration_cloud.py``): 2.37 is the oldest to boot with
  ``networks: none``, and nothing these calls send changed between it and 2.53.
- 2.73: a lock with its reason (``locked_reason``), which the migration gives its source.

Every listing goes through ``list_all``, which follows nova's ``<key>_links`` next links:
nova returns at most ``[api] max_limit`` items (1,000 by default) per page. Listings that
nova does not page (os-services, os-aggregates) have no such link and are read in one call.
"""

from __future__ import annotations

import re
from urllib.parse import parse_qsl, quote, urlencode, urlsplit

MICROVERSIONS = {
    "aggregates": "2.41",
    "services": "2.53",
    "hypervisors": "2.53",
    "servers": "2.53",
    "migrations": "2.59",
    "flavors": "2.61",
    "flavor_extra_specs_validated": "2.86",  # nova checks extra specs' keys and values when set
    "evacuate_preserve": "2.68",
    "evacuate_stopped": "2.95",
    "lock_with_reason": "2.73",
}

VMWARE_HYPERVISOR_TYPE = "VMware vCenter Server"


def list_all(client, path, key, microversion, query=None, doing=None):
    """Every item of a nova listing, following its ``<key>_links`` next links.

    Nova returns at most ``[api] max_limit`` items (1,000 by default) per page and a link
    to the next; a listing that nova does not page simply has no such link.
    """
    query = dict(query or {})
    items = []
    while True:
        target = "%s?%s" % (path, urlencode(query)) if query else path
        body = client.request("compute", "GET", target, microversion=microversion, doing=doing or "list " + key)
        items.extend(body[key])
        following = [link["href"] for link in body.get(key + "_links") or () if link.get("rel") == "next"]
        if not following:
            return items
        query = dict(parse_qsl(urlsplit(following[0]).query))


def _id(item):
    return quote(str(item["id"]), safe="")


# --- compute services and hypervisors ---------------------------------------------------

def list_services(client):
    """Every nova service (API, conductor, scheduler and computes), each with its heartbeat."""
    return list_all(client, "/os-services", "services", MICROVERSIONS["services"], doing="list nova services")


def list_compute_services(client):
    return list_all(client, "/os-services", "services", MICROVERSIONS["services"], {"binary": "nova-compute"},
                    "list nova-compute services")


def update_service(client, service, update, doing=None):
    """``PUT /os-services/{id}``: status, disabled_reason and/or forced_down of one compute service."""
    client.request("compute", "PUT", "/os-services/%s" % _id(service), microversion=MICROVERSIONS["services"],
                   json=update, doing=doing or "update the nova-compute service of %s" % service["host"])


def list_hypervisors(client):
    return list_all(client, "/os-hypervisors/detail", "hypervisors", MICROVERSIONS["hypervisors"],
                    doing="list hypervisors")


def hypervisor_kind(hypervisor_type):
    """vsphere for a VMware proxy's cluster, libvirt for KVM/QEMU, else the type itself."""
    if hypervisor_type == VMWARE_HYPERVISOR_TYPE:
        return "vsphere"
    if hypervisor_type == "QEMU":
        return "libvirt"
    return (hypervisor_type or "unknown").lower()


def join_hypervisors(hypervisors, services):
    """One row per hypervisor with its compute service's state, sorted by service host."""
    services_by_host = {service["host"]: service for service in services}
    rows = []
    for hypervisor in hypervisors:
        host = (hypervisor.get("service") or {}).get("host")
        service = services_by_host.get(host, {})
        rows.append({
            "name": hypervisor["hypervisor_hostname"],
            "id": hypervisor["id"],
            "host": host,
            "type": hypervisor.get("hypervisor_type"),
            "kind": hypervisor_kind(hypervisor.get("hypervisor_type")),
            "state": hypervisor.get("state"),
            "status": hypervisor.get("status"),
            "vcpus": hypervisor.get("vcpus"),
            "memory_mb": hypervisor.get("memory_mb"),
            "memory_used_mb": hypervisor.get("memory_mb_used"),
            "local_gb": hypervisor.get("local_gb"),
            "running_vms": hypervisor.get("running_vms"),
            "service": {
                "id": service.get("id"),
                "state": service.get("state"),
                "status": service.get("status"),
                "forced_down": service.get("forced_down"),
                "disabled_reason": service.get("disabled_reason"),
                "zone": service.get("zone"),
            },
        })
    return sorted(rows, key=lambda row: (row["host"] or "", row["name"]))


def services_without_hypervisor(hypervisors, services):
    """Compute services whose hypervisor never registered (a proxy that cannot reach its cluster)."""
    registered = {(hypervisor.get("service") or {}).get("host") for hypervisor in hypervisors}
    return sorted(service["host"] for service in services if service["host"] not in registered)


# --- host aggregates --------------------------------------------------------------------

def list_aggregates(client):
    return list_all(client, "/os-aggregates", "aggregates", MICROVERSIONS["aggregates"], doing="list host aggregates")


def create_aggregate(client, name, availability_zone=None):
    """The new aggregate, as nova returns it."""
    aggregate = {"name": name}
    if availability_zone:
        aggregate["availability_zone"] = availability_zone
    return client.request("compute", "POST", "/os-aggregates", microversion=MICROVERSIONS["aggregates"],
                          json={"aggregate": aggregate}, doing="create host aggregate %s" % name)["aggregate"]


def aggregate_action(client, aggregate, action, payload, doing):
    """``POST /os-aggregates/{id}/action`` (add_host, remove_host, set_metadata); the aggregate after it."""
    return client.request("compute", "POST", "/os-aggregates/%s/action" % _id(aggregate),
                          microversion=MICROVERSIONS["aggregates"], json={action: payload}, doing=doing)["aggregate"]


def update_aggregate(client, aggregate, fields, doing):
    """``PUT /os-aggregates/{id}`` with name and/or availability_zone; the aggregate after it."""
    return client.request("compute", "PUT", "/os-aggregates/%s" % _id(aggregate),
                          microversion=MICROVERSIONS["aggregates"], json={"aggregate": fields}, doing=doing)["aggregate"]


def delete_aggregate(client, aggregate):
    """Delete an aggregate (nova refuses while it still has hosts)."""
    client.request("compute", "DELETE", "/os-aggregates/%s" % _id(aggregate), microversion=MICROVERSIONS["aggregates"],
                   doing="delete host aggregate %s" % aggregate["name"])


# --- flavors ----------------------------------------------------------------------------

def list_flavors(client):
    """Every flavor, public and private, with its extra specs."""
    return list_all(client, "/flavors/detail", "flavors", MICROVERSIONS["flavors"], {"is_public": "None"},
                    "list flavors")


def create_flavor(client, body):
    """Create a flavor from ``body`` (the fields inside nova's ``flavor`` envelope); the new flavor."""
    return client.request("compute", "POST", "/flavors", microversion=MICROVERSIONS["flavors"],
                          json={"flavor": body}, doing="create flavor %s" % body["name"])["flavor"]


def set_flavor_extra_specs(client, flavor, specs, microversion):
    """Create or update extra specs; nova validates their values from 2.86 on."""
    client.request("compute", "POST", "/flavors/%s/os-extra_specs" % _id(flavor), microversion=microversion,
                   json={"extra_specs": specs}, doing="set extra specs on flavor %s" % flavor["name"])


def delete_flavor_extra_spec(client, flavor, key, microversion):
    client.request("compute", "DELETE", "/flavors/%s/os-extra_specs/%s" % (_id(flavor), quote(key, safe=":")),
                   microversion=microversion, doing="delete extra spec %s of flavor %s" % (key, flavor["name"]))


def delete_flavor(client, flavor):
    client.request("compute", "DELETE", "/flavors/%s" % _id(flavor), microversion=MICROVERSIONS["flavors"],
                   doing="delete flavor %s" % flavor["name"])


# --- servers and their evacuation -------------------------------------------------------

def list_servers_on(client, host):
    return list_all(client, "/servers/detail", "servers", MICROVERSIONS["servers"], {"all_tenants": 1, "host": host},
                    "list the instances on %s" % host)


def list_evacuations_from(client, host, since=None):
    query = {"migration_type": "evacuation", "source_compute": host}
    if since:
        query["changes-since"] = since
    return list_all(client, "/os-migrations", "migrations", MICROVERSIONS["migrations"], query,
                    "list the evacuations from %s" % host)


def read_server(client, server_id):
    return client.request("compute", "GET", "/servers/%s" % quote(server_id, safe=""),
                          microversion=MICROVERSIONS["servers"], doing="read instance %s" % server_id)["server"]


def find_server(client, server_id):
    """The instance, or None if it was deleted (a filtered list answers that without a 404)."""
    found = list_all(client, "/servers/detail", "servers", MICROVERSIONS["servers"],
                     {"all_tenants": 1, "uuid": server_id}, "look up instance %s" % server_id)
    return found[0] if found else None


class NovaEvacuation:
    """What the evacuation loop asks of nova, for one source host."""

    def __init__(self, client, host, target_state, since):
        self.client, self.host, self.since = client, host, since
        self.microversion = MICROVERSIONS["evacuate_" + target_state]

    def evacuate(self, server_id, target_host=None):
        # No adminPass: since 2.14 nova makes one up, returns it to no one, and injects it only where
        # password injection is configured (off by default).
        body = {"evacuate": {"host": target_host} if target_host else {}}
        self._action(server_id, body, self.microversion, "evacuate instance %s" % server_id)

    def reset_to_error(self, server_id):
        self._action(server_id, {"os-resetState": {"state": "error"}}, MICROVERSIONS["servers"],
                     "reset the state of instance %s" % server_id)

    def stop(self, server_id):
        self._action(server_id, {"os-stop": None}, MICROVERSIONS["servers"], "stop instance %s" % server_id)

    def server(self, server_id):
        return read_server(self.client, server_id)

    def migrations(self):
        return list_evacuations_from(self.client, self.host, self.since)

    def _action(self, server_id, body, microversion, doing):
        self.client.request("compute", "POST", "/servers/%s/action" % quote(server_id, safe=""),
                            microversion=microversion, json=body, doing=doing)


def server_action(client, server_id, body, doing, microversion=MICROVERSIONS["servers"]):
    """One action (os-stop, os-start, lock, unlock) on an instance."""
    client.request("compute", "POST", "/servers/%s/action" % quote(server_id, safe=""),
                   microversion=microversion, json=body, doing=doing)


def list_servers_named(client, name):
    """Every instance named exactly ``name``, of every project (nova's name filter is a regular expression)."""
    return list_all(client, "/servers/detail", "servers", MICROVERSIONS["servers"],
                    {"all_tenants": 1, "name": "^%s$" % re.escape(name)}, "list the instances named %s" % name)


def create_server(client, body):
    return client.request("compute", "POST", "/servers", microversion=MICROVERSIONS["servers"],
                          json={"server": body}, doing="create instance %s" % body["name"])["server"]


def delete_server(client, server_id):
    client.request("compute", "DELETE", "/servers/%s" % quote(server_id, safe=""),
                   microversion=MICROVERSIONS["servers"], doing="delete instance %s" % server_id)


def set_server_metadata(client, server_id, metadata):
    """Set (add or change) these metadata items of an instance; the others stay."""
    client.request("compute", "POST", "/servers/%s/metadata" % quote(server_id, safe=""),
                   microversion=MICROVERSIONS["servers"], json={"metadata": metadata},
                   doing="set the metadata of instance %s" % server_id)


def detach_interface(client, server_id, port_id):
    client.request("compute", "DELETE", "/servers/%s/os-interface/%s" % (quote(server_id, safe=""), port_id),
                   microversion=MICROVERSIONS["servers"], doing="detach port %s from instance %s" % (port_id, server_id))


def attach_interface(client, server_id, port_id):
    client.request("compute", "POST", "/servers/%s/os-interface" % quote(server_id, safe=""),
                   microversion=MICROVERSIONS["servers"], json={"interfaceAttachment": {"port_id": port_id}},
                   doing="attach port %s to instance %s" % (port_id, server_id))


def newest_microversion(client):
    """The newest microversion of the cloud's compute API, from its version document (None: none)."""
    body = client.request("compute", "GET", "/", doing="read the compute API's version document") or {}
    versions = [body["version"]] if "version" in body else body.get("versions") or []
    numbers = [version["version"] for version in versions if version.get("version")]
    return max(numbers, key=microversion_tuple) if numbers else None


def microversion_tuple(microversion):
    """"2.86" -> (2, 86), so microversions compare as numbers."""
    return tuple(int(part) for part in microversion.split("."))
