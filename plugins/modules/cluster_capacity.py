#!/usr/bin/python
# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: cluster_capacity
short_description: Publish the real free room of each vSphere cluster where nova's scheduler and placement read it
version_added: 0.1.0
description:
  - Nova sees a vSphere cluster as one host with the sum of its ESXi hosts, so it sends a
    VM to a cluster none of whose hosts can hold it, and it does not see VMs it did not
    create nor vSphere HA's failover reserve. This module is the capacity feed that shows
    nova what is really free.
  - It reads every host, every VM and every cluster's HA settings of the vCenter in bulk
    (one property collector call per object kind) and computes, per cluster that a
    nova-compute proxy drives, each connected host's free memory (its memory size less
    vCenter's own usage figure) and free vCPUs (its CPU threads times
    O(cpu_allocation_ratio), less the vCPUs of the VMs powered on there), the largest free
    host, the failover reserve of the cluster's HA admission control, and the capacity nova
    should believe.
  - It publishes them as the metadata (C(vsphere_capacity_*) keys) of the aggregate
    C(vsphere-capacity-<proxy host>), which holds only that proxy's host and which it creates
    when missing, and as traits on the cluster's resource provider in placement,
    C(CUSTOM_VSPHERE_CAPACITY), and C(CUSTOM_VSPHERE_NOFIT_RAM_<B>G) for each bucket of
    O(ram_buckets_gb) that no host of the cluster has room for. Other metadata keys and
    other traits are kept.
  - A flavor carrying C(trait:CUSTOM_VSPHERE_NOFIT_RAM_<B>G=forbidden), B the smallest
    bucket that holds its RAM, is then refused by placement itself on every cluster where no
    host has that room; O(flavors) sets that extra spec.
  - Figures are rewritten when one changed or when the published ones are older than
    O(refresh_after) seconds; C(vsphere_capacity_updated_at) tells readers how old they are.
    A run right after a run changes nothing.
  - Everything is read and checked before the first write (unknown clusters, clusters
    without a proxy or with two, missing flavors, flavors larger than every bucket, resource
    providers placement does not have). When a write fails all the same, aggregates this run
    created are deleted again; other writes done are reported in RV(changes).
  - Needs admin credentials in the cloud and read access to vCenter.
author:
  - nova_vsphere.mixed_cloud maintainers (@nova-vsphere)
options:
  clusters:
    description:
      - The clusters to publish, by name. Each must exist in vCenter and be driven by a
        nova-compute proxy of the cloud.
      - By default, every cluster of this vCenter that a proxy drives, as nova's hypervisors
        show them (node name C(<cluster moid>.<vCenter instanceUuid>)).
    type: list
    elements: str
  cpu_allocation_ratio:
    description:
      - The vCPUs a host offers per CPU thread.
      - By default, per cluster, the allocation ratio of the VCPU inventory that nova keeps in
        placement for the cluster's node, which is what the scheduler books against (the
        proxy's C(cpu_allocation_ratio), else nova's C(initial_cpu_allocation_ratio), 4.0);
        4.0 when placement shows none.
    type: float
  ram_buckets_gb:
    description:
      - The sizes, in GiB, of the NOFIT traits. A node gets C(CUSTOM_VSPHERE_NOFIT_RAM_<B>G) for
        every bucket B larger than the free memory of its largest free host.
      - Every bucket's trait is created in placement, so that any flavor may name one.
    type: list
    elements: int
    default: [1, 2, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256]
  refresh_after:
    description:
      - Seconds after which unchanged figures are rewritten anyway, with a new timestamp, so
        that readers can tell a live feed from a dead one. Keep it well under the
        scheduler's C([vsphere_capacity] max_age_seconds) (900 by default).
    type: int
    default: 300
  flavors:
    description:
      - Flavors that must be refused by placement on clusters where they fit no host. Each
        gets the extra spec C(trait:CUSTOM_VSPHERE_NOFIT_RAM_<B>G=forbidden) for the smallest
        bucket B that holds its RAM, and loses any other NOFIT extra spec.
      - Conservative by design, it never lets a flavor through to a cluster where no host
        fits; it may refuse one whose fit lies between two buckets.
    type: list
    elements: str
    default: []
extends_documentation_fragment:
  - nova_vsphere.mixed_cloud.vcenter_option
  - nova_vsphere.mixed_cloud.openstack
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
    details: Reads everything and reports the same plan, changes and diff; writes nothing.
  diff_mode:
    support: full
    details: Per proxy host, the aggregate's hosts, its C(vsphere_capacity_*) metadata and the feed's traits; per flavor its NOFIT extra specs.
  platform:
    platforms: posix
