# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Which filters nova-scheduler runs, read from its configuration (pure logic)."""

from __future__ import annotations

from .conf_files import last_value

# nova/conf/scheduler.py, [filter_scheduler] enabled_filters (unchanged since 2023.1).
DEFAULT_FILTERS = (
    "ComputeFilter",
    "ComputeCapabilitiesFilter",
    "ImagePropertiesFilter",
    "ServerGroupAntiAffinityFilter",
    "ServerGroupAffinityFilter",
)


def enabled_filters(conf_texts):
    """(filters, where they came from): ``[filter_scheduler] enabled_filters`` from the last of
    the config files (name, text) that sets it, else nova's default list."""
    value, name = last_value(conf_texts, "filter_scheduler", "enabled_filters")
    if name is None:
        return list(DEFAULT_FILTERS), "nova's default"
    return [item.strip() for item in value.split(",") if item.strip()], name


def missing_filters(enabled, required):
    """The required filters the scheduler does not run, in the order required."""
    return [name for name in required if name not in enabled]
