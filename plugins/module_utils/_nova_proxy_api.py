# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The nova and placement calls that manage a proxy's service and aggregates, at pinned microversions.

Compute 2.53 identifies services by UUID (``PUT /os-services/{id}``) and still shows the
hypervisors' capacity; aggregates carry their UUID since 2.41. Placement 1.14 is enough to
find a resource provider by name and read its inventory.
"""

from __future__ import annotations

from urllib.parse import quote

COMPUTE_MICROVERSION = "2.53"
PLACEMENT_MICROVERSION = "1.14"


def read_aggregates(client):
    body = client.request("compute", "GET", "/os-aggregates", microversion=COMPUTE_MICROVERSION,
                          doing="list host aggregates")
    return body["aggregates"]


def create_aggregate(client, name, availability_zone=None):
    aggregate = {"name": name}
    if availability_zone:
        aggregate["availability_zone"] = availability_zone
    body = client.request("compute", "POST", "/os-aggregates", microversion=COMPUTE_MICROVERSION,
                          json={"aggregate": aggregate}, doing="create host aggregate %s" % name)
    return body["aggregate"]


def add_host(client, aggregate, host):
    client.request("compute", "POST", "/os-aggregates/%s/action" % aggregate["id"], microversion=COMPUTE_MICROVERSION,
                   json={"add_host": {"host": host}}, doing="add %s to host aggregate %s" % (host, aggregate["name"]))


def set_service_status(client, service_id, host, enabled, reason=None):
    """Enable a nova-compute service, or disable it with a reason (shown by `openstack compute service list --long`)."""
    body = {"status": "enabled"} if enabled else {"status": "disabled"}
    if not enabled and reason:
        body["disabled_reason"] = reason
    client.request("compute", "PUT", "/os-services/%s" % service_id, microversion=COMPUTE_MICROVERSION, json=body,
                   doing="%s the nova-compute service of %s" % ("enable" if enabled else "disable", host))


def resource_providers_named(client, names):
    """The placement resource providers of the given names (node names), by name, with their inventories."""
    found = {}
    for name in names:
        body = client.request("placement", "GET", "/resource_providers?name=%s" % quote(name, safe=""),
                              microversion=PLACEMENT_MICROVERSION, doing="look up resource provider %s" % name)
        for provider in body.get("resource_providers") or ():
            inventories = client.request(
                "placement", "GET", "/resource_providers/%s/inventories" % provider["uuid"],
                microversion=PLACEMENT_MICROVERSION, doing="read the inventory of resource provider %s" % name)
            found[name] = {"uuid": provider["uuid"], "inventories": inventories.get("inventories") or {}}
    return found
