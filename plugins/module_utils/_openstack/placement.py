# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Placement's REST API, as far as the collection uses it: resource providers by name, their inventories and traits.

Every call names its microversion from MICROVERSIONS: 1.14 (nested providers, each with its
parent) for providers and inventories; 1.6 for traits (the first with ``/traits`` and
``/resource_providers/{uuid}/traits``, and the ``startswith:`` name filter). Placement does
not page ``GET /resource_providers`` or ``GET /traits`` (they have no limit or marker); a
name filter answers at most one provider, since names are unique.
"""

from __future__ import annotations

from urllib.parse import quote, urlencode

MICROVERSIONS = {
    "resource_providers": "1.14",
    "traits": "1.6",
}


def resource_providers_named(client, names):
    """The placement resource providers of the given names (node names), by name, with their inventories."""
    found = {}
    for name in names:
        body = client.request("placement", "GET", "/resource_providers?%s" % urlencode({"name": name}),
                              microversion=MICROVERSIONS["resource_providers"], doing="look up resource provider %s" % name)
        for provider in body.get("resource_providers") or ():
            found[name] = {"uuid": provider["uuid"], "inventories": provider_inventories(client, provider["uuid"], name)}
    return found


def provider_inventories(client, uuid, name=None):
    """A resource provider's inventories by resource class (total, reserved, allocation_ratio, max_unit ...)."""
    body = client.request("placement", "GET", "/resource_providers/%s/inventories" % quote(uuid, safe=""),
                          microversion=MICROVERSIONS["resource_providers"],
                          doing="read the inventory of resource provider %s" % (name or uuid))
    return body.get("inventories") or {}


# --- traits ------------------------------------------------------------------------------

def list_traits(client, prefix):
    """The names of the traits placement knows that start with ``prefix``."""
    body = client.request("placement", "GET", "/traits?%s" % urlencode({"name": "startswith:" + prefix}),
                          microversion=MICROVERSIONS["traits"], doing="list the traits named %s*" % prefix)
    return sorted(body.get("traits") or ())


def create_trait(client, name):
    """``PUT /traits/{name}``: create a custom trait (placement answers 204 when it exists already)."""
    client.request("placement", "PUT", "/traits/%s" % quote(name, safe=""), microversion=MICROVERSIONS["traits"],
                   doing="create trait %s" % name)


def provider_traits(client, uuid, name=None):
    """(traits, generation) of a resource provider; the generation guards the next write."""
    body = client.request("placement", "GET", "/resource_providers/%s/traits" % quote(uuid, safe=""),
                          microversion=MICROVERSIONS["traits"],
                          doing="read the traits of resource provider %s" % (name or uuid))
    return sorted(body.get("traits") or ()), body["resource_provider_generation"]


def set_provider_traits(client, uuid, traits, generation, name=None):
    """Replace a provider's traits, if its generation is still ``generation``; (traits, new generation).

    Placement refuses (409) when the provider changed since it was read, as when its
    nova-compute updated it in between: nothing is written then.
    """
    body = client.request("placement", "PUT", "/resource_providers/%s/traits" % quote(uuid, safe=""),
                          microversion=MICROVERSIONS["traits"],
                          json={"traits": sorted(traits), "resource_provider_generation": generation},
                          doing="set the traits of resource provider %s" % (name or uuid))
    return sorted(body.get("traits") or ()), body["resource_provider_generation"]
