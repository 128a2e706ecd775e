# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""VsphereHostFitFilter: a vSphere node passes only if the request fits one of its ESXi hosts.

nova sees a vSphere cluster as one host with the sum of its ESXi hosts, so a flavor bigger
than any host's free room passes nova's own checks and fails in vCenter. This filter reads the
free RAM and vCPUs of each usable ESXi host from the node's aggregate metadata (see
``figures``) and refuses the node when no single host has both. Nodes without figures (KVM
hosts, vSphere nodes nobody publishes figures for) pass; so do nodes whose figures are stale
or unreadable, with a warning, since nova's own view is then all there is.

Enable it with ``[filter_scheduler] available_filters`` (keeping
``nova.scheduler.filters.all_filters``) += ``nova_vsphere_capacity.filters.VsphereHostFitFilter``
and ``enabled_filters`` += ``VsphereHostFitFilter``.
"""

import nova.conf
from nova.scheduler import filters
from oslo_log import log as logging

from nova_vsphere_capacity import figures as capacity
from nova_vsphere_capacity import options

LOG = logging.getLogger(__name__)
CONF = nova.conf.CONF
options.register(CONF)


class VsphereHostFitFilter(filters.BaseHostFilter):
    """Pass a vSphere node only if the flavor's RAM and vCPUs fit one of its ESXi hosts."""

    # What a host has free says nothing about a rebuild in place (as for nova's NUMA and
    # resource filters, which skip rebuilds too).
    RUN_ON_REBUILD = False

    def __init__(self):
        super().__init__()
        # host -> the key of the last problem warned about, so that each stale timestamp or
        # unreadable value is logged once per host, not once per request.
        self._warned = {}
        self._request = None
        LOG.info("VsphereHostFitFilter loaded: a vSphere node passes only if one of its ESXi hosts fits the "
                 "request; figures older than %d s are ignored", CONF.vsphere_capacity.max_age_seconds)

    def filter_all(self, filter_obj_list, spec_obj):
        # What every host's check of one request shares, read once: the option and the clock.
        self._request = (CONF.vsphere_capacity.max_age_seconds, capacity.utcnow())
        return super().filter_all(filter_obj_list, spec_obj)

    def host_passes(self, host_state, spec_obj):
        max_age, now = self._request or (CONF.vsphere_capacity.max_age_seconds, None)
        usable, problem = capacity.fresh(host_state.aggregates, host_state.nodename, max_age, now)
        if usable is None:
            if problem is not None:
                self._warn_once(host_state, problem)
            return True
        self._warned.pop(host_state.host, None)
        flavor = spec_obj.flavor
        if usable.fits(flavor.memory_mb, flavor.vcpus):
            return True
        # The reason costs more to format than the decision to make: only when it will be logged.
        if LOG.isEnabledFor(logging.DEBUG):
            self._log_refusal(host_state, flavor, usable)
        return False

    @staticmethod
    def _log_refusal(host_state, flavor, usable):
        LOG.debug("%(host)s (%(node)s) fails VsphereHostFitFilter: no ESXi host of the cluster has %(ram)d MB RAM "
                  "and %(vcpus)d vCPUs free for flavor %(flavor)s; largest free host RAM %(largest)d MB, free "
                  "hosts %(hosts)s (figures of %(stamp)s)",
                  {"host": host_state.host, "node": host_state.nodename, "ram": flavor.memory_mb,
                   "vcpus": flavor.vcpus, "flavor": flavor.name if flavor.obj_attr_is_set("name") else "?",
                   "largest": usable.largest_free_ram_mb, "hosts": usable.describe_hosts(),
                   "stamp": usable.updated_at.strftime(capacity.TIME_FORMAT)})

    def _warn_once(self, host_state, problem):
        message, key = problem
        if self._warned.get(host_state.host) == key:
            return
        self._warned[host_state.host] = key
        LOG.warning("%(host)s (%(node)s): %(problem)s; VsphereHostFitFilter passes it on nova's own view",
                    {"host": host_state.host, "node": host_state.nodename, "problem": message})
