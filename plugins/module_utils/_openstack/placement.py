# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Placement's REST API, as far as the collection reads it: resource providers by name and their inventories.

Microversion 1.14 (nested providers, each with its parent) is enough for both calls. Placement
does not page ``GET /resource_providers`` (it has no limit or marker); a name filter answers
at most one provider, since names are unique.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

MICROVERSION = "1.14"


def resource_providers_named(client, names):
    """The placement resource providers of the given names (node names), by name, with their inventories."""
    found = {}
    for name in names:
        body = client.request("placement", "GET", "/resource_providers?%s" % urlencode({"name": name}),
                              microversion=MICROVERSION, doing="look up resource provider %s" % name)
        for provider in body.get("resource_providers") or ():
            inventories = client.request(
                "placement", "GET", "/resource_providers/%s/inventories" % quote(provider["uuid"], safe=""),
                microversion=MICROVERSION, doing="read the inventory of resource provider %s" % name)
            found[name] = {"uuid": provider["uuid"], "inventories": inventories.get("inventories") or {}}
    return found
