# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""nova-compute proxies of vSphere clusters: the wanted mapping, what nova shows, and the plan.

Each vSphere cluster is driven by exactly one nova-compute (the "proxy") whose VMware driver
reports the whole cluster as one hypervisor, named ``<cluster moid>.<vCenter instanceUuid>``
(nova/virt/vmwareapi/driver.py ``_create_nodename``). Two services reporting the same node
name would each offer the cluster's whole capacity, so nova would count it twice.

Several vCenters may feed one cloud: node names differ by the vCenter's instanceUuid, so
``Cluster-A`` of two vCenters (even with the same moid, which every vCenter numbers alike)
are two hypervisors, and a proxy is judged against its own vCenter. ``clusters`` below maps
each vCenter's instanceUuid to its clusters (moid -> name).

Pure functions over plain dicts (nova's services, hypervisors and aggregates as the compute
API returns them at 2.53; clusters as ``_cluster.find_cluster`` returns them): no Ansible,
no SDK.
"""

from __future__ import annotations

from .._common.errors import BackendError
from .nova import VMWARE_HYPERVISOR_TYPE


def nodename(cluster_moid, vcenter_uuid):
    """The node name nova's VMware driver gives the cluster's hypervisor."""
    return "%s.%s" % (cluster_moid, vcenter_uuid)


def parse_nodename(name):
    """(cluster moid, vCenter uuid) of a VMware node name, or None for any other name."""
    moid, dot, uuid = (name or "").partition(".")
    if not dot or not moid or len(uuid) != 36 or uuid.count("-") != 4:
        return None
    return moid, uuid


def version_text(hypervisor_version):
    """nova's integer hypervisor_version (6005000) as vCenter writes it (6.5.0)."""
    if not isinstance(hypervisor_version, int) or hypervisor_version <= 0:
        return None
    return "%d.%d.%d" % (hypervisor_version // 1000000, hypervisor_version // 1000 % 1000, hypervisor_version % 1000)


# --- the wanted mapping ---------------------------------------------------------------

def check_mapping(proxies):
    """Refuse a mapping in which a proxy drives two clusters or a cluster has two proxies.

    A proxy's ``vcenter`` is the address it reaches its vCenter at (the same name in two
    vCenters is two clusters); ``check_resolved`` repeats the second check by the clusters'
    identities once vCenter has been read.
    """
    problems = []
    by_host, by_cluster = {}, {}
    # Clusters are named with their vCenter's address only where the mapping has several.
    several = len({proxy.get("vcenter") for proxy in proxies}) > 1
    for proxy in proxies:
        where = _cluster_label(proxy["cluster"], proxy.get("vcenter") if several else None)
        by_host.setdefault(proxy["host"], []).append(where)
        by_cluster.setdefault((proxy.get("vcenter"), proxy["cluster"]), []).append(proxy["host"])
    for host, clusters in sorted(by_host.items()):
        if len(clusters) > 1:
            problems.append("%s is mapped to %s: a nova-compute drives exactly one cluster ([vmware] cluster_name "
                            "takes one name), so run one proxy per cluster" % (host, " and ".join(sorted(clusters))))
    for (vcenter, cluster), hosts in sorted(by_cluster.items(), key=lambda item: (str(item[0][0]), item[0][1])):
        if len(set(hosts)) > 1:
            problems.append(_doubled(_cluster_label(cluster, vcenter if several else None), hosts))
    if problems:
        raise BackendError("The proxy mapping is invalid: %s." % "; ".join(problems), problems=problems)


def check_resolved(proxies):
    """Refuse proxies whose clusters have one identity (vCenter instanceUuid and moid), so one node name in nova.

    Two addresses of one vCenter do that, and so does a vCenter cloned from another whose
    instanceUuid was never changed: nova cannot tell their clusters apart.
    """
    by_identity = {}
    for proxy in proxies:
        by_identity.setdefault((proxy["vcenter_uuid"], proxy["cluster_moid"]), []).append(proxy)
    problems = [
        _doubled("%s (%s) of vCenter %s, reached as %s (one vCenter, or a clone keeping its instanceUuid)" % (
            same[0]["cluster"], moid, uuid, " and ".join(sorted({str(proxy.get("vcenter")) for proxy in same}))),
            [proxy["host"] for proxy in same])
        for (uuid, moid), same in sorted(by_identity.items()) if len({proxy["host"] for proxy in same}) > 1]
    if problems:
        raise BackendError("The proxy mapping is invalid: %s." % "; ".join(problems), problems=problems)


def _cluster_label(cluster, vcenter):
    return "%s of %s" % (cluster, vcenter) if vcenter else cluster


def _doubled(cluster, hosts):
    hosts = sorted(set(hosts))
    return ("%s is mapped to %s: each would claim the whole cluster as its hypervisor (one node name, %d services), "
            "so nova would count it %d times and placement would refuse all but one" % (
                cluster, " and ".join(hosts), len(hosts), len(hosts)))


def wanted_state(proxy, defaults):
    """The service state and aggregate a proxy must have: its own settings, else the task's."""
    aggregate = proxy.get("aggregate") or defaults.get("aggregate")
    zone = proxy.get("availability_zone") or defaults.get("availability_zone")
    if zone and not aggregate:
        raise BackendError("%s: availability_zone %s needs an aggregate to carry it (nova's zones are aggregate "
                           "metadata): set aggregate too." % (proxy["host"], zone))
    enabled = proxy.get("enabled")
    return {
        "enabled": True if enabled is None else bool(enabled),
        "disabled_reason": proxy.get("disabled_reason"),
        "aggregate": aggregate,
        "availability_zone": zone,
    }


# --- what nova shows ------------------------------------------------------------------

def _service_view(service):
    if service is None:
        return None
    return {key: service.get(key) for key in (
        "id", "state", "status", "disabled_reason", "forced_down", "zone", "updated_at")}


def _hypervisor_view(hypervisor, clusters, vcenter_uuid):
    parsed = parse_nodename(hypervisor["hypervisor_hostname"])
    serves = None
    if parsed is not None and hypervisor.get("hypervisor_type") == VMWARE_HYPERVISOR_TYPE:
        moid, uuid = parsed
        serves = {"cluster": clusters.get(uuid, {}).get(moid),
                  "cluster_moid": moid, "vcenter_uuid": uuid, "this_vcenter": uuid == vcenter_uuid}
    return {
        "id": hypervisor["id"],
        "name": hypervisor["hypervisor_hostname"],
        "type": hypervisor.get("hypervisor_type"),
        "version": version_text(hypervisor.get("hypervisor_version")),
        "state": hypervisor.get("state"),
        "status": hypervisor.get("status"),
        "vcpus": hypervisor.get("vcpus"),
        "memory_mb": hypervisor.get("memory_mb"),
        "local_gb": hypervisor.get("local_gb"),
        "running_vms": hypervisor.get("running_vms"),
        "serves": serves,
    }


def conflicts(hypervisors, clusters):
    """Clusters of the given vCenters (instanceUuid -> {moid: name}) that several nova-compute services report."""
    serving = {}
    for hypervisor in hypervisors:
        parsed = parse_nodename(hypervisor["hypervisor_hostname"])
        if parsed is None or parsed[1] not in clusters or hypervisor.get("hypervisor_type") != VMWARE_HYPERVISOR_TYPE:
            continue
        host = (hypervisor.get("service") or {}).get("host")
        serving.setdefault(parsed, set()).add(host)
    return [{"cluster": clusters[uuid].get(moid), "cluster_moid": moid, "vcenter_uuid": uuid,
             "nodename": nodename(moid, uuid), "hosts": sorted(hosts)}
            for (moid, uuid), hosts in sorted(serving.items()) if len(hosts) > 1]


def observe(proxies, services, hypervisors, aggregates, clusters, registered=None):
    """One row per wanted proxy: its service, its hypervisor, the cluster behind it, and what is wrong.

    ``proxies`` carry ``host``, ``cluster``, ``cluster_moid`` and ``vcenter_uuid`` (their
    vCenter's instanceUuid); ``clusters`` maps each vCenter's uuid to its clusters. ``registered`` maps the node
    names nova has a resource provider for in placement (a compute that started but is not
    mapped to a cell yet, so the compute API hides its hypervisor) to that provider.
    ``status`` of a row is ``ok``, ``no_service`` (no nova-compute of that host),
    ``down``, ``not_mapped`` (registered, but its host not mapped to a cell: nova hides it
    and cannot schedule there), ``no_hypervisor`` (never registered) or ``wrong_cluster``.
    """
    registered = registered or {}
    services_by_host = {service["host"]: service for service in services}
    hypervisors_by_host = {}
    for hypervisor in hypervisors:
        hypervisors_by_host.setdefault((hypervisor.get("service") or {}).get("host"), []).append(hypervisor)
    rows = []
    for proxy in proxies:
        vcenter_uuid = proxy["vcenter_uuid"]
        expected = nodename(proxy["cluster_moid"], vcenter_uuid)
        service = services_by_host.get(proxy["host"])
        own = hypervisors_by_host.get(proxy["host"], [])
        match = [hypervisor for hypervisor in own if hypervisor["hypervisor_hostname"] == expected]
        chosen = match[0] if match else (own[0] if own else None)
        row = {
            "host": proxy["host"],
            "cluster": proxy["cluster"],
            "cluster_moid": proxy["cluster_moid"],
            "vcenter_uuid": vcenter_uuid,
            "nodename": expected,
            "service": _service_view(service),
            "hypervisor": _hypervisor_view(chosen, clusters, vcenter_uuid) if chosen else None,
            "aggregates": sorted(aggregate["name"] for aggregate in aggregates if proxy["host"] in (aggregate.get("hosts") or ())),
            "availability_zone": (service or {}).get("zone"),
            "problems": [],
        }
        row["status"] = _status(row, proxy, service, own, match, registered.get(expected), clusters)
        rows.append(row)
    return rows


def _status(row, proxy, service, own, match, provider, clusters):
    problems = row["problems"]
    host = proxy["host"]
    if service is None:
        problems.append("no nova-compute service of host %s: its nova-compute has never started with host = %s, "
                        "or cannot reach the message queue" % (host, host))
        return "no_service"
    if own and not match:
        other = _hypervisor_view(own[0], clusters, row["vcenter_uuid"])
        if other["serves"] is None:
            problems.append("%s reports hypervisor %s of type %s: it is not a VMware proxy" % (
                host, other["name"], other["type"]))
        elif not other["serves"]["this_vcenter"]:
            problems.append("%s drives a cluster of another vCenter (%s, uuid %s), not %s" % (
                host, other["serves"]["cluster_moid"], other["serves"]["vcenter_uuid"], proxy["cluster"]))
        else:
            problems.append("%s drives %s (%s), not %s: its [vmware] cluster_name disagrees with the mapping" % (
                host, other["serves"]["cluster"] or "an unknown cluster", other["serves"]["cluster_moid"], proxy["cluster"]))
        return "wrong_cluster"
    if service.get("state") != "up":
        problems.append("nova-compute on %s is down (last report %s)%s" % (
            host, service.get("updated_at"), ", and forced down" if service.get("forced_down") else ""))
        return "down"
    if not match:
        if provider is not None:
            problems.append("the hypervisor %s of %s is in placement (provider %s) but its host is not mapped to a "
                            "cell, so nova hides it and cannot schedule there: run `nova-manage cell_v2 "
                            "discover_hosts --by-service` on a controller, or set [scheduler] "
                            "discover_hosts_in_cells_interval" % (row["nodename"], host, provider.get("uuid")))
            return "not_mapped"
        problems.append("the hypervisor of %s never appeared: nova-compute runs but its VMware driver has not "
                        "registered %s (%s); see its log (vCenter login, WSDL, cluster_name)" % (
                            host, proxy["cluster"], row["nodename"]))
        return "no_hypervisor"
    return "ok"


def failures(rows, conflict_list):
    """What no change of service state or aggregate can fix: proxies driving the wrong thing, doubled clusters."""
    problems = ["; ".join(row["problems"]) for row in rows if row["status"] == "wrong_cluster"]
    for conflict in conflict_list:
        problems.append("%s (%s) is claimed by %d nova-compute services, %s: nova's hypervisor statistics count it "
                        "%d times, placement keeps the provider of whichever registered first and refuses the others "
                        "(409 Conflict in their logs); stop all but one and delete the others' services (openstack "
                        "compute service delete)" % (
                            conflict["cluster"] or conflict["cluster_moid"], conflict["nodename"],
                            len(conflict["hosts"]), ", ".join(conflict["hosts"]), len(conflict["hosts"])))
    return problems


# --- the plan -------------------------------------------------------------------------

def _zones_of(host, aggregates):
    return {aggregate.get("availability_zone") for aggregate in aggregates
            if host in (aggregate.get("hosts") or ()) and aggregate.get("availability_zone")}


def plan(rows, wanted, aggregates):
    """The actions that bring each proxy to its wanted state, and the before/after of what they change.

    ``wanted`` maps each host to ``wanted_state``. Service state is changed only where the
    service exists, aggregate membership only where nova shows the hypervisor (adding a host
    to an aggregate needs its cell mapping). Raises BackendError, before anything is done,
    where nova would refuse: an existing aggregate in another zone, a host already in another zone.
    """
    actions, before, after = [], {}, {}
    by_name = {aggregate["name"]: aggregate for aggregate in aggregates}
    created = {}
    problems = []
    for row in rows:
        host, want, service = row["host"], wanted[row["host"]], row["service"]
        if service is None:
            continue
        current = {"status": service["status"], "disabled_reason": service.get("disabled_reason")}
        target = dict(current)
        if want["enabled"] and service["status"] != "enabled":
            target = {"status": "enabled", "disabled_reason": None}
        elif not want["enabled"]:
            reason = want["disabled_reason"] if want["disabled_reason"] is not None else current["disabled_reason"]
            target = {"status": "disabled", "disabled_reason": reason}
        if target != current:
            actions.append({"action": "enable" if want["enabled"] else "disable", "host": host,
                            "service_id": service["id"], "disabled_reason": target["disabled_reason"]})
            before.setdefault(host, {}).update(current)
            after.setdefault(host, {}).update(target)

        name, zone = want["aggregate"], want["availability_zone"]
        if not name or name in row["aggregates"]:
            continue
        existing = by_name.get(name) or created.get(name)
        target_zone = existing.get("availability_zone") if existing else zone
        if existing and zone and existing.get("availability_zone") != zone:
            problems.append("aggregate %s is in availability zone %s, not %s: changing an aggregate's zone moves every "
                            "host in it; change it explicitly (openstack aggregate set --zone) or name another "
                            "aggregate" % (name, existing.get("availability_zone") or "(none)", zone))
            continue
        zones = _zones_of(host, aggregates) - {None}
        if target_zone and zones and zones != {target_zone}:
            problems.append("%s is in availability zone %s already (through another aggregate); nova refuses to add "
                            "it to %s in zone %s" % (host, ", ".join(sorted(zones)), name, target_zone))
            continue
        if row["hypervisor"] is None or row["status"] in ("no_hypervisor", "not_mapped"):
            continue  # nova refuses hosts it has not mapped to a cell; the next run adds it
        if not existing:
            created[name] = {"name": name, "availability_zone": zone, "hosts": []}
            actions.append({"action": "create_aggregate", "aggregate": name, "availability_zone": zone})
        actions.append({"action": "add_host", "aggregate": name, "host": host})
        before.setdefault(host, {})["aggregates"] = row["aggregates"]
        after.setdefault(host, {})["aggregates"] = sorted(row["aggregates"] + [name])
        if target_zone:
            before[host]["availability_zone"] = row["availability_zone"]
            after[host]["availability_zone"] = target_zone
    if problems:
        raise BackendError("Cannot put the proxies in their aggregates: %s." % "; ".join(problems), problems=problems)
    return actions, before, after


def service_update(action):
    """The ``PUT /os-services/{id}`` body of an enable or disable action of ``plan``."""
    if action["action"] == "enable":
        return {"status": "enabled"}
    update = {"status": "disabled"}
    if action["disabled_reason"]:
        update["disabled_reason"] = action["disabled_reason"]
    return update


def apply_to_rows(rows, after):
    """The rows as they are once the planned changes are made (what check mode reports)."""
    for row in rows:
        changes = after.get(row["host"], {})
        if row["service"] is not None:
            for key in ("status", "disabled_reason"):
                if key in changes:
                    row["service"][key] = changes[key]
        if "aggregates" in changes:
            row["aggregates"] = changes["aggregates"]
        if changes.get("availability_zone"):
            row["availability_zone"] = row["service"]["zone"] = changes["availability_zone"]
    return rows
