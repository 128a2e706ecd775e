# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The cluster a nova-compute will drive, and the datastores it can put instances on.

A thin layer over ``_cluster``, which holds nova's rules for vcenter_cluster as well.
Nova finds its cluster by name alone, anywhere in vCenter (vm_util.get_cluster_ref_by_name),
and looks only at the datastores that cluster lists (ds_util.get_datastore); of those it
takes the valid one (ds_util._is_datastore_valid) with the most free space. On top of
that, a datastore is only safe when every connected host of the cluster mounts it, since
DRS may start or move an instance to any of them. Pure functions; errors are BackendError.
"""

from __future__ import annotations

from .._vcenter.cluster import cluster_facts, compile_datastore_regex, find_cluster, shared_datastore_problem
from .._common.errors import BackendError

# nova has no datacenter setting to choose between clusters of one name.
AMBIGUITY_FIX = "nova would drive whichever vCenter lists first: rename all but one"
RESULT_DATASTORE_KEYS = ("name", "type", "free_mb", "capacity_mb")


def find_nova_cluster(datacenters, folders, compute_resources, cluster_name):
    """The one cluster named ``cluster_name`` in the whole vCenter, as nova looks it up, or a BackendError."""
    return find_cluster(datacenters, folders, compute_resources, cluster_name, ambiguity_fix=AMBIGUITY_FIX)


def cluster_datastores(cluster, datastore_regex, hosts, datastores):
    """The cluster's connected hosts and the shared datastores nova may use (most free first), or a BackendError saying why none.

    ``cluster`` is what ``find_nova_cluster`` returns, ``hosts`` are the cluster's hosts and
    ``datastores`` the datastores the cluster lists (``_cluster_reads.read_cluster_datastores``).
    """
    facts = cluster_facts(hosts, datastores, (), compile_datastore_regex(datastore_regex))
    problem = shared_datastore_problem(cluster["name"], facts)
    if problem:
        raise BackendError(problem)
    shared = [ds for ds in facts["datastores"] if ds["usable_by_nova"] and ds["shared"]]
    return {
        "cluster": cluster["name"],
        "cluster_moid": cluster["moid"],
        "connected_hosts": [host["name"] for host in facts["hosts"] if host["connection_state"] == "connected"],
        "datastores": [{key: ds[key] for key in RESULT_DATASTORE_KEYS}
                       for ds in sorted(shared, key=lambda ds: (-ds["free_mb"], ds["name"]))],
    }
