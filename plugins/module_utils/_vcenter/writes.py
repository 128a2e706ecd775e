# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Every change the collection makes in vCenter: pyVmomi specs built from plain data, and the calls.

The domain modules (cluster, firewall, nfs, portgroup) decide over plain dicts what to
change; these functions carry one change out and wait for its task. The ``vim`` types come
from ``client.managed_object_types``: client.py stays the only module that imports pyVmomi.
"""

from __future__ import annotations

from .client import managed_object_types
from .cluster import config_spec
from .nfs import NFS_TYPES
from .portgroup import BINDINGS


def reconfigure_cluster(client, cluster, changes):
    """Apply the DRS/HA ``changes`` of ``cluster.plan_settings``; vCenter keeps every setting not sent."""
    vim = managed_object_types()
    spec = config_spec(changes)
    config = vim.cluster.ConfigSpecEx(
        drsConfig=vim.cluster.DrsConfigInfo(**spec["drsConfig"]) if "drsConfig" in spec else None,
        dasConfig=vim.cluster.DasConfigInfo(**spec["dasConfig"]) if "dasConfig" in spec else None,
    )
    what = "reconfigure cluster %s" % cluster["name"]
    ref = client.ref(vim.ClusterComputeResource, cluster["moid"])
    # modify=True: vCenter changes only what the spec sets and keeps everything else.
    client.wait_for_task(client.invoke(what, ref.ReconfigureComputeResource_Task, config, True), what=what)


def switch_ruleset(client, host, key, enabled):
    """Enable or disable the firewall ruleset ``key`` on ``host`` (a host_reads host)."""
    vim = managed_object_types()
    firewall = client.ref(vim.host.FirewallSystem, host["manager"])
    method = firewall.EnableRuleset if enabled else firewall.DisableRuleset
    client.invoke("%s firewall ruleset %s on %s" % ("enable" if enabled else "disable", key, host["name"]), method, key)


def mount_nfs(client, host, name, server, path, version, read_only):
    """Mount ``server``:``path`` on ``host`` as the datastore ``name`` (vCenter joins an existing one of that export)."""
    vim = managed_object_types()
    spec = vim.host.NasVolume.Specification(
        remoteHost=server, remotePath=path, localPath=name,
        accessMode="readOnly" if read_only else "readWrite", type=NFS_TYPES[version])
    if version == "4.1":
        spec.remoteHostNames = [server]
    storage = client.ref(vim.host.DatastoreSystem, host["manager"])
    client.invoke("mount %s:%s as datastore %s on %s" % (server, path, name, host["name"]), storage.CreateNasDatastore, spec)


def unmount_datastore(client, host, datastore):
    """Unmount ``datastore`` (moid, name) from ``host``; vCenter drops it with its last host."""
    vim = managed_object_types()
    storage = client.ref(vim.host.DatastoreSystem, host["manager"])
    client.invoke("unmount datastore %s from %s" % (datastore["name"], host["name"]), storage.RemoveDatastore,
                  client.ref(vim.Datastore, datastore["moid"]))


def change_standard_portgroup(client, host, action, name, vlan_id, vswitch):
    """``action`` (add, update or remove, from ``portgroup.plan_standard``) on the port group ``name`` of ``host``."""
    vim = managed_object_types()
    network = client.ref(vim.host.NetworkSystem, host["manager"])
    what = "%s port group %s on %s" % (action, name, host["name"])
    if action == "remove":
        client.invoke(what, network.RemovePortGroup, name)
        return
    spec = vim.host.PortGroup.Specification(name=name, vlanId=vlan_id, vswitchName=vswitch, policy=vim.host.NetworkPolicy())
    if action == "add":
        client.invoke(what, network.AddPortGroup, spec)
    else:
        client.invoke(what, network.UpdatePortGroup, name, spec)


def change_distributed_portgroup(client, plan, name):
    """Create, reconfigure (only what changed) or destroy the distributed port group of ``portgroup.plan_distributed``."""
    vim = managed_object_types()
    changes = plan["changes"]
    what = "%s distributed port group %s" % (plan["action"], name)
    if plan["action"] == "destroy":
        portgroup = client.ref(vim.dvs.DistributedVirtualPortgroup, plan["portgroup"]["moid"])
        client.wait_for_task(client.invoke(what, portgroup.Destroy_Task), what=what)
        return
    spec = vim.dvs.DistributedVirtualPortgroup.ConfigSpec()
    if "vlan_id" in changes:
        spec.defaultPortConfig = vim.dvs.VmwareDistributedVirtualSwitch.VmwarePortConfigPolicy(
            vlan=vim.dvs.VmwareDistributedVirtualSwitch.VlanIdSpec(vlanId=changes["vlan_id"], inherited=False))
    if "port_binding" in changes:
        spec.type = BINDINGS[changes["port_binding"]]
    if plan["action"] == "create":
        spec.name = name
        switch = client.ref(plan["switch"]["type"], plan["switch"]["moid"])
        task = client.invoke(what, switch.AddDVPortgroup_Task, [spec])
    else:
        # vCenter rejects a reconfiguration based on a stale configVersion instead of losing a concurrent change.
        spec.configVersion = plan["portgroup"]["config_version"]
        portgroup = client.ref(vim.dvs.DistributedVirtualPortgroup, plan["portgroup"]["moid"])
        task = client.invoke(what, portgroup.ReconfigureDVPortgroup_Task, spec)
    client.wait_for_task(task, what=what)


def set_vm_power(client, vm, name, on, timeout=600):
    """Power the VM ``vm`` (a reference) on or off (a hard power-off: a migration's source is stopped
    through nova, or powered off by the operator's choice, and its disks are read only after)."""
    what = "power %s VM %s" % ("on" if on else "off", name)
    method = vm.PowerOnVM_Task if on else vm.PowerOffVM_Task
    client.wait_for_task(client.invoke(what, method), timeout=timeout, what=what)


def destroy_vm(client, vm, name, timeout=600):
    """Delete the powered-off VM ``vm`` and its disks (a finalized migration's source)."""
    what = "delete VM %s" % name
    client.wait_for_task(client.invoke(what, vm.Destroy_Task), timeout=timeout, what=what)
