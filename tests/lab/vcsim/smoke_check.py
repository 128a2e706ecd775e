#!/usr/bin/env python3
"""Check a running lab vcsim against its default inventory, with pyVmomi.

Prints the inventory, as read through one PropertyCollector call per object
type, as JSON on stdout; reports each check on stderr. Exits 1 if a check
fails. Checks that change state (DRS, maintenance mode) restore it.

usage: smoke_check.py --url https://127.0.0.1:17443/sdk --user U --password P
"""

import argparse
import datetime
import json
import sys
import urllib.parse

from pyVim.connect import Disconnect, SmartConnect
from pyVim.task import WaitForTask
from pyVmomi import vim, vmodl
from pyVmomi.VmomiSupport import DataObject, ManagedObject

MIB = 1 << 20

# Explicit property lists: what the collection's modules are expected to read.
PROPERTIES = {
    vim.Datacenter: ["name", "hostFolder", "vmFolder", "datastoreFolder", "networkFolder"],
    vim.ClusterComputeResource: [
        "name", "host", "datastore", "network", "resourcePool", "summary",
        "configurationEx.drsConfig", "configurationEx.dasConfig",
    ],
    vim.HostSystem: [
        "name", "parent", "runtime.connectionState", "runtime.inMaintenanceMode",
        "summary.hardware.memorySize", "summary.hardware.numCpuThreads",
        "summary.hardware.numCpuCores", "summary.hardware.cpuMhz",
        "summary.quickStats.overallMemoryUsage", "hardware.memorySize",
        "datastore", "network", "vm", "config.network.portgroup",
    ],
    vim.Datastore: [
        "name", "summary.capacity", "summary.freeSpace", "summary.type",
        "summary.accessible", "host",
    ],
    vim.Network: ["name", "host"],
    vim.VirtualMachine: [
        "name", "runtime.host", "config.hardware.memoryMB", "summary.config.memorySizeMB",
        "runtime.powerState", "config.annotation", "summary.config.annotation",
    ],
}


def connect(url, user, password):
    parts = urllib.parse.urlsplit(url)
    return SmartConnect(host=parts.hostname, port=parts.port or 443, user=user,
                        pwd=password, disableSslCertValidation=True)


def retrieve(si, vim_type, properties):
    """Return {moref: {property: value}} for every object of vim_type."""
    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(content.rootFolder, [vim_type], True)
    try:
        traverse = vmodl.query.PropertyCollector.TraversalSpec(
            name="view", path="view", skip=False, type=vim.view.ContainerView)
        spec = vmodl.query.PropertyCollector.FilterSpec(
            objectSet=[vmodl.query.PropertyCollector.ObjectSpec(
                obj=view, skip=True, selectSet=[traverse])],
            propSet=[vmodl.query.PropertyCollector.PropertySpec(
                type=vim_type, pathSet=properties)])
        result = content.propertyCollector.RetrieveContents([spec])
    finally:
        view.Destroy()
    return {obj.obj._moId: {p.name: p.val for p in obj.propSet} for obj in result}


def read_inventory(si):
    return {vim_type.__name__.split(".")[-1]: retrieve(si, vim_type, props)
            for vim_type, props in PROPERTIES.items()}


def jsonable(value):
    if isinstance(value, ManagedObject):
        return value._moId
    if isinstance(value, DataObject):
        return {p.name: jsonable(getattr(value, p.name))
                for p in value._GetPropertyList() if getattr(value, p.name) is not None}
    if isinstance(value, (list, tuple)):
        return [jsonable(v) for v in value]
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, datetime.datetime):
        return value.isoformat()
    if isinstance(value, type):
        return value.__name__
    return value


class Checker:
    def __init__(self):
        self.failures = 0

    def check(self, label, ok, detail=""):
        print(f"{'ok  ' if ok else 'FAIL'} {label}{': ' + str(detail) if detail else ''}",
              file=sys.stderr)
        self.failures += not ok


def by_name(objects):
    return {props["name"]: (moref, props) for moref, props in objects.items()}


