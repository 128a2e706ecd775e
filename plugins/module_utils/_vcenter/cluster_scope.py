# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The scope of the cluster modules: one cluster of a datacenter, and the loop over its hosts.

``CLUSTER_SCOPE_SPEC`` is the datacenter/cluster option block, documented once in the
``nova_vsphere.mixed_cloud.vcenter.cluster_scope`` doc fragment. ``on_cluster_hosts`` is
the work (for ``_common.runner.run_module``) of a module that brings every connected host
of the cluster to one state: locate the cluster, plan, refuse on a problem before any
change, make each change unless in check mode, warn about the hosts that are not
connected and return them as ``skipped_hosts``.
"""

from __future__ import annotations

from .._common.errors import BackendError
from .._common.runner import Outcome
from .client import vcenter_session
from .cluster_reads import locate_cluster

CLUSTER_SCOPE_SPEC = dict(
    datacenter=dict(type="str"),
    cluster=dict(type="str", required=True),
)


def checked_session(check):
    """A vcenter_session opened only once ``check(params)`` passed: bad options are refused before connecting."""
    def session(params):
        check(params)
        return vcenter_session(params)
    return session


def on_cluster_hosts(name, plan_hosts):
    """The work of a per-host module; its result is returned under ``name``.

    ``plan_hosts(client, cluster, params)`` reads and plans. It returns the planner's dict
    (``problems``, ``skipped`` host names, ``before``, ``after``), the changes (callables
    without arguments, each making one change) and the result.
    """
    def work(module, client):
        params = module.params
        cluster = locate_cluster(client, params["cluster"], params["datacenter"])
        plan, changes, result = plan_hosts(client, cluster, params)
        if plan["problems"]:
            raise BackendError(" ".join(plan["problems"]))
        if not module.check_mode:
            for change in changes:
                change()
        skipped = plan["skipped"]
        warnings = ["Not connected, so not configured: %s." % ", ".join(skipped)] if skipped else []
        return Outcome(changes, plan["before"], plan["after"], name, dict(result, skipped_hosts=skipped), warnings)
    return work
