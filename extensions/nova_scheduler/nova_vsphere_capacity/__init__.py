# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nova-scheduler's view inside a vSphere cluster.

``filters.VsphereHostFitFilter`` and ``weights.RealFreeRAMWeigher`` read the figures that the
collection's ``cluster_capacity`` module publishes in the metadata of each vSphere proxy's
aggregate (``figures`` parses them); ``options`` registers ``[vsphere_capacity]``.
"""

__version__ = "0.1.0"
