#!/usr/bin/python
# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: compute_proxy
short_description: Check and manage the nova-compute proxies of vSphere clusters
version_added: 0.1.0
description:
  - Each vSphere cluster is driven by exactly one nova-compute service, its proxy, whose
    VMware driver reports the whole cluster as one hypervisor named
    C(<cluster moid>.<vCenter instanceUuid>). This module takes the wanted mapping of
    clusters to proxies for one cloud and one or several vCenters - each proxy may name its
    own vCenter (O(proxies[].vcenter)), and clusters of the same name in two vCenters are
    two clusters.
  - It refuses a mapping in which a proxy drives two clusters, or a cluster has two
    proxies (nova would count its capacity twice), also when the two reach one vCenter at
    two addresses (or two vCenters share an instanceUuid, as a clone that kept it does), or
    a cluster does not exist or its name is ambiguous in its vCenter (nova's
    C([vmware] cluster_name) takes the first cluster of that name).
  - It reports, per proxy, the nova-compute service (up or down, enabled or disabled and
    why, forced down, zone), its hypervisor (type, vCenter version, node name, vCPUs,
    memory, disk), the cluster behind that hypervisor, the capacity vCenter shows for the
    cluster and the inventory placement holds; and it flags the proxies whose hypervisor
    never appeared, saying why when it can tell (no service, service down, registered but
    not mapped to a cell).
  - It fails, changing nothing, when a proxy drives another cluster than the mapping says,
    or when two services of the cloud report the same cluster of one of the mapping's vCenters.
  - It enables or disables each proxy's service (with a reason) and adds each proxy to
    its aggregate, creating the aggregate, with its availability zone, if it does not
    exist. Other aggregate memberships are left alone.
  - With O(wait=true) it first waits, up to O(timeout) seconds, until every proxy's service
    is up and its cluster's hypervisor is registered.
  - Needs admin credentials in the cloud and read access to each vCenter. Each vCenter is
    read once, in one session, however many proxies it has.
author:
  - nova_vsphere.mixed_cloud maintainers (@nova-vsphere)
options:
  proxies:
    description:
      - The wanted mapping, one entry per proxy.
    type: list
    elements: dict
    required: true
    suboptions:
      host:
        description:
          - The proxy's nova-compute service host, its C([DEFAULT] host).
        type: str
        required: true
      cluster:
        description:
          - The vSphere cluster it drives, its C([vmware] cluster_name).
        type: str
        required: true
      enabled:
        description:
          - Whether the service takes new instances. Defaults to V(true).
          - Nova's VMware driver disables its own service, with the reason
            C(set by vmwareapi host_state), while it cannot reach vCenter, and enables it
            again when it can; V(true) here enables a service disabled for any reason.
        type: bool
      disabled_reason:
        description:
          - Why the service is disabled, when O(proxies[].enabled=false). Without it, an
            existing reason is kept.
        type: str
      aggregate:
        description: The host aggregate the proxy must be in; overrides O(aggregate).
        type: str
      availability_zone:
        description:
          - The availability zone of that aggregate, when the module creates it; overrides
            O(availability_zone).
        type: str
      vcenter:
        description:
          - The proxy's own vCenter, when the mapping spans several. Each setting given here
            overrides the same setting of O(vcenter) (so a second vCenter may differ in its
            host name and password only); without it the proxy's vCenter is O(vcenter).
          - A proxy whose C(hostname) differs from O(vcenter)'s must give its C(password); the
            task fails rather than send one vCenter's password to another host.
        type: dict
        suboptions:
          hostname:
            description: The vCenter Server host name or IP address.
            type: str
          username:
            description: The vCenter user.
            type: str
          password:
            description: Its password. Never logged nor returned.
            type: str
          port:
            description: The HTTPS port of the vCenter API.
            type: int
          validate_certs:
            description: Whether to verify vCenter's certificate.
            type: bool
  aggregate:
    description:
      - The host aggregate every proxy must be in, unless its entry names another.
      - Created when missing. A host is added to it once nova shows its hypervisor (nova
        refuses hosts it has not mapped to a cell yet).
    type: str
  availability_zone:
    description:
      - The availability zone of the aggregate. Needs O(aggregate).
      - The task fails, changing nothing, when the aggregate exists in another zone, or a
        proxy is in another zone already. Nova would refuse the latter, and changing the
        zone of an aggregate moves every host in it.
    type: str
  wait:
    description:
      - Wait until every proxy's service is up and the hypervisor of its cluster is
        registered, polling nova, up to O(timeout) seconds; fail then, saying what each
        proxy lacks.
    type: bool
    default: false
