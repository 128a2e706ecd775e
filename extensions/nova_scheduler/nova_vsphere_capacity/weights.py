# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""RealFreeRAMWeigher: nova's RAMWeigher, with a vSphere node weighed by the room one VM can
really get there.

nova's RAMWeigher weighs a host by ``free_ram_mb``, which for a vSphere cluster is the sum
over its ESXi hosts minus what nova itself booked: VMs nova did not create, vSphere HA's
failover reserve and fragmentation are invisible, so a cluster of small, busy hosts outweighs
a KVM host with more real room. This weigher takes, for a vSphere node with fresh figures
(see ``figures``), ``vsphere_capacity_largest_free_ram_mb``, and ``free_ram_mb`` for every
other host, on the same scale (MB), with RAMWeigher's multiplier: ``[filter_scheduler]
ram_weight_multiplier``, overridden per aggregate by its ``ram_weight_multiplier`` metadata.

Use it instead of RAMWeigher in ``[filter_scheduler] weight_classes`` (not beside it: RAM
would count twice).
"""

import nova.conf
from nova.scheduler import utils
from nova.scheduler import weights
from oslo_log import log as logging

from nova_vsphere_capacity import figures as capacity
from nova_vsphere_capacity import options

LOG = logging.getLogger(__name__)
CONF = nova.conf.CONF
options.register(CONF)


class RealFreeRAMWeigher(weights.BaseHostWeigher):
    # As RAMWeigher: an overcommitted host (negative free RAM) weighs 0.
    minval = 0

    def __init__(self):
        super().__init__()
        self._request = None
        LOG.info("RealFreeRAMWeigher loaded: a vSphere node weighs the free RAM of its largest free ESXi host; "
                 "figures older than %d s are ignored", CONF.vsphere_capacity.max_age_seconds)

    def weight_multiplier(self, host_state):
        """RAMWeigher's multiplier, per aggregate as nova reads it."""
        return utils.get_weight_multiplier(
            host_state, "ram_weight_multiplier", CONF.filter_scheduler.ram_weight_multiplier)

    def weigh_objects(self, weighed_obj_list, weight_properties):
        # What every host's weight of one request shares, read once: the option and the clock.
        self._request = (CONF.vsphere_capacity.max_age_seconds, capacity.utcnow())
        return super().weigh_objects(weighed_obj_list, weight_properties)

    def _weigh_object(self, host_state, weight_properties):
        max_age, now = self._request or (CONF.vsphere_capacity.max_age_seconds, None)
        usable, problem = capacity.fresh(host_state.aggregates, host_state.nodename, max_age, now)
        if usable is None:
            if problem is not None:
                LOG.debug("%s (%s): %s; weighed by nova's free_ram_mb", host_state.host, host_state.nodename,
                          problem[0])
            return host_state.free_ram_mb
        return usable.largest_free_ram_mb
