# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Domain: publishing the capacity feed's figures where nova reads them, and the calls.

For each vSphere node (one cluster, one proxy): the aggregate ``vsphere-capacity-<proxy
host>`` holding only that host, with the feed's metadata; the feed's traits on the node's
resource provider, every other trait kept; and, for the flavors named, the forbidden NOFIT
trait of their bucket. ``managed_nodes`` finds the nodes from nova's hypervisors, the
``plan_*`` functions compute the steps from plain data, ``apply`` carries them out through
nova's and placement's calls, each recorded in the run's Journal (an aggregate this run
created is deleted again when a later write fails).
"""

from __future__ import annotations

from .._common.errors import BackendError
from .._vcenter import capacity
from . import aggregates, flavors, nova, placement
from .compute_proxy import conflicts, nodename, parse_nodename

AGGREGATE_PREFIX = "vsphere-capacity-"
# Writes of a provider's traits, each after reading its generation, before giving up.
TRAIT_ATTEMPTS = 3


def aggregate_name(host):
    return AGGREGATE_PREFIX + host


# --- which nodes -------------------------------------------------------------------------

def managed_nodes(hypervisors, vcenter_uuid, clusters_by_moid, wanted_moids=None):
    """One entry per cluster of this vCenter that a proxy drives: its proxy host, node name, provider uuid.

    ``wanted_moids`` (cluster moid -> name) limits them to those clusters and makes a cluster
    without a proxy an error. Two services reporting one cluster are an error too: which of
    them the figures belong to is unknowable (and nova counts the cluster twice).
    """
    doubled = conflicts(hypervisors, {vcenter_uuid: clusters_by_moid})
    if doubled:
        raise BackendError("Nothing was changed: %s." % "; ".join(
            "cluster %s (%s) is claimed by several nova-compute services: %s" % (
                item["cluster"] or item["cluster_moid"], item["nodename"], ", ".join(item["hosts"])) for item in doubled))
    nodes = {}
    for hypervisor in hypervisors:
        parsed = parse_nodename(hypervisor["hypervisor_hostname"])
        if parsed is None or parsed[1] != vcenter_uuid or hypervisor.get("hypervisor_type") != nova.VMWARE_HYPERVISOR_TYPE:
            continue
        moid = parsed[0]
        if wanted_moids is not None and moid not in wanted_moids:
            continue
        host = (hypervisor.get("service") or {}).get("host")
        nodes[moid] = {"host": host, "node": hypervisor["hypervisor_hostname"], "provider": hypervisor["id"],
                       "cluster": clusters_by_moid.get(moid), "cluster_moid": moid, "aggregate": aggregate_name(host)}
    missing = sorted(set(wanted_moids or ()) - set(nodes))
    if missing:
        raise BackendError("No nova-compute proxy drives %s in this cloud (no hypervisor named %s): start its proxy "
                           "(playbooks/proxy_compute.yml) or leave it out of clusters." % (
                               ", ".join("%s (%s)" % (wanted_moids[moid], moid) for moid in missing),
                               ", ".join(nodename(moid, vcenter_uuid) for moid in missing)))
    unknown = sorted(moid for moid, item in nodes.items() if item["cluster"] is None)
    if unknown:
        raise BackendError("Nova reports vSphere nodes of this vCenter whose cluster vCenter does not have: %s; "
                           "remove their proxies or name the clusters to publish." % ", ".join(
                               nodes[moid]["node"] for moid in unknown))
    return [nodes[moid] for moid in sorted(nodes, key=lambda moid: nodes[moid]["host"] or "")]


# --- the plan ----------------------------------------------------------------------------

def ours(metadata):
    return {key: value for key, value in (metadata or {}).items() if key.startswith(capacity.PREFIX)}


def plan_node(node, existing, wanted_metadata, now, refresh_after, current_traits, wanted_traits):
    """The steps for one node and its before/after.

    ``existing`` is nova's aggregate of that name (or None); ``wanted_metadata`` the feed's
    metadata as just read, written only when ``capacity.needs_rewrite`` says so;
    ``current_traits`` the traits of the node's resource provider, as read for the plan
    (``apply`` reads them again, with their generation, right before it writes).
    """
    current = aggregates.view(existing)
    published = ours(current["metadata"]) if current else {}
    rewrite, why = capacity.needs_rewrite(published, wanted_metadata, now, refresh_after)
    wanted = {"name": node["aggregate"], "hosts": [node["host"]], "metadata": wanted_metadata if rewrite else {}}
    after, steps = aggregates.plan(current, wanted, purge_hosts=True, purge_metadata=False)
    traits = capacity.traits_after(current_traits, wanted_traits)
    before_traits = sorted(trait for trait in current_traits if capacity.is_ours(trait))
    before = {}
    if current or before_traits:
        before = {"aggregate": node["aggregate"], "hosts": current["hosts"] if current else [], "metadata": published,
                  "traits": before_traits}
    return {
        "node": node,
        "existing": existing,
        "aggregate_steps": steps,
        "rewrite": rewrite,
        "why": why,
        "traits_before": sorted(current_traits),
        "traits_after": traits,
        "wanted_traits": sorted(wanted_traits),
        "before": before,
        "after": {"aggregate": node["aggregate"], "hosts": after["hosts"], "metadata": ours(after["metadata"]),
                  "traits": sorted(trait for trait in traits if capacity.is_ours(trait))},
    }


def plan_traits(known, buckets):
    """The feed's traits that placement does not know yet (each must exist before a provider or flavor names it)."""
    return sorted(set(capacity.all_traits(buckets)) - set(known))