extends_documentation_fragment:
  - nova_vsphere.mixed_cloud.openstack
  - nova_vsphere.mixed_cloud.vcenter_option
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: full
    details: The diff shows, per proxy, the service state and the aggregates and zone that change.
  platform:
    platforms: posix
notes:
  - The module belongs to the C(openstack) action group (C(module_defaults) for
    C(group/nova_vsphere.mixed_cloud.openstack)).
  - The compute API does not show a service's nova version; the C(version) of a proxy's
    RV(proxies[].hypervisor) is vCenter's.
  - Requires compute API microversion 2.53 and placement 1.14.
requirements:
  - openstacksdk >= 1.0.0
seealso:
  - module: nova_vsphere.mixed_cloud.hypervisor_info
  - module: nova_vsphere.mixed_cloud.nova_vmware_conf
  - name: Nova's VMware driver
    description: How nova drives vSphere clusters through proxies.
    link: https://docs.openstack.org/nova/latest/admin/configuration/hypervisor-vmware.html
"""

EXAMPLES = r"""
- name: Check the proxies of vCenter's clusters and put them in the vmware zone
  nova_vsphere.mixed_cloud.compute_proxy:
    cloud: prod-admin
    proxies:
      - {host: vmware-proxy-a, cluster: Cluster-A}
      - {host: vmware-proxy-b, cluster: Cluster-B}
    aggregate: vmware
    availability_zone: vmware
  register: proxies

- name: Take Cluster-B out of scheduling for maintenance
  nova_vsphere.mixed_cloud.compute_proxy:
    proxies:
      - {host: vmware-proxy-a, cluster: Cluster-A}
      - {host: vmware-proxy-b, cluster: Cluster-B, enabled: false, disabled_reason: "vSphere upgrade CHG-1234"}

- name: Proxies of two vCenters that both have a Cluster-A, in one cloud
  nova_vsphere.mixed_cloud.compute_proxy:
    proxies:
      - {host: east-proxy-a, cluster: Cluster-A}
      - host: west-proxy-a
        cluster: Cluster-A
        vcenter: {hostname: vc-west.example.com, password: "{{ vault_vc_west_password }}"}
    vcenter:
      hostname: vc-east.example.com
      username: nova@vsphere.local
      password: "{{ vault_vc_east_password }}"

- name: After starting the proxies, wait for their hypervisors
  nova_vsphere.mixed_cloud.compute_proxy:
    proxies: "{{ my_proxy_mapping }}"
    wait: true
    timeout: 600
    vcenter:
      hostname: vcenter.example.com
      username: readonly@vsphere.local
      password: "{{ vault_vcenter_password }}"
