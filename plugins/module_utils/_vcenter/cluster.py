# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""What nova's VMware driver needs of a vSphere cluster: finding it, its DRS/HA settings, its facts.

Pure functions over the plain dicts of the reads modules; no pyVmomi, no Ansible.
Nova's rules are quoted from nova/virt/vmwareapi (constants.py, vm_util.py, ds_util.py,
driver.py update_provider_tree).
"""

from __future__ import annotations

import re

from .._common.errors import BackendError
from .inventory import capacity, datacenter_of

# vm_util.get_vm_create_spec marks every VM nova creates with both of these.
NOVA_EXTENSION_KEY = "org.openstack.compute"
NOVA_EXTENSION_TYPE = "instance"
NOVA_UUID_OPTION = "nvp.vm-uuid"
# ESX Agent Manager owns vSphere's own agent VMs (vCLS in every DRS cluster since 7.0U1):
# they are not the tenant workloads that would skew nova's usage figures.
AGENT_EXTENSION_KEY = "com.vmware.vim.eam"
# ds_util.ALL_SUPPORTED_DS_TYPES: the datastore types nova places instances on.
NOVA_DATASTORE_TYPES = ("VMFS", "NFS", "NFS41", "vsan")
GIB_IN_MIB = 1024


def _listing(names):
    return ", ".join(sorted(names)) or "none"


def find_cluster(datacenters, folders, compute_resources, cluster, datacenter=None, ambiguity_fix=None):
    """The one cluster called ``cluster`` (in ``datacenter`` if given), or a BackendError naming those that exist.

    ``ambiguity_fix``, when given, is the advice the ambiguous-name error ends with, for a caller
    that has no datacenter option to offer.
    """
    parents = {item["moid"]: item["parent"] for item in folders + compute_resources + datacenters}
    scope = datacenters
    if datacenter is not None:
        scope = [dc for dc in datacenters if dc["name"] == datacenter]
        if not scope:
            raise BackendError("Datacenter %s not found; this vCenter has: %s." % (
                datacenter, _listing(dc["name"] for dc in datacenters)))
        if len(scope) > 1:
            raise BackendError("Datacenter name %s is ambiguous: %d datacenters of that name sit in different folders (%s); "
                               "rename all but one." % (datacenter, len(scope), ", ".join(sorted(dc["moid"] for dc in scope))))
    by_moid = {dc["moid"]: dc for dc in scope}
    clusters = []
    for item in compute_resources:
        dc_moid = datacenter_of(item["moid"], parents, by_moid) if item["is_cluster"] else None
        if dc_moid is not None:
            clusters.append(dict(item, datacenter=by_moid[dc_moid]["name"], datacenter_moid=dc_moid))

    matches = [item for item in clusters if item["name"] == cluster]
    if not matches:
        where = "datacenter %s" % datacenter if datacenter is not None else "this vCenter"
        raise BackendError("Cluster %s not found in %s; it has: %s." % (
            cluster, where, _listing("%s/%s" % (item["datacenter"], item["name"]) for item in clusters)))
    if len(matches) > 1:
        places = ", ".join(sorted("%s/%s (%s)" % (item["datacenter"], item["name"], item["moid"]) for item in matches))
        if ambiguity_fix is not None:
            fix = ambiguity_fix
        elif datacenter is None and len({item["datacenter_moid"] for item in matches}) == len(matches):
            fix = "set the datacenter option to choose one"
        else:
            fix = "they sit in different folders of one datacenter: rename all but one"
        raise BackendError("Cluster name %s is ambiguous: %s; %s." % (cluster, places, fix))
    found = matches[0]
    return {key: found[key] for key in ("moid", "name", "datacenter", "datacenter_moid")}


# --- DRS and HA -----------------------------------------------------------------------

def settings_from_config(config):
    """The settings the module manages, from a cluster's raw drsConfig/dasConfig values.

    vCenter's vmotionRate runs the other way from the migration threshold its UI shows
    (rate 1 is the most aggressive, UI threshold 5), so the threshold is 6 - rate.
    """
    drs, das = config["drs"], config["das"]
    rate = drs.get("vmotionRate")
    host_monitoring = das.get("hostMonitoring")
    return {
        "drs": {
            "enabled": bool(drs.get("enabled")),
            "default_vm_behavior": drs.get("defaultVmBehavior"),
            "migration_threshold": 6 - rate if rate else None,
        },
        "ha": {
            "enabled": bool(das.get("enabled")),
            "host_monitoring": None if host_monitoring is None else host_monitoring == "enabled",
            "admission_control": das.get("admissionControlEnabled"),
        },
    }


def plan_settings(current, desired):
    """Compare the managed settings; return (before, after, changes), each {"drs": {...}, "ha": {...}}.

    ``desired`` holds only the settings the task sets (None means "leave alone"), so
    before/after show exactly those and a setting the task does not name never changes.
    """
    before, after, changes = {}, {}, {}
    for section, wanted in desired.items():
        wanted = {key: value for key, value in (wanted or {}).items() if value is not None}
        if not wanted:
            continue
        before[section] = {key: current[section].get(key) for key in wanted}
        after[section] = dict(wanted)
        differing = {key: value for key, value in wanted.items() if current[section].get(key) != value}
        if differing:
            changes[section] = differing
    return before, after, changes


# What DRS leaves to an operator at each automation level nova cannot work with.
DRS_LEVELS_NOVA_CANNOT_USE = {
    "partiallyAutomated": "every migration",
    "manual": "the placement of every VM it powers on and every migration",
}


def drs_warnings(drs):
    """Warnings about the DRS settings a task asks for (``drs`` option, None when not given)."""
    behavior = (drs or {}).get("default_vm_behavior")
    if behavior not in DRS_LEVELS_NOVA_CANNOT_USE:
        return []
    return ["DRS default_vm_behavior %s leaves %s to an operator: nova's VMware driver needs fullyAutomated, so that "
            "vCenter places and balances the VMs nova creates." % (behavior, DRS_LEVELS_NOVA_CANNOT_USE[behavior])]


def config_spec(changes):
    """The vSphere names and values of ``changes``, for a ClusterConfigSpecEx with modify=True."""
    spec = {}
    drs = changes.get("drs", {})
    if drs:
        spec["drsConfig"] = {name: drs[key] for key, name in (
            ("enabled", "enabled"), ("default_vm_behavior", "defaultVmBehavior")) if key in drs}
        if "migration_threshold" in drs:
            spec["drsConfig"]["vmotionRate"] = 6 - drs["migration_threshold"]
    ha = changes.get("ha", {})
    if ha:
        spec["dasConfig"] = {name: ha[key] for key, name in (
            ("enabled", "enabled"), ("admission_control", "admissionControlEnabled")) if key in ha}
        if "host_monitoring" in ha:
            spec["dasConfig"]["hostMonitoring"] = "enabled" if ha["host_monitoring"] else "disabled"
    return spec


# --- facts ----------------------------------------------------------------------------

def compile_datastore_regex(pattern):
    """The compiled ``datastore_regex``, or a BackendError quoting it. None stays None."""
    if pattern is None:
        return None
    try:
        return re.compile(pattern)
    except re.error as error:
        raise BackendError("datastore_regex %r does not compile: %s." % (pattern, error))


def vm_kind(vm):
    """'nova' for a VM nova created, 'agent' for a vSphere agent VM, else 'unmanaged'."""
    managed_by = vm.get("managed_by") or {}
    if vm.get("nova_uuid") or (managed_by.get("extension_key"), managed_by.get("type")) == (
            NOVA_EXTENSION_KEY, NOVA_EXTENSION_TYPE):
        return "nova"
    if managed_by.get("extension_key") == AGENT_EXTENSION_KEY:
        return "agent"
    return "unmanaged"


def usable_by_nova(datastore, regex):
    """ds_util._is_datastore_valid: accessible, not in maintenance, a supported type, and re.match'ed."""
    return (datastore["accessible"]
            and datastore.get("maintenance_mode") in (None, "normal")
            and datastore["type"] in NOVA_DATASTORE_TYPES
            and (regex is None or regex.match(datastore["name"]) is not None))