def plan_flavors(every, names, buckets):
    """(before, after, steps by flavor) for the flavors named; a BackendError naming every flavor missing or too large."""
    before, after, steps, problems = {}, {}, {}, []
    for name in names:
        flavor = flavors.find(every, name)
        if flavor is None:
            problems.append("flavor %s does not exist" % name)
            continue
        specs = dict(flavor.get("extra_specs") or {})
        try:
            to_set, to_delete = capacity.flavor_specs_plan(name, flavor["ram"], specs, buckets)
        except BackendError as error:
            problems.append(str(error).rstrip("."))
            continue
        mine = {key: value for key, value in specs.items() if key.startswith("trait:" + capacity.NOFIT_PREFIX)}
        before[name] = mine
        after[name] = {key: value for key, value in dict(mine, **to_set).items() if key not in to_delete}
        steps[name] = ([("set_extra_specs", to_set)] if to_set else []) + [("delete_extra_spec", key) for key in to_delete]
    if problems:
        raise BackendError("Nothing was changed: %s." % "; ".join(problems))
    return before, after, {name: (flavors.find(every, name), flavor_steps) for name, flavor_steps in steps.items()
                           if flavor_steps}


def describe_flavor(name, step):
    return "flavor %s: %s" % (name, flavors.describe(step))


def describe_node(plan):
    """The changes of one node's plan, as the module reports them."""
    node = plan["node"]
    changes = [_describe_step(node, step) for step in plan["aggregate_steps"]]
    if plan["traits_after"] != plan["traits_before"]:
        changes.append("%s: set traits of resource provider %s" % (node["host"], node["node"]))
    return changes


def _describe_step(node, step):
    action, argument = step
    if action == "set_metadata":
        return "%s: set_metadata %s on aggregate %s" % (
            node["host"], ", ".join(sorted(key[len(capacity.PREFIX):] for key in argument)), node["aggregate"])
    if action == "create":
        return "%s: create aggregate %s" % (node["host"], node["aggregate"])
    return "%s: %s %s on aggregate %s" % (node["host"], action, argument, node["aggregate"])


# --- the calls ---------------------------------------------------------------------------

def apply(client, node_plans, new_traits, flavor_steps, spec_microversion, journal):
    """Carry out the plans, each write recorded in ``journal``: traits created, then per node its aggregate
    and provider traits, then the flavors' extra specs (at ``spec_microversion``).

    Returns each node's aggregate as nova reports it after its steps.
    """
    for trait in new_traits:
        placement.create_trait(client, trait)
        journal.done("create trait %s" % trait)
    reported = {}
    for plan in node_plans:
        node = plan["node"]
        aggregate = plan["existing"]
        if plan["aggregate_steps"]:
            aggregate = aggregates.apply(client, plan["existing"], node["aggregate"], plan["aggregate_steps"], journal)
        reported[node["host"]] = aggregate
        if plan["traits_after"] != plan["traits_before"]:
            set_traits(client, node, plan["wanted_traits"])
            journal.done("set traits of resource provider %s" % node["node"])
    for name, (flavor, steps) in sorted(flavor_steps.items()):
        flavors.apply(client, flavor, None, steps, spec_microversion, _Prefixed(journal, "flavor %s: " % name))
    return reported


def set_traits(client, node, wanted, attempts=TRAIT_ATTEMPTS):
    """Set the feed's traits on the node's provider, keeping the others; the traits placement then holds.

    The traits and generation are read again right before the write, since the generation
    moves under the feed: nova-api mirrors an aggregate's hosts into placement (adding the
    host to its aggregate bumps it), and the node's nova-compute updates its provider every
    minute. When placement refuses the write all the same (409, a generation that moved in
    between), it is read and written again, up to ``attempts`` times in all.
    """
    for attempt in range(attempts):
        current, generation = placement.provider_traits(client, node["provider"], node["node"])
        try:
            return placement.set_provider_traits(client, node["provider"], capacity.traits_after(current, wanted),
                                                 generation, node["node"])[0]
        except BackendError:
            if attempt + 1 == attempts:
                raise
    return None


class _Prefixed:
    """A journal's view that names the flavor in each change it records."""

    def __init__(self, journal, prefix):
        self.journal, self.prefix = journal, prefix

    def done(self, change):
        self.journal.done(self.prefix + change)

    def created(self, change, what, undo):
        self.journal.created(self.prefix + change, what, undo)