"""

RETURN = r"""
proxies:
  description: One entry per proxy of the mapping, in its order, as it is after the task (in check mode, as it would be).
  returned: always, and with a failure about the proxies
  type: list
  elements: dict
  contains:
    host:
      description: The service host.
      type: str
      sample: vmware-proxy-a
    cluster:
      description: The cluster the mapping gives it.
      type: str
      sample: Cluster-A
    cluster_moid:
      description: That cluster's managed object id.
      type: str
      sample: domain-c10
    vcenter_uuid:
      description: The instanceUuid of the proxy's vCenter (see RV(vcenters)).
      type: str
      sample: dbed6e0c-bd88-4ef6-b594-21283e1c677f
    nodename:
      description: The hypervisor name nova's driver gives that cluster.
      type: str
      sample: domain-c10.dbed6e0c-bd88-4ef6-b594-21283e1c677f
    status:
      description:
        - V(ok); V(no_service) (no nova-compute service of that host); V(down); V(not_mapped)
          (registered in placement but its host is not mapped to a cell, so nova hides it);
          V(no_hypervisor) (never registered); V(wrong_cluster) (it drives something else).
      type: str
      sample: ok
    problems:
      description: What is wrong, in words, with the fix where one is known.
      type: list
      elements: str
    service:
      description:
        - The nova-compute service (C(id), C(state), C(status), C(disabled_reason),
          C(forced_down), C(zone), C(updated_at)), or null.
      type: dict
    hypervisor:
      description:
        - Its hypervisor (C(id), C(name), C(type), C(version), C(state), C(status), C(vcpus),
          C(memory_mb), C(local_gb), C(running_vms)) and C(serves), the cluster behind it
          (C(cluster), C(cluster_moid), C(vcenter_uuid), C(this_vcenter)); null when nova shows none.
      type: dict
    aggregates:
      description: The aggregates the host is in.
      type: list
      elements: str
    availability_zone:
      description: The host's availability zone.
      type: str
    vcenter_capacity:
      description:
        - The cluster as vCenter shows it and nova's driver counts it (connected hosts not in
          maintenance) C(usable_hosts), C(memory_mb), C(cpu_threads), C(largest_host_memory_mb).
      type: dict
    placement:
      description: The resource provider of the node name (C(uuid)) and its C(inventories), or null.
      type: dict
missing_hypervisors:
  description: The proxies of the mapping for which nova shows no hypervisor.
  returned: always
  type: list
  elements: str
conflicts:
  description:
    - Clusters of the mapping's vCenters that several services report (C(cluster), C(cluster_moid),
      C(vcenter_uuid), C(nodename), C(hosts)).
  returned: always, and with the failure they cause
  type: list
  elements: dict
vcenters:
  description:
    - Each vCenter of the mapping, in the order its proxies first appear - its C(endpoint),
      C(instance_uuid), C(version), and the C(proxies) (hosts) it has.
  returned: always
  type: list
  elements: dict
  sample: [{"endpoint": "vc1.example.com:443", "instance_uuid": "dbed6e0c-bd88-4ef6-b594-21283e1c677f",
            "version": "6.5.0", "proxies": ["vmware-proxy-a", "vmware-proxy-b"]}]
actions:
  description: The changes made (in check mode, that would be made), in order.
  returned: always
  type: list
  elements: dict
  sample: [{"action": "create_aggregate", "aggregate": "vmware", "availability_zone": "vmware"},
           {"action": "add_host", "aggregate": "vmware", "host": "vmware-proxy-a"}]
waited:
  description: Seconds spent waiting for the proxies, with O(wait=true).
  returned: always
  type: float
