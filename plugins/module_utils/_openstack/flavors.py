# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Nova flavors and their extra specs: what differs, what nova would refuse, and the calls.

Flavor listings carry the extra specs from microversion 2.61 on. Nova checks extra specs'
keys and values (``hw:cpu_policy: bogus``) only from 2.86 on and only when they are set,
which needs the flavor to exist: a flavor this run created is deleted again when nova
refuses its extra specs. Their syntax, which nova's schema checks at every microversion,
is checked before the first write.
"""

from __future__ import annotations

import re

from .._common.errors import BackendError
from . import nova

# Fixed when a flavor is created: nova has no call to change them.
SIZE = ("vcpus", "ram", "disk", "ephemeral", "swap", "is_public")
# Nova's schema for extra specs (nova.api.validation.parameter_types.metadata).
SPEC_KEY = re.compile(r"^[a-zA-Z0-9-_:. ]{1,255}$")
SPEC_VALUE_LENGTH = 255


def view(flavor):
    if flavor is None:
        return None
    return {
        "name": flavor["name"], "vcpus": flavor["vcpus"], "ram": flavor["ram"], "disk": flavor["disk"],
        "ephemeral": flavor.get("OS-FLV-EXT-DATA:ephemeral", 0), "swap": flavor.get("swap") or 0,
        "is_public": flavor.get("os-flavor-access:is_public", True),
        "extra_specs": dict(flavor.get("extra_specs") or {}),
    }


def find(flavors, name):
    return next((flavor for flavor in flavors if flavor["name"] == name), None)


def size_differences(current, wanted):
    """The fixed fields that differ, as 'field: now -> wanted'."""
    return ["%s: %s -> %s" % (field, current[field], wanted[field]) for field in SIZE if current[field] != wanted[field]]


def spec_changes(current_specs, wanted_specs, purge):
    """(to_set, to_delete) for the extra specs."""
    to_set = {k: v for k, v in wanted_specs.items() if current_specs.get(k) != v}
    to_delete = sorted(k for k in current_specs if k not in wanted_specs) if purge else []
    return to_set, to_delete


def spec_refusals(specs):
    """The extra specs whose syntax nova refuses at any microversion, one line each."""
    found = ["key %r has characters other than letters, digits and '-_:. ', or is longer than 255" % key
             for key in sorted(specs) if not SPEC_KEY.match(key)]
    found += ["the value of %s is longer than %d characters" % (key, SPEC_VALUE_LENGTH)
              for key, value in sorted(specs.items()) if len(value) > SPEC_VALUE_LENGTH]
    return found


def plan(current, wanted):
    """(after, steps) from ``current`` (a view, or None) to ``wanted``.

    Steps are ("create", None), ("set_extra_specs", {key: value}) and ("delete_extra_spec",
    key). Raises BackendError for what nova would refuse: another size (fixed at creation)
    or extra specs its schema refuses.
    """
    if current:
        differences = size_differences(current, wanted)
        if differences:
            raise BackendError("Flavor %s exists with another size (%s); nova cannot change a flavor: delete it "
                               "or choose another name." % (wanted["name"], ", ".join(differences)))
    refused = spec_refusals(wanted["extra_specs"])
    if refused:
        raise BackendError("Nothing was changed: nova refuses these extra specs of flavor %s: %s." % (
            wanted["name"], "; ".join(refused)))
    specs = (current or {}).get("extra_specs", {})
    to_set, to_delete = spec_changes(specs, wanted["extra_specs"], wanted["purge_extra_specs"])
    after = dict((field, wanted[field]) for field in ("name",) + SIZE)
    after["extra_specs"] = {k: v for k, v in dict(specs, **to_set).items() if k not in to_delete}
    steps = [] if current else [("create", None)]
    steps += [("set_extra_specs", to_set)] if to_set else []
    steps += [("delete_extra_spec", key) for key in to_delete]
    return after, steps


def describe(step):
    """A step as the module reports it ("set_extra_specs hw:cpu_policy")."""
    action, argument = step
    if action == "set_extra_specs":
        return "%s %s" % (action, ", ".join(sorted(argument)))
    return action if argument is None else "%s %s" % (action, argument)


def spec_microversion(newest):
    """(microversion, warning) to set extra specs at, given the compute API's newest microversion."""
    validated = nova.MICROVERSIONS["flavor_extra_specs_validated"]
    if newest and nova.microversion_tuple(newest) >= nova.microversion_tuple(validated):
        return validated, None
    fallback = nova.MICROVERSIONS["flavors"]
    return fallback, ("The compute API of this cloud goes up to microversion %s, before %s: extra specs are set at "
                      "%s, where nova does not check their values." % (newest or "2.1", validated, fallback))


def apply(client, existing, wanted, steps, microversion, journal):
    """Carry out ``steps``, each recorded in ``journal``, extra specs at ``microversion``; the flavor."""
    flavor = existing

    def undo():
        nova.delete_flavor(client, flavor)

    for step in steps:
        action, argument = step
        if action == "create":
            flavor = nova.create_flavor(client, {
                "name": wanted["name"], "vcpus": wanted["vcpus"], "ram": wanted["ram"], "disk": wanted["disk"],
                "OS-FLV-EXT-DATA:ephemeral": wanted["ephemeral"], "swap": wanted["swap"],
                "os-flavor-access:is_public": wanted["is_public"]})
            journal.created(describe(step), "flavor %s (%s)" % (flavor["name"], flavor["id"]), undo)
            continue
        if action == "set_extra_specs":
            nova.set_flavor_extra_specs(client, flavor, argument, microversion)
        else:
            nova.delete_flavor_extra_spec(client, flavor, argument, microversion)
        journal.done(describe(step))
    return flavor
