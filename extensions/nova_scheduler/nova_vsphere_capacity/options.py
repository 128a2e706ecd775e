# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The ``[vsphere_capacity]`` options of nova.conf, registered with oslo.config."""

from oslo_config import cfg

GROUP = cfg.OptGroup(
    "vsphere_capacity",
    title="vSphere capacity figures",
    help="How nova_vsphere_capacity's filter and weigher treat the figures of vSphere nodes.",
)

OPTS = [
    cfg.IntOpt(
        "max_age_seconds",
        default=900,
        min=0,
        help="""
Age, in seconds, after which the figures a capacity feed published for a vSphere node
(``vsphere_capacity_updated_at``) are ignored. The filter then passes the node and the
weigher uses nova's own free_ram_mb, as if the package were not installed, and the filter
logs a warning. Keep it well above the feed's interval.
""",
    ),
]


def register(conf):
    """Register the options on ``conf`` (nova's CONF); registering again is harmless."""
    conf.register_group(GROUP)
    conf.register_opts(OPTS, group=GROUP)


def list_opts():
    """For oslo-config-generator (entry point ``oslo.config.opts``)."""
    return [(GROUP, OPTS)]