"""

import time


from ..module_utils._vcenter.cluster import find_cluster
from ..module_utils._openstack.compute_proxy import (
    apply_to_rows,
    check_mapping,
    check_resolved,
    conflicts,
    failures,
    observe,
    plan,
    service_update,
    wanted_state,
)
from ..module_utils._common.errors import BackendError, failing_cleanly
from ..module_utils._vcenter.inventory import capacity
from ..module_utils._openstack.nova import (
    aggregate_action,
    create_aggregate,
    list_aggregates,
    list_compute_services,
    list_hypervisors,
    update_service,
)
from ..module_utils._openstack.placement import resource_providers_named
from ..module_utils._openstack.client import OpenStackModule, openstack_argument_spec, openstack_session
from ..module_utils._vcenter.client import VCENTER_ARGUMENT_SPEC, vcenter_session
from ..module_utils._vcenter.reads import read_hosts, read_locations

POLL_SECONDS = 5

ARGUMENT_SPEC = dict(
    proxies=dict(type="list", elements="dict", required=True, options=dict(
        host=dict(type="str", required=True),
        cluster=dict(type="str", required=True),
        enabled=dict(type="bool"),
        disabled_reason=dict(type="str"),
        aggregate=dict(type="str"),
        availability_zone=dict(type="str"),
        # No defaults and no VMWARE_* fallbacks: what is left out comes from the top-level vcenter.
        vcenter=dict(type="dict", options=dict(
            hostname=dict(type="str"),
            username=dict(type="str"),
            password=dict(type="str", no_log=True),
            port=dict(type="int"),
            validate_certs=dict(type="bool"),
        )),
    )),
    aggregate=dict(type="str"),
    availability_zone=dict(type="str"),
    wait=dict(type="bool", default=False),
    vcenter=dict(type="dict", apply_defaults=True, options=VCENTER_ARGUMENT_SPEC),
)


def vcenter_groups(params):
    """The mapping's proxies by vCenter: (connection, [proxy, ...]) in the order they first appear.

    Each proxy is given ``vcenter``, the address its vCenter is reached at, for the mapping checks."""
    groups = {}
    for proxy in params["proxies"]:
        own = {key: value for key, value in (proxy.get("vcenter") or {}).items() if value is not None}
        if own.get("hostname") not in (None, params["vcenter"].get("hostname")) and not own.get("password"):
            raise BackendError("%s names vCenter %s without its password: the password of %s is not sent to another "
                               "host; give proxies[].vcenter.password" % (
                                   proxy["host"], own["hostname"], params["vcenter"].get("hostname")))
        connection = dict(params["vcenter"], **own)
        key = tuple(connection.get(name) for name in ("hostname", "port", "username", "validate_certs"))
        address = "%s:%s" % (connection.get("hostname"), connection.get("port"))
        groups.setdefault(key, (connection, []))[1].append(dict(proxy, vcenter=address))
    return list(groups.values())


def read_vcenter(connection, proxies):
    """One vCenter's identity and each of its proxies' clusters, in two bulk reads; the clusters it cannot find."""
    with vcenter_session(connection) as client:
        about = client.content.about
        datacenters, folders, resources = read_locations(client)
        hosts = read_hosts(client)
        endpoint = client.endpoint
    resolved, errors = [], []
    for proxy in proxies:
        try:
            cluster = find_cluster(datacenters, folders, resources, proxy["cluster"])
        except BackendError as error:
            errors.append("%s: %s" % (proxy["host"], error))
            continue
        members = [host for host in hosts if host["parent"] == cluster["moid"]]
        resolved.append(dict(proxy, cluster_moid=cluster["moid"], vcenter_uuid=about.instanceUuid, vcenter_capacity={
            key: value for key, value in capacity(members).items()
            if key in ("usable_hosts", "memory_mb", "cpu_threads", "largest_host_memory_mb")}))
    clusters_by_moid = {item["moid"]: item["name"] for item in resources if item["is_cluster"]}
    identity = {"endpoint": endpoint, "instance_uuid": about.instanceUuid, "version": about.version,
                "proxies": [proxy["host"] for proxy in proxies]}
    problems = ["vCenter %s cannot resolve the mapping: %s" % (endpoint, " ".join(errors))] if errors else []
    return identity, resolved, clusters_by_moid, problems


def read_vcenters(groups, mapping):
    """Every vCenter of ``vcenter_groups``, each read once: their identities, the resolved proxies in the order of
    ``mapping``, and every vCenter's clusters by instanceUuid. All clusters missing anywhere are named at once."""
    vcenters, resolved, clusters, problems = [], {}, {}, []
    for connection, proxies in groups:
        identity, found, clusters_by_moid, missing = read_vcenter(connection, proxies)
        vcenters.append(identity)
        resolved.update((proxy["host"], proxy) for proxy in found)
        clusters.setdefault(identity["instance_uuid"], {}).update(clusters_by_moid)
        problems.extend(missing)
    if problems:
        raise BackendError("; ".join(problems))
    ordered = [resolved[proxy["host"]] for proxy in mapping]
    check_resolved(ordered)
    return vcenters, ordered, clusters


