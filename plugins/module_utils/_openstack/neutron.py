# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Neutron's REST API, for the calls the collection makes: networks with their subnets, and ports.

Paths are relative to the versioned endpoint openstacksdk discovers (``.../v2.0``). Neutron has
no microversions. Its listings are paged only where the server enables
``allow_pagination``; ``list_all`` follows the ``<key>_links`` next links it then returns,
as ``nova.list_all`` does for nova.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, urlencode, urlsplit


def list_all(client, path, key, query=None, doing=None):
    query = dict(query or {})
    items = []
    while True:
        target = "%s?%s" % (path, urlencode(query, doseq=True)) if query else path
        body = client.request("network", "GET", target, doing=doing or "list " + key)
        items.extend(body[key])
        following = [link["href"] for link in body.get(key + "_links") or () if link.get("rel") == "next"]
        if not following:
            return items
        query = dict(parse_qsl(urlsplit(following[0]).query))


def list_networks(client, ids):
    """The networks of these IDs, each with its subnets (id, cidr), by ID."""
    if not ids:
        return {}
    networks = list_all(client, "/networks", "networks", {"id": sorted(ids)}, "read networks %s" % ", ".join(ids))
    subnets = list_all(client, "/subnets", "subnets", {"network_id": sorted(ids)}, "read their subnets")
    out = {}
    for network in networks:
        out[network["id"]] = {"name": network.get("name"), "subnets": [
            {"id": subnet["id"], "cidr": subnet["cidr"]} for subnet in subnets if subnet["network_id"] == network["id"]]}
    return out


def list_ports(client, **query):
    return list_all(client, "/ports", "ports", query, "list ports %s" % urlencode(query))


def read_port(client, port_id):
    return client.request("network", "GET", "/ports/%s" % port_id, doing="read port %s" % port_id)["port"]


def create_port(client, body):
    return client.request("network", "POST", "/ports", json={"port": body},
                          doing="create port %s" % body.get("name"))["port"]


def delete_port(client, port_id):
    client.request("network", "DELETE", "/ports/%s" % port_id, doing="delete port %s" % port_id)
