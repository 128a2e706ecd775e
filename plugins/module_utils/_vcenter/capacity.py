# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Domain: the real room inside a vSphere cluster, as the capacity feed publishes it to nova.

Nova sees a cluster as one host with the sum of its ESXi hosts. This file computes what
that sum hides, from the plain dicts of ``reads`` and ``capacity_reads``: each usable host's
free memory (vCenter's own usage figure, so VMs nova did not create count) and free vCPUs
(threads times the allocation ratio, less the vCPUs of the powered-on VMs on it), the
Pareto frontier of those pairs, the failover reserve of the cluster's HA admission control,
and from them the aggregate metadata and placement traits of the feed's contract
(docs/capacity.md). Pure functions: no pyVmomi, no Ansible.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

from .._common.errors import BackendError
from .inventory import is_usable

VERSION = "1"
PREFIX = "vsphere_capacity_"
KEYS = ("version", "node", "updated_at", "hosts", "largest_free_ram_mb", "free_ram_mb", "free_vcpus",
        "reserved_ram_mb", "reserved_vcpus")
UPDATED_AT = PREFIX + "updated_at"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"
# Nova's limit on an aggregate metadata value (nova.api.validation.parameter_types.metadata).
VALUE_LIMIT = 255
DEFAULT_BUCKETS_GB = (1, 2, 4, 6, 8, 12, 16, 24, 32, 48, 64, 96, 128, 192, 256)
CAPACITY_TRAIT = "CUSTOM_VSPHERE_CAPACITY"
NOFIT_PREFIX = "CUSTOM_VSPHERE_NOFIT_RAM_"
FORBIDDEN = "forbidden"
MIB_PER_GIB = 1024
# Nova's initial_cpu_allocation_ratio: what a compute node gets when cpu_allocation_ratio is unset.
DEFAULT_CPU_ALLOCATION_RATIO = 4.0


def cpu_allocation_ratio(option, inventories):
    """The vCPUs per CPU thread to count: the option if given, else the allocation ratio of the VCPU
    inventory nova keeps in placement for the node (what the scheduler books against), else nova's default."""
    if option is not None:
        return float(option)
    ratio = ((inventories or {}).get("VCPU") or {}).get("allocation_ratio")
    return float(ratio) if ratio else DEFAULT_CPU_ALLOCATION_RATIO


# --- per host --------------------------------------------------------------------------

def host_loads(vms):
    """Host moid -> (vCPUs, memory MB) of the powered-on VMs running there (templates never run)."""
    loads = {}
    for vm in vms:
        if vm["power_state"] != "poweredOn" or vm["host"] is None or vm.get("template"):
            continue
        vcpus, memory = loads.get(vm["host"], (0, 0))
        loads[vm["host"]] = (vcpus + vm["vcpus"], memory + vm["memory_mb"])
    return loads


def host_figures(hosts, loads, cpu_allocation_ratio):
    """One row per host: its size, vCenter's memory usage, the vCPUs booked on it, and what is free.

    Free RAM is memorySize less quickStats.overallMemoryUsage; free vCPUs are numCpuThreads
    times the ratio (rounded down, as nova does) less the vCPUs of its powered-on VMs. Both
    are floored at 0: an overcommitted host has no room, not negative room.
    """
    rows = []
    for host in sorted(hosts, key=lambda item: item["name"]):
        vcpus_used = loads.get(host["moid"], (0, 0))[0]
        vcpu_capacity = int(math.floor(host["cpu_threads"] * cpu_allocation_ratio))
        rows.append({
            "moid": host["moid"],
            "name": host["name"],
            "usable": is_usable(host),
            "memory_mb": host["memory_mb"],
            "memory_used_mb": host["memory_used_mb"],
            "vcpu_capacity": vcpu_capacity,
            "vcpus_used": vcpus_used,
            "free_ram_mb": max(host["memory_mb"] - host["memory_used_mb"], 0),
            "free_vcpus": max(vcpu_capacity - vcpus_used, 0),
        })
    return rows


def pareto_frontier(pairs):
    """The (ram, vcpus) pairs no other pair dominates (as large in both, larger in one), RAM first, descending.

    Equal pairs appear once: a request that fits one fits the other.
    """
    frontier = []
    best_vcpus = -1
    for ram, vcpus in sorted(set(pairs), key=lambda pair: (-pair[0], -pair[1])):
        # Every pair seen before has at least this RAM; this one survives only with more vCPUs than all of them.
        if vcpus > best_vcpus:
            frontier.append((ram, vcpus))
            best_vcpus = vcpus
    return frontier


def hosts_text(frontier, limit=VALUE_LIMIT):
    """``ram:vcpus`` pairs, space separated, keeping the largest-RAM entries that fit in ``limit`` characters."""
    text = ""
    for ram, vcpus in frontier:
        entry = "%d:%d" % (ram, vcpus)
        candidate = entry if not text else text + " " + entry
        if len(candidate) > limit:
            break
        text = candidate
    return text


# --- the failover reserve of HA admission control ----------------------------------------

def admission_policy(das):
    """What HA admission control holds back, from a cluster's plain ``das`` dict (``capacity_reads``).

    Returns {"kind": none|failover_level|resources_percent|failover_hosts, ...}. HA off or
    admission control off: none. A policy vCenter left unset is the deprecated
    ``failoverLevel`` of dasConfig, else vSphere's default of one host failure tolerated.
    A resources policy with ``autoComputePercentages`` is computed by vCenter from its
    ``failoverLevel`` host failures, so it counts as that level here.
    """
    if not das or not das.get("enabled"):
        return {"kind": "none", "why": "HA disabled"}
    if not das.get("admission_control_enabled"):
        return {"kind": "none", "why": "admission control disabled"}
    policy = das.get("policy") or {}
    kind = policy.get("kind")
    if kind == "failover_hosts":
        return {"kind": "failover_hosts", "hosts": sorted(policy.get("hosts") or [])}
    if kind == "resources_percent" and not policy.get("auto_compute"):
        return {"kind": "resources_percent", "memory_percent": int(policy.get("memory_percent") or 0),
                "cpu_percent": int(policy.get("cpu_percent") or 0)}
    if kind in ("failover_level", "resources_percent"):
        return {"kind": "failover_level", "level": max(int(policy.get("level") or 1), 0)}
    if kind is None:
        return {"kind": "failover_level", "level": max(int(das.get("failover_level") or 1), 0)}
    return {"kind": "unknown", "why": "admission control policy %s is not modelled" % kind}


def failover_reserve(rows, policy):
    """(reserved RAM MB, reserved vCPUs) that ``policy`` holds back in a cluster of these host rows."""
    usable = [row for row in rows if row["usable"]]
    kind = policy["kind"]
    if kind == "failover_level":
        level = policy["level"]
        ram = sum(sorted((row["memory_mb"] for row in usable), reverse=True)[:level])
        vcpus = sum(sorted((row["vcpu_capacity"] for row in usable), reverse=True)[:level])
        return ram, vcpus
    if kind == "resources_percent":
        ram = int(math.ceil(sum(row["memory_mb"] for row in usable) * policy["memory_percent"] / 100.0))
        vcpus = int(math.ceil(sum(row["vcpu_capacity"] for row in usable) * policy["cpu_percent"] / 100.0))
        return ram, vcpus
    if kind == "failover_hosts":
        chosen = [row for row in usable if row["moid"] in policy["hosts"]]
        return sum(row["memory_mb"] for row in chosen), sum(row["vcpu_capacity"] for row in chosen)
    return 0, 0


# --- one node's figures and its metadata -------------------------------------------------

def node_figures(node, hosts, vms, das, cpu_allocation_ratio):
    """Everything the feed publishes for one cluster (node), before the timestamp.

    ``hosts`` are the cluster's hosts (``reads.read_hosts``), ``vms`` every VM of the
    vCenter (``capacity_reads.read_vm_loads``), ``das`` the cluster's HA settings.
    """
    rows = host_figures(hosts, host_loads(vms), cpu_allocation_ratio)
    policy = admission_policy(das)
    reserved_ram, reserved_vcpus = failover_reserve(rows, policy)
    spare = set(policy.get("hosts") or ()) if policy["kind"] == "failover_hosts" else set()
    offered = [row for row in rows if row["usable"] and row["moid"] not in spare]
    usable = [row for row in rows if row["usable"]]
    frontier = pareto_frontier([(row["free_ram_mb"], row["free_vcpus"]) for row in offered])
    return {
        "node": node,
        "hosts": rows,
        "admission_control": policy,
        "frontier": frontier,
        "largest_free_ram_mb": max((row["free_ram_mb"] for row in offered), default=0),
        "free_ram_mb": max(sum(row["free_ram_mb"] for row in usable) - reserved_ram, 0),
        "free_vcpus": max(sum(row["free_vcpus"] for row in usable) - reserved_vcpus, 0),
        "reserved_ram_mb": reserved_ram,
        "reserved_vcpus": reserved_vcpus,
    }


def metadata(figures, updated_at):
    """The aggregate metadata of the contract, every value a string of at most 255 characters."""
    values = {
        "version": VERSION,
        "node": figures["node"],
        "updated_at": updated_at,
        "hosts": hosts_text(figures["frontier"]),
        "largest_free_ram_mb": str(figures["largest_free_ram_mb"]),
        "free_ram_mb": str(figures["free_ram_mb"]),
        "free_vcpus": str(figures["free_vcpus"]),
        "reserved_ram_mb": str(figures["reserved_ram_mb"]),
        "reserved_vcpus": str(figures["reserved_vcpus"]),
    }
    return {PREFIX + key: values[key] for key in KEYS}


def timestamp(moment):
    """A datetime (UTC) as the feed writes it."""
    return moment.astimezone(timezone.utc).strftime(TIME_FORMAT)


def parse_timestamp(text):
    """The UTC datetime of a feed timestamp, or None when absent or unparsable."""
    try:
        return datetime.strptime(text or "", TIME_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def needs_rewrite(current, wanted, now, refresh_after):
    """(rewrite?, why) for an aggregate's metadata ``current`` against the freshly read ``wanted``.

    Rewritten when any figure differs (the timestamp aside), or when the published timestamp
    is missing, unparsable, in the future or older than ``refresh_after`` seconds.
    """
    differing = sorted(key for key in wanted if key != UPDATED_AT and current.get(key) != wanted[key])
    if differing:
        return True, "figures changed: %s" % ", ".join(key[len(PREFIX):] for key in differing)
    published = parse_timestamp(current.get(UPDATED_AT))
    if published is None:
        return True, "no readable timestamp"
    age = (now - published).total_seconds()
    if age < 0:
        return True, "timestamp in the future"
    if age >= refresh_after:
        return True, "figures older than %d s" % refresh_after
    return False, "figures unchanged, %d s old" % age


# --- traits and flavors ------------------------------------------------------------------

def nofit_trait(bucket_gb):
    return "%s%dG" % (NOFIT_PREFIX, bucket_gb)


def check_buckets(buckets):
    """The buckets sorted and unique; a BackendError for a bucket that is not a positive whole number of GiB."""
    wrong = [bucket for bucket in buckets if not isinstance(bucket, int) or isinstance(bucket, bool) or bucket <= 0]
    if wrong or not buckets:
        raise BackendError("ram_buckets_gb must list positive whole numbers of GiB; got %s." % (list(buckets),))
    return sorted(set(buckets))


def all_traits(buckets):
    """Every trait the feed may set, so that each exists in placement before any flavor names it."""
    return [CAPACITY_TRAIT] + [nofit_trait(bucket) for bucket in buckets]


def is_ours(trait):
    return trait == CAPACITY_TRAIT or trait.startswith(NOFIT_PREFIX)


def wanted_traits(largest_free_ram_mb, buckets):
    """The feed's traits for a node: CUSTOM_VSPHERE_CAPACITY and a NOFIT trait per bucket no host can hold."""
    return sorted([CAPACITY_TRAIT] + [nofit_trait(bucket) for bucket in buckets
                                      if bucket * MIB_PER_GIB > largest_free_ram_mb])


def traits_after(current, wanted):
    """The provider's traits once the feed's are set: every trait not ours kept, ours replaced by ``wanted``."""
    return sorted({trait for trait in current if not is_ours(trait)} | set(wanted))


def flavor_bucket(ram_mb, buckets):
    """The smallest bucket (GiB) that holds ``ram_mb``, or None when it is larger than every bucket."""
    return next((bucket for bucket in sorted(buckets) if bucket * MIB_PER_GIB >= ram_mb), None)


def flavor_spec_key(bucket_gb):
    return "trait:" + nofit_trait(bucket_gb)


def flavor_specs_plan(flavor_name, ram_mb, specs, buckets):
    """(to_set, to_delete) of the flavor's extra specs: its bucket's forbidden NOFIT trait, no other of ours.

    Raises BackendError when the flavor is larger than every bucket: no trait could keep it
    from a cluster where it fits no host.
    """
    bucket = flavor_bucket(ram_mb, buckets)
    if bucket is None:
        needed = int(math.ceil(ram_mb / float(MIB_PER_GIB)))
        raise BackendError("Flavor %s has %d MB of RAM, more than the largest bucket (%d GiB): add a bucket of at "
                           "least %d GiB to ram_buckets_gb." % (flavor_name, ram_mb, max(buckets), needed))
    key = flavor_spec_key(bucket)
    to_set = {} if specs.get(key) == FORBIDDEN else {key: FORBIDDEN}
    to_delete = sorted(name for name in specs if name.startswith("trait:" + NOFIT_PREFIX) and name != key)
    return to_set, to_delete