notes:
  - Free memory is vCenter's C(summary.quickStats.overallMemoryUsage), what the host really
    uses; nova's own view (its allocations) does not see VMs it did not create.
  - The failover reserve follows the cluster's admission control policy when HA and
    admission control are on. Host failures to tolerate N reserves the N largest hosts'
    memory and vCPUs; a resources percentage reserves that share of the cluster's totals
    (computed from its host failures to tolerate when vCenter computes the percentages);
    dedicated failover hosts reserve their whole size and are not offered in
    C(vsphere_capacity_hosts). A policy vCenter leaves unset counts as its
    C(failoverLevel), one host by default.
  - Runs on a schedule (AWX, a systemd timer, the lab's supervisor); see
    C(playbooks/capacity_feed.yml) and docs/capacity.md.
  - Requires compute API microversion 2.53 (2.86 for flavors where the cloud has it) and placement 1.6.
requirements:
  - openstacksdk >= 1.0.0
  - pyvmomi >= 8.0.1
seealso:
  - module: nova_vsphere.mixed_cloud.compute_proxy
  - module: nova_vsphere.mixed_cloud.host_aggregate
"""

EXAMPLES = r"""
- name: Publish every proxied cluster's capacity (vCenter from VMWARE_*, cloud from OS_CLOUD)
  nova_vsphere.mixed_cloud.cluster_capacity:

- name: Publish two clusters, and make the big flavors avoid clusters where they fit no host
  nova_vsphere.mixed_cloud.cluster_capacity:
    cloud: prod-admin
    vcenter:
      hostname: vcenter.example.com
      username: readonly@vsphere.local
      password: "{{ vault_vcenter_password }}"
    clusters: [Cluster-A, Cluster-B]
    cpu_allocation_ratio: 2.0  # else, per cluster, the VCPU allocation ratio nova reports to placement
    flavors: [m1.xlarge, m1.huge]
  register: capacity

- name: Show the largest free host of each cluster
  ansible.builtin.debug:
    msg: "{{ capacity.nodes | items2dict(key_name='cluster', value_name='largest_free_ram_mb') }}"
"""

RETURN = r"""
nodes:
  description: One entry per published cluster, sorted by proxy host, as it is after the task (in check mode, as it would be).
  returned: always
  type: list
  elements: dict
  contains:
    host:
      description: The proxy's nova-compute service host.
      type: str
      sample: vmware-proxy-a
    node:
      description: The nova node name of the cluster, C(<cluster moid>.<vCenter instanceUuid>).
      type: str
    cluster:
      description: The cluster's name.
      type: str
      sample: Cluster-A
    cluster_moid:
      description: The cluster's managed object id.
      type: str
    aggregate:
      description: The aggregate that carries the figures.
      type: str
      sample: vsphere-capacity-vmware-proxy-a
    resource_provider:
      description: The UUID of the node's resource provider.
      type: str
    hosts:
      description:
        - Every ESXi host of the cluster, C(name), C(moid), C(usable) (connected, not in
          maintenance), C(memory_mb), C(memory_used_mb), C(free_ram_mb), C(vcpu_capacity),
          C(vcpus_used), C(free_vcpus).
      type: list
      elements: dict
    admission_control:
      description: The HA admission control policy as counted, C(kind) (none, failover_level, resources_percent, failover_hosts) and its settings.
      type: dict
      sample: {kind: failover_level, level: 1}
    largest_free_ram_mb:
      description: The free memory of the largest free host offered.
      type: int
    free_ram_mb:
      description: The cluster's free memory less the failover reserve.
      type: int
    free_vcpus:
      description: The cluster's free vCPUs less the failover reserve.
      type: int
    reserved_ram_mb:
      description: The memory HA admission control holds back.
      type: int
    reserved_vcpus:
      description: The vCPUs HA admission control holds back.
      type: int
    cpu_allocation_ratio:
      description: The vCPUs per CPU thread counted, from O(cpu_allocation_ratio) or placement.
      type: float
      sample: 4.0
    metadata:
      description: The aggregate's C(vsphere_capacity_*) metadata after the task.
      type: dict
    traits:
      description: The feed's traits on the resource provider after the task.
      type: list
      elements: str
    written:
      description: What the task wrote (in check mode, would write) for this node, C(aggregate) (created or hosts changed), C(metadata), C(traits).
      type: dict
      sample: {aggregate: false, metadata: true, traits: false}
    reason:
      description: Why the figures were (or were not) rewritten.
      type: str
      sample: "figures changed: free_ram_mb, hosts"
flavors:
  description: The flavors of O(flavors), each with C(name), C(ram), C(bucket_gb) and the C(extra_spec) it carries.
  returned: always
  type: list
  elements: dict
vcenter:
  description: The vCenter's C(endpoint) and C(instance_uuid), and C(read_at), when the figures were read (UTC).
  returned: always
  type: dict
changes:
  description:
    - The writes made (in check mode, that would be made), in order.
    - On a failure, the writes made before it, unless they were undone.
  returned: always
  type: list
  elements: str
  sample: ["create trait CUSTOM_VSPHERE_CAPACITY", "vmware-proxy-a: create aggregate vsphere-capacity-vmware-proxy-a"]
"""

from datetime import datetime, timezone

from ..module_utils._common.argspec import compose
from ..module_utils._common.errors import BackendError
from ..module_utils._common.runner import Outcome, journal, run_module
from ..module_utils._openstack import aggregates, capacity_publish, flavors, nova, placement
from ..module_utils._openstack.client import OPENSTACK_ARGUMENT_SPEC, OpenStackModule, openstack_session
from ..module_utils._vcenter import capacity
from ..module_utils._vcenter.capacity_reads import read_capacity_inputs
from ..module_utils._vcenter.client import VCENTER_ARGUMENT_SPEC, vcenter_session
from ..module_utils._vcenter.cluster import find_cluster

ARGUMENT_SPEC = compose(
    OPENSTACK_ARGUMENT_SPEC,
    dict(vcenter=dict(type="dict", apply_defaults=True, options=VCENTER_ARGUMENT_SPEC)),
    clusters=dict(type="list", elements="str"),
    cpu_allocation_ratio=dict(type="float"),
    ram_buckets_gb=dict(type="list", elements="int", default=list(capacity.DEFAULT_BUCKETS_GB)),
    refresh_after=dict(type="int", default=300),
    flavors=dict(type="list", elements="str", default=[]),
)

# What a vCenter failure tells the user to fix, by this module's option names.
VCENTER_HINTS = {
    "host": "check vcenter.hostname or VMWARE_HOST",
    "port": "vcenter.port (VMWARE_PORT)",
    "login": "check vcenter.username/vcenter.password or VMWARE_USER/VMWARE_PASSWORD",
}


def checked_options(params):
    if params["cpu_allocation_ratio"] is not None and params["cpu_allocation_ratio"] <= 0:
        raise BackendError("cpu_allocation_ratio must be greater than 0; got %s." % params["cpu_allocation_ratio"])
    if params["refresh_after"] < 0:
        raise BackendError("refresh_after must be 0 or more seconds; got %s." % params["refresh_after"])
    return capacity.check_buckets(params["ram_buckets_gb"])


def read_vcenter(params):
    """(what vCenter holds, when it was read, its endpoint): one session, seven bulk reads."""
    with vcenter_session(dict(params, hints=VCENTER_HINTS)) as client:
        read_at = datetime.now(timezone.utc).replace(microsecond=0)
        return read_capacity_inputs(client), read_at, client.endpoint


def wanted_clusters(names, inputs):
    """Cluster moid -> name of the clusters named (None: all), every unknown or ambiguous name reported at once."""
    if names is None:
        return None
    found, errors = {}, []
    for name in names:
        try:
            cluster = find_cluster(inputs["datacenters"], inputs["folders"], inputs["compute_resources"], name,
                                   ambiguity_fix="rename all but one")
        except BackendError as error:
            errors.append(str(error).rstrip("."))
            continue
        found[cluster["moid"]] = cluster["name"]
    if errors:
        raise BackendError("Nothing was changed: %s." % "; ".join(errors))
    return found


def node_result(plan, figures, reported):
    node = plan["node"]
    after = plan["after"]
    metadata = capacity_publish.ours((reported or {}).get("metadata")) if reported else after["metadata"]
    steps = [action for action, _argument in plan["aggregate_steps"]]
    return {
        "host": node["host"], "node": node["node"], "cluster": node["cluster"], "cluster_moid": node["cluster_moid"],
        "aggregate": node["aggregate"], "resource_provider": node["provider"],
        "hosts": figures["hosts"], "admission_control": figures["admission_control"],
        **{key: figures[key] for key in ("largest_free_ram_mb", "free_ram_mb", "free_vcpus", "reserved_ram_mb",
                                         "reserved_vcpus", "cpu_allocation_ratio")},
        "metadata": metadata, "traits": after["traits"],
        "written": {"aggregate": any(step in ("create", "add_host", "remove_host") for step in steps),
                    "metadata": "set_metadata" in steps, "traits": plan["traits_after"] != plan["traits_before"]},
        "reason": plan["why"],
    }


def work(module, client):
    params = module.params
    buckets = checked_options(params)
    inputs, read_at, endpoint = read_vcenter(params["vcenter"])
    vcenter = {"endpoint": endpoint, "instance_uuid": inputs["about"]["instance_uuid"], "read_at": capacity.timestamp(read_at)}
    clusters_by_moid = {item["moid"]: item["name"] for item in inputs["compute_resources"] if item["is_cluster"]}
    nodes = capacity_publish.managed_nodes(nova.list_hypervisors(client), vcenter["instance_uuid"], clusters_by_moid,
                                           wanted_clusters(params["clusters"], inputs))
    every_flavor = nova.list_flavors(client) if params["flavors"] else []
    flavors_before, flavors_after, flavor_steps = capacity_publish.plan_flavors(every_flavor, params["flavors"], buckets)
    every_aggregate = nova.list_aggregates(client)
    known = placement.list_traits(client, "CUSTOM_VSPHERE_")
    new_traits = capacity_publish.plan_traits(known, buckets)

    plans, figures_by_host = [], {}
    for node in nodes:
        members = [host for host in inputs["hosts"] if host["parent"] == node["cluster_moid"]]
        option = params["cpu_allocation_ratio"]
        inventories = placement.provider_inventories(client, node["provider"], node["node"]) if option is None else None
        ratio = capacity.cpu_allocation_ratio(option, inventories)
        figures = capacity.node_figures(node["node"], members, inputs["vms"], inputs["ha"].get(node["cluster_moid"]), ratio)
        figures["cpu_allocation_ratio"] = ratio
        wanted = capacity.metadata(figures, vcenter["read_at"])
        plan = capacity_publish.plan_node(
            node, aggregates.find(every_aggregate, node["aggregate"]), wanted, read_at, params["refresh_after"],
            placement.provider_traits(client, node["provider"], node["node"])[0],
            capacity.wanted_traits(figures["largest_free_ram_mb"], buckets))
        aggregates.check(plan["existing"], dict(plan["after"], name=node["aggregate"], availability_zone=None),
                         plan["aggregate_steps"], every_aggregate, [item["host"] for item in nodes])
        plans.append(plan)
        figures_by_host[node["host"]] = figures

    changes = ["create trait %s" % trait for trait in new_traits]
    for plan in plans:
        changes += capacity_publish.describe_node(plan)
    for name, (_flavor, steps) in sorted(flavor_steps.items()):
        changes += [capacity_publish.describe_flavor(name, step) for step in steps]

    warnings, reported = [], {}
    if not nodes:
        warnings.append("No nova-compute proxy of the cloud drives a cluster of vCenter %s (%s): nothing to publish."
                        % (endpoint, vcenter["instance_uuid"]))
    spec_microversion = None
    if flavor_steps:
        spec_microversion, warning = flavors.spec_microversion(nova.newest_microversion(client))
        warnings += [warning] if warning else []
    if changes and not module.check_mode:
        with journal() as record:
            reported = capacity_publish.apply(client, plans, new_traits, flavor_steps, spec_microversion, record)

    ours_known = [trait for trait in known if capacity.is_ours(trait)]
    before = {"nodes": {plan["node"]["host"]: plan["before"] for plan in plans if plan["before"]},
              "flavors": flavors_before, "placement_traits": ours_known}
    after = {"nodes": {plan["node"]["host"]: plan["after"] for plan in plans},
             "flavors": flavors_after, "placement_traits": sorted(set(ours_known) | set(new_traits))}
    result = [node_result(plan, figures_by_host[plan["node"]["host"]], reported.get(plan["node"]["host"]))
              for plan in plans]
    flavor_rows = [{"name": name, "ram": flavors.find(every_flavor, name)["ram"],
                    "bucket_gb": capacity.flavor_bucket(flavors.find(every_flavor, name)["ram"], buckets),
                    "extra_spec": flavors_after[name]} for name in params["flavors"]]
    return Outcome(changes, before, after, "nodes", result, warnings=warnings, changes=changes, flavors=flavor_rows,
                   vcenter=vcenter)


def main():
    run_module(ARGUMENT_SPEC, openstack_session, work, module_class=OpenStackModule)


if __name__ == "__main__":
    main()