def check_inventory(c, inv):
    hosts, clusters = by_name(inv["HostSystem"]), by_name(inv["ClusterComputeResource"])
    datastores, vms = by_name(inv["Datastore"]), by_name(inv["VirtualMachine"])
    host_name = {moref: props["name"] for moref, props in inv["HostSystem"].items()}

    c.check("datacenter DC1 exists", [p["name"] for p in inv["Datacenter"].values()] == ["DC1"])
    c.check("7 hosts, 2 clusters", len(hosts) == 7 and set(clusters) == {"Cluster-A", "Cluster-B"})

    for name, (moref, cluster) in clusters.items():
        members = [inv["HostSystem"][h._moId] for h in cluster["host"]]
        sizes = [h["summary.hardware.memorySize"] for h in members]
        c.check(f"{name}: 3 hosts with different memory sizes",
                len(members) == 3 and len(set(sizes)) == 3, [s // MIB for s in sizes])
        c.check(f"{name}: hardware.memorySize == summary.hardware.memorySize",
                all(h["hardware.memorySize"] == h["summary.hardware.memorySize"] for h in members))
        used = [h["summary.quickStats.overallMemoryUsage"] for h in members]
        c.check(f"{name}: memory in use differs per host", len(set(used)) == 3, used)

        s = cluster["summary"]
        c.check(f"{name}: summary.totalMemory == sum of host memory",
                s.totalMemory == sum(sizes), (s.totalMemory, sum(sizes)))
        c.check(f"{name}: summary.effectiveMemory (MB) == sum of host MB",
                s.effectiveMemory == sum(sizes) // MIB, s.effectiveMemory)
        c.check(f"{name}: numHosts/numEffectiveHosts == 3",
                (s.numHosts, s.numEffectiveHosts) == (3, 3))
        total_cpu = sum(h["summary.hardware.cpuMhz"] * h["summary.hardware.numCpuCores"]
                        for h in members)
        c.check(f"{name}: summary.totalCpu == sum of MHz x cores", s.totalCpu == total_cpu)

    partial = datastores["nfs-a-partial"][1]
    mounted = sorted(host_name[m.key._moId] for m in partial["host"])
    c.check("nfs-a-partial mounted on exactly 2 hosts",
            mounted == ["esx-a1.lab.local", "esx-a2.lab.local"], mounted)
    for ds_name, cluster_name in (("nfs-a", "Cluster-A"), ("nfs-b", "Cluster-B")):
        ds = datastores[ds_name][1]
        members = {h._moId for h in clusters[cluster_name][1]["host"]}
        c.check(f"{ds_name} mounted on all of {cluster_name}",
                {m.key._moId for m in ds["host"]} == members and ds["summary.type"] == "NFS")
    c.check("nfs-a-partial listed by Cluster-A",
            datastores["nfs-a-partial"][0] in {d._moId for d in clusters["Cluster-A"][1]["datastore"]})

    consistent = all(
        any(m.key._moId == host_moref for m in inv["Datastore"][ds._moId]["host"])
        for host_moref, host in inv["HostSystem"].items() for ds in host["datastore"])
    c.check("every host.datastore entry has a matching datastore.host mount", consistent)

    local = datastores["local-esx-a1"][1]
    c.check("local-esx-a1: VMFS, 500 GB, 410 GB free, 1 host",
            (local["summary.type"], local["summary.capacity"] // (1 << 30),
             local["summary.freeSpace"] // (1 << 30), len(local["host"])) == ("VMFS", 500, 410, 1))

    standalone = hosts["esx-s1.lab.local"][1]
    c.check("esx-s1 is standalone", standalone["parent"]._wsdlName == "ComputeResource")

    networks = by_name(inv["Network"])
    c.check("VM Network on all 7 hosts", len(networks.get("VM Network", (0, {"host": []}))[1]["host"]) == 7)
    vlan = networks.get("VLAN-100")
    c.check("VLAN-100 on the 6 clustered hosts only", vlan is not None and len(vlan[1]["host"]) == 6)
    a1_pgs = {pg.spec.name: pg.spec.vlanId for pg in hosts["esx-a1.lab.local"][1]["config.network.portgroup"]}
    c.check("esx-a1 config.network has VLAN-100 with vlan 100", a1_pgs.get("VLAN-100") == 100, a1_pgs)

    db = vms.get("legacy-db01")
    cluster_b_hosts = {h._moId for h in clusters["Cluster-B"][1]["host"]}
    c.check("legacy-db01 runs in Cluster-B with 8192 MB and an annotation",
            db is not None and db[1]["runtime.host"]._moId in cluster_b_hosts
            and db[1]["config.hardware.memoryMB"] == 8192 == db[1]["summary.config.memorySizeMB"]
            and db[1]["runtime.powerState"] == "poweredOn"
            and "not a Nova instance" in db[1]["summary.config.annotation"])


def cluster_by_name(si, name):
    content = si.RetrieveContent()
    view = content.viewManager.CreateContainerView(
        content.rootFolder, [vim.ClusterComputeResource], True)
    try:
        return next(c for c in view.view if c.name == name)
    finally:
        view.Destroy()


def check_reconfigure(c, si):
    cluster = cluster_by_name(si, "Cluster-B")
    before = cluster.configurationEx
    c.check("Cluster-B starts with DRS and HA off",
            before.drsConfig.enabled is False and before.dasConfig.enabled is False)

    spec = vim.cluster.ConfigSpecEx(drsConfig=vim.cluster.DrsConfigInfo(
        enabled=True, defaultVmBehavior="partiallyAutomated"))
    WaitForTask(cluster.ReconfigureComputeResource_Task(spec=spec, modify=True))
    after = cluster.configurationEx
    c.check("ReconfigureComputeResource: DRS enabled and behaviour set",
            after.drsConfig.enabled is True
            and after.drsConfig.defaultVmBehavior == "partiallyAutomated")
    c.check("ReconfigureComputeResource (modify): HA left untouched",
            after.dasConfig.enabled is False)
    c.check("deprecated configuration.drsConfig follows",
            cluster.configuration.drsConfig.enabled is True)

    WaitForTask(cluster.ReconfigureComputeResource_Task(
        spec=vim.cluster.ConfigSpecEx(drsConfig=vim.cluster.DrsConfigInfo(enabled=False)),
        modify=True))
    c.check("ReconfigureComputeResource: DRS disabled again",
            cluster.configurationEx.drsConfig.enabled is False)


def check_maintenance_mode(c, si):
    cluster = cluster_by_name(si, "Cluster-B")
    host = next(h for h in cluster.host if h.name == "esx-b3.lab.local")
    memory_mb = host.summary.hardware.memorySize // MIB
    before = cluster.summary

    WaitForTask(host.EnterMaintenanceMode_Task(timeout=0))
    during = cluster.summary
    c.check("maintenance mode: numEffectiveHosts 3 -> 2, numHosts stays 3",
            (during.numEffectiveHosts, during.numHosts) == (2, 3))
    c.check("maintenance mode: effectiveMemory drops by the host's memory",
            before.effectiveMemory - during.effectiveMemory == memory_mb)

    WaitForTask(host.ExitMaintenanceMode_Task(timeout=0))
    c.check("exit maintenance mode restores numEffectiveHosts",
            cluster.summary.numEffectiveHosts == 3)


def check_wrong_password(c, args):
    try:
        si = connect(args.url, args.user, args.password + "-wrong")
    except vim.fault.InvalidLogin:
        c.check("wrong password -> vim.fault.InvalidLogin", True)
        return
    except Exception as exc:  # noqa: BLE001 - reported as the failure itself
        c.check("wrong password -> vim.fault.InvalidLogin", False, repr(exc))
        return
    Disconnect(si)
    c.check("wrong password -> vim.fault.InvalidLogin", False, "login succeeded")


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    args = parser.parse_args()

    c = Checker()
    si = connect(args.url, args.user, args.password)
    try:
        about = si.content.about
        c.check("vCenter API 6.5", about.apiType == "VirtualCenter" and about.apiVersion == "6.5",
                f"{about.apiType} {about.apiVersion}")
        inventory = read_inventory(si)
        json.dump(jsonable(inventory), sys.stdout, indent=2, sort_keys=True)
        print()
        check_inventory(c, inventory)
        check_reconfigure(c, si)
        check_maintenance_mode(c, si)
    finally:
        Disconnect(si)
    check_wrong_password(c, args)

    print(f"{c.failures} check(s) failed" if c.failures else "all checks passed", file=sys.stderr)
    return 1 if c.failures else 0


if __name__ == "__main__":
    sys.exit(main())
