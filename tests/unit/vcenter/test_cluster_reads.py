"""The cluster facts are read in bulk: the number of vCenter calls does not grow with the inventory."""

from types import SimpleNamespace

import pytest
from pyVmomi import vim

from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._vcenter.cluster import compile_datastore_regex
from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._vcenter.cluster_reads import read_cluster


def ref(cls, moid):
    return cls(moid)


class CountingClient:
    """Answers the readers from a synthetic inventory of one cluster with ``hosts`` hosts; counts every read."""

    def __init__(self, hosts):
        self.reads = []
        self.hosts = ["host-%d" % i for i in range(hosts)]
        self.datastores = ["ds-local-%d" % i for i in range(hosts)] + ["ds-nfs"]

    def ref(self, obj_type, moid):
        return ref(obj_type, moid)

    def root(self):
        return ref(vim.Folder, "group-d1")

    def collect(self, start, traversals, properties):
        """One read: the objects of the types asked for, as a walk from ``start`` reaches them."""
        self.reads.append((start._moId, sorted("%s.%s" % (t._wsdlName, path) for t, path in traversals)))
        return [row for obj_type in properties for row in self._rows(obj_type)]

    def _rows(self, obj_type):
        dc = ref(vim.Datacenter, "dc-1")
        if obj_type is vim.Datacenter:
            return [{"obj": dc, "moid": "dc-1", "name": "DC1", "parent": ref(vim.Folder, "group-d1")}]
        if obj_type is vim.Folder:
            return [{"obj": ref(vim.Folder, "group-h1"), "moid": "group-h1", "name": "host", "parent": dc}]
        if obj_type is vim.ComputeResource:
            return [{"obj": ref(vim.ClusterComputeResource, "domain-c1"), "moid": "domain-c1", "name": "C",
                     "parent": ref(vim.Folder, "group-h1")}]
        if obj_type is vim.ClusterComputeResource:
            config = SimpleNamespace(drsConfig=SimpleNamespace(enabled=True, defaultVmBehavior="fullyAutomated", vmotionRate=3),
                                     dasConfig=SimpleNamespace(enabled=True, hostMonitoring="enabled", admissionControlEnabled=True))
            return [{"obj": ref(vim.ClusterComputeResource, "domain-c1"), "moid": "domain-c1", "configurationEx": config,
                     "host": [ref(vim.HostSystem, moid) for moid in self.hosts],
                     "datastore": [ref(vim.Datastore, moid) for moid in self.datastores]}]
        if obj_type is vim.HostSystem:
            return [{"obj": ref(vim.HostSystem, moid), "moid": moid, "name": moid, "parent": ref(vim.ClusterComputeResource, "domain-c1"),
                     "runtime.connectionState": "connected", "runtime.inMaintenanceMode": False,
                     "summary.hardware.memorySize": 64 << 30, "summary.hardware.numCpuThreads": 32,
                     "summary.quickStats.overallMemoryUsage": 1024, "datastore": [ref(vim.Datastore, "ds-nfs")]}
                    for moid in self.hosts]
        if obj_type is vim.Datastore:
            mounts = {moid: [moid.replace("ds-local", "host")] for moid in self.datastores}
            mounts["ds-nfs"] = self.hosts
            return [{"obj": ref(vim.Datastore, moid), "moid": moid, "name": moid, "summary.type": "NFS", "summary.capacity": 1 << 40,
                     "summary.freeSpace": 1 << 39, "summary.accessible": True,
                     "host": [SimpleNamespace(key=ref(vim.HostSystem, h), mountInfo=None) for h in mounts[moid]]}
                    for moid in self.datastores]
        if obj_type is vim.VirtualMachine:
            return [{"obj": ref(vim.VirtualMachine, "vm-%d" % i), "moid": "vm-%d" % i, "name": "vm-%d" % i, "runtime.host": ref(vim.HostSystem, moid)}
                    for i, moid in enumerate(self.hosts)]
        raise AssertionError("unexpected read of %s" % obj_type.__name__)


@pytest.mark.parametrize("hosts", [1, 300])
def test_one_read_per_object_kind_whatever_the_number_of_hosts(hosts):
    client = CountingClient(hosts)
    cluster, config, facts = read_cluster(client, "C", None, compile_datastore_regex("ds-nfs"))
    assert config["datastores"] == sorted(client.datastores)
    assert cluster["moid"] == "domain-c1"
    assert len(facts["hosts"]) == hosts and facts["datastore_regex"]["matching_shared"] == ["ds-nfs"]
    assert len(facts["vms"]["unmanaged"]) == hosts
    # Two calls: the folder walk that places the cluster, then the walk from the cluster to its hosts,
    # datastores and the VMs on its hosts.
    assert client.reads == [
        ("group-d1", ["Datacenter.hostFolder", "Folder.childEntity"]),
        ("domain-c1", ["ClusterComputeResource.datastore", "ClusterComputeResource.host", "HostSystem.vm"]),
    ]
