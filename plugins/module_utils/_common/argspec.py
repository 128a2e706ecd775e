# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Argument specs composed from named parts, the one style every module uses.

A connection spec (vCenter, OpenStack, libvirt), a shared scope (a cluster of a
datacenter) and a module's own options are separate dicts; ``compose`` joins them and
refuses an option that two parts both define, so no part silently overrides another.
"""

from __future__ import annotations


def compose(*parts, **own_options):
    """One argument spec from ``parts`` (dicts of options) and the module's own options."""
    spec = {}
    for part in parts + (own_options,):
        clash = sorted(set(spec) & set(part))
        if clash:
            raise ValueError("option defined twice in an argument spec: %s" % ", ".join(clash))
        spec.update(part)
    return spec