def read_nova(client, proxies, clusters):
    """Services, hypervisors, aggregates and, for proxies nova hides, placement: the rows and the conflicts."""
    services, hypervisors = list_compute_services(client), list_hypervisors(client)
    aggregates = list_aggregates(client)
    rows = observe(proxies, services, hypervisors, aggregates, clusters)
    hidden = [row["nodename"] for row in rows if row["hypervisor"] is None and row["service"] is not None]
    shown = [row["nodename"] for row in rows if row["hypervisor"] is not None]
    providers = resource_providers_named(client, hidden + shown)
    if hidden:
        rows = observe(proxies, services, hypervisors, aggregates, clusters, registered=providers)
    for row, proxy in zip(rows, proxies):
        row["vcenter_capacity"] = proxy["vcenter_capacity"]
        row["placement"] = providers.get(row["nodename"])
    return rows, conflicts(hypervisors, clusters), aggregates


def wait_for_proxies(module, client, proxies, clusters):
    """Poll until every proxy is ok, something unfixable shows, or the timeout passes."""
    started = time.monotonic()
    deadline = started + module.params["timeout"]
    while True:
        rows, conflict_list, aggregates = read_nova(client, proxies, clusters)
        pending = [row for row in rows if row["status"] != "ok"]
        if not module.params["wait"] or not pending or failures(rows, conflict_list):
            return rows, conflict_list, aggregates, time.monotonic() - started
        if time.monotonic() >= deadline:
            raise BackendError(
                "Waited %d s for the proxies; not ready: %s." % (
                    module.params["timeout"], "; ".join("%s (%s): %s" % (row["host"], row["status"], " ".join(row["problems"]))
                                                        for row in pending)),
                proxies=rows, conflicts=conflict_list, missing_hypervisors=_missing(rows),
                waited=round(time.monotonic() - started, 1))
        time.sleep(max(0.0, min(POLL_SECONDS, deadline - time.monotonic())))


def apply(client, actions, aggregates):
    by_name = {aggregate["name"]: aggregate for aggregate in aggregates}
    for action in actions:
        if action["action"] == "create_aggregate":
            by_name[action["aggregate"]] = create_aggregate(client, action["aggregate"], action["availability_zone"])
        elif action["action"] == "add_host":
            aggregate_action(client, by_name[action["aggregate"]], "add_host", {"host": action["host"]},
                             "add %s to host aggregate %s" % (action["host"], action["aggregate"]))
        else:
            update_service(client, {"id": action["service_id"], "host": action["host"]}, service_update(action),
                           "%s the nova-compute service of %s" % (action["action"], action["host"]))


def _missing(rows):
    return [row["host"] for row in rows if row["hypervisor"] is None]


def main():
    module = OpenStackModule(argument_spec=openstack_argument_spec(**ARGUMENT_SPEC), supports_check_mode=True)
    params = module.params
    with failing_cleanly(module):
        proxies = params["proxies"]
        groups = vcenter_groups(params)
        check_mapping([proxy for _connection, group in groups for proxy in group])
        wanted = {proxy["host"]: wanted_state(proxy, params) for proxy in proxies}
        vcenters, resolved, clusters = read_vcenters(groups, proxies)
        with openstack_session(params) as client:
            rows, conflict_list, aggregates, waited = wait_for_proxies(module, client, resolved, clusters)
            result = dict(proxies=rows, conflicts=conflict_list, missing_hypervisors=_missing(rows), vcenters=vcenters,
                          waited=round(waited, 1))
            problems = failures(rows, conflict_list)
            if problems:
                raise BackendError("The proxies do not drive what the mapping says: %s." % "; ".join(problems),
                                   actions=[], **result)
            actions, before, after = plan(rows, wanted, aggregates)
            if actions and not module.check_mode:
                apply(client, actions, aggregates)
                rows = read_nova(client, resolved, clusters)[0]
            elif actions:
                rows = apply_to_rows(rows, after)
            result.update(proxies=rows, missing_hypervisors=_missing(rows))
        module.exit_json(changed=bool(actions), actions=actions, diff={"before": before, "after": after}, **result)


if __name__ == "__main__":
    main()
