#!/usr/bin/env python3
"""Check a running lab vcsim's capacity behaviour (default inventory), with pyVmomi.

Powers VMs on in Cluster-A (DRS on) and checks that each lands on the host
with the most free memory, that the hosts' quickStats move, and that a VM no
host can hold fails with vim.fault.InsufficientResourcesFault; then sets each
HA admission control policy and reads it back. Reports each check on stderr,
exits 1 if one fails. Removes its VMs and restores Cluster-A's HA settings.

usage: smoke_capacity.py --url https://127.0.0.1:17443/sdk --user U --password P
"""

import argparse
import sys

from pyVim.connect import Disconnect
from pyVim.task import WaitForTask
from pyVmomi import vim
from pyVmomi.VmomiSupport import DataObject

from smoke_check import MIB, Checker, cluster_by_name, connect, retrieve

HOST_PROPERTIES = ["name", "summary.hardware.memorySize", "summary.quickStats.overallMemoryUsage",
                   "summary.quickStats.overallCpuUsage", "vm"]


def hosts_of(si, cluster):
    """{host name: (free MB, used MB, used MHz, vm morefs)} for cluster's hosts, in one call."""
    names = {h.name for h in cluster.host}
    rows = retrieve(si, vim.HostSystem, HOST_PROPERTIES).values()
    return {r["name"]: (r["summary.hardware.memorySize"] // MIB - r.get("summary.quickStats.overallMemoryUsage", 0),
                        r.get("summary.quickStats.overallMemoryUsage", 0),
                        r.get("summary.quickStats.overallCpuUsage", 0),
                        {vm._moId for vm in r.get("vm", [])})
            for r in rows if r["name"] in names}


def create_vm(cluster, name, memory_mb, datastore="nfs-a"):
    datacenter = cluster.parent
    while not isinstance(datacenter, vim.Datacenter):
        datacenter = datacenter.parent
    spec = vim.vm.ConfigSpec(name=name, memoryMB=memory_mb, numCPUs=2, guestId="otherGuest64",
                             files=vim.vm.FileInfo(vmPathName=f"[{datastore}]"))
    task = datacenter.vmFolder.CreateVM_Task(config=spec, pool=cluster.resourcePool)
    WaitForTask(task)
    return task.info.result


def check_placement(c, si, created):
    cluster = cluster_by_name(si, "Cluster-A")
    start = hosts_of(si, cluster)
    for i in (1, 2):
        before = hosts_of(si, cluster)
        freest = max(before, key=lambda name: before[name][0])
        vm = create_vm(cluster, f"smoke-capacity-{i}", 16384)
        created.append(vm)
        WaitForTask(vm.PowerOnVM_Task())
        after = hosts_of(si, cluster)
        c.check(f"VM {i} (16 GiB) lands on the host with the most free memory",
                vm.runtime.host.name == freest, f"{vm.runtime.host.name}; free before {before}")
        c.check(f"VM {i}: {freest} uses 16384 MB more, listed in its vm",
                after[freest][1] - before[freest][1] == 16384 and vm._moId in after[freest][3],
                f"{before[freest][1]} -> {after[freest][1]} MB")
        c.check(f"VM {i}: {freest} CPU usage grew", after[freest][2] > before[freest][2],
                f"{before[freest][2]} -> {after[freest][2]} MHz")
    hosts = {vm.runtime.host.name for vm in created}
    c.check("the two VMs are on different hosts (the first took the freest's room)", len(hosts) == 2, hosts)

    largest = max(free for free, _, _, _ in hosts_of(si, cluster).values())
    big = create_vm(cluster, "smoke-capacity-too-big", largest + 1024)
    created.append(big)
    task = big.PowerOnVM_Task()
    try:
        WaitForTask(task)
        c.check("a VM larger than any host's free memory fails to power on", False, "it powered on")
    except vim.fault.InsufficientResourcesFault as fault:
        c.check("a VM larger than any host's free memory fails with InsufficientResourcesFault", True,
                f"{type(fault).__name__}: {fault.msg}")
        # pyVmomi gives the LocalizedMethodFault's localizedMessage as the fault's msg.
        c.check("the task's error says insufficient resources", "Insufficient resources" in (fault.msg or ""))
    c.check("the too-big VM stays powered off", big.runtime.powerState == "poweredOff")

    for vm in created:
        if vm.runtime.powerState == "poweredOn":
            WaitForTask(vm.PowerOffVM_Task())
        WaitForTask(vm.Destroy_Task())
    created.clear()
    end = hosts_of(si, cluster)
    c.check("powering off and destroying the VMs gives the memory back",
            {n: v[1] for n, v in end.items()} == {n: v[1] for n, v in start.items()})


def same(a, b):
    """Deep equality of pyVmomi values (a DataObject's == is identity)."""
    if isinstance(a, DataObject) or isinstance(b, DataObject):
        return type(a) is type(b) and all(
            same(getattr(a, p.name), getattr(b, p.name)) for p in a._GetPropertyList())
    if isinstance(a, list) or isinstance(b, list):
        return len(a or []) == len(b or []) and all(same(x, y) for x, y in zip(a or [], b or []))
    return a == b  # managed objects compare by moref


def check_admission_control(c, si):
    cluster = cluster_by_name(si, "Cluster-A")
    original = cluster.configurationEx.dasConfig
    spare = next(h for h in cluster.host if h.name == "esx-a3.lab.local")
    policies = [
        vim.cluster.FailoverLevelAdmissionControlPolicy(failoverLevel=2),
        vim.cluster.FailoverResourcesAdmissionControlPolicy(cpuFailoverResourcesPercent=25,
                                                            memoryFailoverResourcesPercent=30),
        vim.cluster.FailoverHostAdmissionControlPolicy(failoverHosts=[spare]),
    ]
    try:
        for policy in policies:
            spec = vim.cluster.ConfigSpecEx(dasConfig=vim.cluster.DasConfigInfo(
                admissionControlEnabled=True, admissionControlPolicy=policy))
            WaitForTask(cluster.ReconfigureComputeResource_Task(spec=spec, modify=True))
            das = retrieve(si, vim.ClusterComputeResource, ["name", "configurationEx"])
            das = next(r for r in das.values() if r["name"] == "Cluster-A")["configurationEx"].dasConfig
            ok = das.admissionControlEnabled is True and same(das.admissionControlPolicy, policy)
            c.check(f"dasConfig.admissionControlPolicy {type(policy).__name__} reads back", ok,
                    "" if ok else das.admissionControlPolicy)
    finally:
        WaitForTask(cluster.ReconfigureComputeResource_Task(
            spec=vim.cluster.ConfigSpecEx(dasConfig=original), modify=False))
    c.check("Cluster-A's dasConfig restored", same(cluster.configurationEx.dasConfig, original))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--url", required=True)
    parser.add_argument("--user", required=True)
    parser.add_argument("--password", required=True)
    args = parser.parse_args()

    c = Checker()
    si = connect(args.url, args.user, args.password)
    created = []
    try:
        check_placement(c, si, created)
        check_admission_control(c, si)
    finally:
        for vm in created:  # after a failure half-way
            if vm.runtime.powerState == "poweredOn":
                WaitForTask(vm.PowerOffVM_Task())
            WaitForTask(vm.Destroy_Task())
        Disconnect(si)
    print(f"{c.failures} check(s) failed" if c.failures else "all checks passed", file=sys.stderr)
    return 1 if c.failures else 0


if __name__ == "__main__":
    sys.exit(main())
