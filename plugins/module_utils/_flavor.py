# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Nova flavors and their extra specs: what differs (pure logic), and the calls.

Microversion 2.61 is the first whose flavor listings carry the extra specs, so one call
reads everything compared here.
"""

from __future__ import annotations

FLAVOR_MICROVERSION = "2.61"
# Fixed when a flavor is created: nova has no call to change them.
SIZE = ("vcpus", "ram", "disk", "ephemeral", "swap", "is_public")


def view(flavor):
    if flavor is None:
        return None
    return {
        "name": flavor["name"], "vcpus": flavor["vcpus"], "ram": flavor["ram"], "disk": flavor["disk"],
        "ephemeral": flavor.get("OS-FLV-EXT-DATA:ephemeral", 0), "swap": flavor.get("swap") or 0,
        "is_public": flavor.get("os-flavor-access:is_public", True),
        "extra_specs": dict(flavor.get("extra_specs") or {}),
    }


def size_differences(current, wanted):
    """The fixed fields that differ, as 'field: now -> wanted'."""
    return ["%s: %s -> %s" % (field, current[field], wanted[field]) for field in SIZE if current[field] != wanted[field]]


def spec_changes(current_specs, wanted_specs, purge):
    """(to_set, to_delete) for the extra specs."""
    to_set = {k: v for k, v in wanted_specs.items() if current_specs.get(k) != v}
    to_delete = sorted(k for k in current_specs if k not in wanted_specs) if purge else []
    return to_set, to_delete


def find(client, name):
    body = client.request("compute", "GET", "/flavors/detail?is_public=None", microversion=FLAVOR_MICROVERSION,
                          doing="list flavors")
    return next((flavor for flavor in body["flavors"] if flavor["name"] == name), None)


def create(client, wanted):
    body = {"flavor": {"name": wanted["name"], "vcpus": wanted["vcpus"], "ram": wanted["ram"], "disk": wanted["disk"],
                       "OS-FLV-EXT-DATA:ephemeral": wanted["ephemeral"], "swap": wanted["swap"],
                       "os-flavor-access:is_public": wanted["is_public"]}}
    return client.request("compute", "POST", "/flavors", microversion=FLAVOR_MICROVERSION, json=body,
                          doing="create flavor %s" % wanted["name"])["flavor"]


def set_specs(client, flavor, to_set, to_delete):
    if to_set:
        client.request("compute", "POST", "/flavors/%s/os-extra_specs" % flavor["id"],
                       microversion=FLAVOR_MICROVERSION, json={"extra_specs": to_set},
                       doing="set extra specs on flavor %s" % flavor["name"])
    for key in to_delete:
        client.request("compute", "DELETE", "/flavors/%s/os-extra_specs/%s" % (flavor["id"], key),
                       microversion=FLAVOR_MICROVERSION,
                       doing="delete extra spec %s of flavor %s" % (key, flavor["name"]))


def delete(client, flavor):
    client.request("compute", "DELETE", "/flavors/%s" % flavor["id"], microversion=FLAVOR_MICROVERSION,
                   doing="delete flavor %s" % flavor["name"])