def cluster_facts(hosts, datastores, vms, regex=None):
    """Hosts, datastores (who mounts each, shared or not), nova's capacity and the VMs nova does not manage.

    ``datastores`` are those the cluster lists (nova looks at no other). A datastore is
    shared when every connected host mounts it: DRS may start or move a VM to any of them.
    """
    names = {host["moid"]: host["name"] for host in hosts}
    connected = {host["moid"] for host in hosts if host["connection_state"] == "connected"}
    facts_datastores = []
    for ds in sorted(datastores, key=lambda item: item["name"]):
        mounted = set(ds["mounted_on"])
        facts_datastores.append({
            "name": ds["name"],
            "type": ds["type"],
            "capacity_mb": ds["capacity_mb"],
            "free_mb": ds["free_mb"],
            "accessible": ds["accessible"],
            "hosts": sorted(names[moid] for moid in mounted if moid in names),
            "shared": bool(connected) and connected <= mounted,
            "missing_on": sorted(names[moid] for moid in connected - mounted),
            "matches_regex": regex is None or regex.match(ds["name"]) is not None,
            "usable_by_nova": usable_by_nova(ds, regex),
        })
    nova_datastores = [ds for ds in facts_datastores if ds["usable_by_nova"]]
    totals = capacity(hosts)
    usable_hosts = [host for host in hosts if host["moid"] in connected and not host["maintenance_mode"]]
    totals.update(
        largest_host_cpu_threads=max((host["cpu_threads"] for host in usable_hosts), default=0),
        # update_provider_tree: DISK_GB total is the sum over nova's datastores, max_unit the most free on one.
        disk_gb=sum(ds["capacity_mb"] for ds in nova_datastores) // GIB_IN_MIB,
        largest_datastore_free_gb=max((ds["free_mb"] for ds in nova_datastores), default=0) // GIB_IN_MIB,
    )
    kinds = {"nova": [], "agent": [], "unmanaged": []}
    for vm in sorted(vms, key=lambda item: item["name"]):
        kinds[vm_kind(vm)].append(vm)
    return {
        "hosts": [{key: host[key] for key in (
            "name", "connection_state", "maintenance_mode", "cpu_threads", "memory_mb", "memory_used_mb")}
            for host in sorted(hosts, key=lambda item: item["name"])],
        "datastores": facts_datastores,
        "shared_datastores": [ds["name"] for ds in facts_datastores if ds["shared"]],
        "datastore_regex": None if regex is None else {
            "pattern": regex.pattern,
            "matching": [ds["name"] for ds in facts_datastores if ds["matches_regex"]],
            "matching_shared": [ds["name"] for ds in facts_datastores if ds["matches_regex"] and ds["shared"]],
        },
        "capacity": totals,
        "vms": {
            "nova_managed": len(kinds["nova"]),
            "agents": [vm["name"] for vm in kinds["agent"]],
            "unmanaged": [{"name": vm["name"], "power_state": vm["power_state"], "template": vm["template"],
                           "host": names.get(vm["host"], vm["host"])} for vm in kinds["unmanaged"]],
        },
    }


def shared_datastore_problem(cluster, facts):
    """Why no datastore nova may use is shared by all connected hosts, or None when one is."""
    candidates = [ds for ds in facts["datastores"] if ds["usable_by_nova"]]
    regex = facts["datastore_regex"]
    subject = "datastore_regex %r matches" % regex["pattern"] if regex else "there is"
    if not any(host["connection_state"] == "connected" for host in facts["hosts"]):
        return "Cluster %s has no connected host." % cluster
    if any(ds["shared"] for ds in candidates):
        return None
    if not candidates:
        return "In cluster %s, %s no datastore nova can use (accessible, type %s); the cluster's datastores: %s." % (
            cluster, subject, "/".join(NOVA_DATASTORE_TYPES), _listing(ds["name"] for ds in facts["datastores"]))
    lacking = "; ".join("%s is not mounted on %s" % (ds["name"], ", ".join(ds["missing_on"])) for ds in candidates)
    return ("In cluster %s, %s no datastore that every connected host mounts (%s): a VM DRS places on a host "
            "without its datastore cannot run there." % (cluster, subject, lacking))
