"""Tests that need an inventory of their own, on a private instance of the lab's simulator.

- The facts are read in bulk: the SOAP calls made for a cluster of 40 hosts (with their
  datastores and VMs) are exactly those made for a cluster of one host.
- Ambiguous cluster names (the same name in two datacenters).
- Disconnected and maintenance-mode hosts.
- A datacenter and cluster made through the API, managed, then destroyed.

The shared lab cannot host these: no API call disconnects a host in the simulator, and a
second datacenter or cluster would change what every other test sees of the shared lab
while it exists.
"""

import collections
import os
import secrets

import pytest
from pyVim.task import WaitForTask
from pyVmomi import vim

from helpers.lab import LabEnv, clean_env
from helpers.playbook import run_module
from helpers.vsphere import VSphere, lab_vcenter, private_simulator

from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._vcenter.cluster import compile_datastore_regex
from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._vcenter.client import vcenter_session
from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._vcenter.cluster_reads import read_cluster

BIG = 40


def host(name, **facts):
    return dict({"name": name, "memory_mb": 65536, "memory_used_mb": 4096, "cpu_cores": 16, "cpu_threads": 32,
                 "cpu_mhz": 2000}, **facts)


def inventory():
    big = [host("big-%02d.lab" % i) for i in range(BIG)]
    big[0]["connection_state"] = "disconnected"
    big[1]["maintenance_mode"] = True
    vms = [{"name": "vm-%02d" % i, "host": "big-%02d.lab" % i, "datastore": "nfs-big", "memory_mb": 1024} for i in range(2, BIG)]
    vms[0]["extra_config"] = {"nvp.vm-uuid": "0b7e1f6a-9d0c-4d8e-8f35-5b0c7c6b1e11"}
    return {"datacenters": [
        {"name": "DC1",
         "clusters": [{"name": "Small", "drs_enabled": True, "hosts": [host("small-1.lab")]},
                      {"name": "Big", "drs_enabled": True, "hosts": big}],
         "datastores": [{"name": "nfs-big", "type": "nfs", "capacity_gb": 8192, "free_gb": 4096, "clusters": ["Big"]},
                        {"name": "nfs-small", "type": "nfs", "capacity_gb": 1024, "free_gb": 512, "clusters": ["Small"]}]
         + [{"name": "local-%s" % item["name"], "type": "local", "capacity_gb": 100, "free_gb": 50, "hosts": [item["name"]]}
            for item in big],
         "firewall_rulesets": [{"key": "vnc", "ports": [5900, 9999]}],
         "vms": vms},
        {"name": "DC2", "clusters": [{"name": "Small", "hosts": [host("dc2-small-1.lab")]}],
         "datastores": [{"name": "local-dc2", "type": "local", "capacity_gb": 100, "free_gb": 50, "clusters": ["Small"]}]},
    ]}


@pytest.fixture(scope="module")
def private_vcenter(lab, tmp_path_factory):
    """A simulator of our own on a free port, built by the lab, with the lab's certificate."""
    password = secrets.token_urlsafe(16)
    with private_simulator(lab, tmp_path_factory.mktemp("private-vcsim"), inventory(), password) as port:
        yield LabEnv(lab_vcenter(lab), VMWARE_PORT=str(port), VMWARE_PASSWORD=password)


class SoapCalls:
    """Counts every SOAP call a pyVmomi session makes, lazy property reads included."""

    def __init__(self, stub):
        self.names = []
        invoke_method, invoke_accessor = stub.InvokeMethod, stub.InvokeAccessor

        def method(mo, info, args, *rest):
            self.names.append(info.name)
            return invoke_method(mo, info, args, *rest)

        def accessor(mo, info):
            self.names.append("lazy read of %s.%s" % (type(mo).__name__, info.name))
            return invoke_accessor(mo, info)

        stub.InvokeMethod, stub.InvokeAccessor = method, accessor


@pytest.fixture
def session(private_vcenter, monkeypatch):
    monkeypatch.setenv("SSL_CERT_FILE", private_vcenter["SSL_CERT_FILE"])
    params = {"hostname": private_vcenter["VMWARE_HOST"], "port": int(private_vcenter["VMWARE_PORT"]),
              "username": private_vcenter["VMWARE_USER"], "password": private_vcenter["VMWARE_PASSWORD"],
              "validate_certs": True}
    with vcenter_session(params) as client:
        yield client


def test_facts_are_read_in_bulk_whatever_the_size_of_the_cluster(session):
    calls = SoapCalls(session.service_instance._stub)
    regex = compile_datastore_regex("^nfs-")
    small = read_cluster(session, "Small", "DC1", regex)[2]
    small_calls, calls.names = collections.Counter(calls.names), []
    big = read_cluster(session, "Big", "DC1", regex)[2]
    big_calls = collections.Counter(calls.names)

    assert (len(small["hosts"]), len(big["hosts"])) == (1, BIG)
    assert (len(small["datastores"]), len(big["datastores"])) == (1, BIG + 1)
    assert len(big["vms"]["unmanaged"]) == BIG - 3
    assert big_calls == small_calls
    # Two PropertyCollector calls: the walk of the folder tree that places the cluster, then the walk
    # from the cluster to its config, hosts, datastores and VMs; no ContainerView to create and destroy.
    assert big_calls["RetrievePropertiesEx"] == 2
    assert big_calls["CreateContainerView"] == big_calls["Destroy"] == 0
    assert not [name for name in big_calls if name.startswith("lazy read")]


def test_ambiguous_cluster_name_needs_the_datacenter(private_vcenter):
    env = clean_env(**private_vcenter)
    run = run_module("vcenter_cluster", {"cluster": "Small"}, env=env)
    assert run.failed
    assert run.msg.startswith("Cluster name Small is ambiguous: DC1/Small (")
    assert run.msg.endswith("); set the datacenter option to choose one.")
    assert "DC2/Small (" in run.msg
    chosen = run_module("vcenter_cluster", {"cluster": "Small", "datacenter": "DC2"}, env=env)
    assert not chosen.failed, chosen.output
    assert chosen.result["cluster"]["datacenter"] == "DC2"
    assert [item["name"] for item in chosen.result["cluster"]["hosts"]] == ["dc2-small-1.lab"]


def test_disconnected_and_maintenance_hosts(private_vcenter):
    env = clean_env(**private_vcenter)
    run = run_module("vcenter_cluster", {"cluster": "Big", "datastore_regex": "^nfs-", "require_shared_datastore": True}, env=env)
    assert not run.failed, run.output
    facts = run.result["cluster"]
    states = {item["name"]: (item["connection_state"], item["maintenance_mode"]) for item in facts["hosts"]}
    assert states["big-00.lab"] == ("disconnected", False) and states["big-01.lab"] == ("connected", True)
    # Nova counts neither: 38 hosts of 32 threads and 64 GiB.
    assert facts["capacity"]["usable_hosts"] == BIG - 2
    assert facts["capacity"]["cpu_threads"] == 32 * (BIG - 2)
    assert facts["capacity"]["memory_mb"] == 65536 * (BIG - 2)
    # The VM with nova's extra config key is nova's; the others are not.
    assert facts["vms"]["nova_managed"] == 1

    firewall = run_module("vcenter_host_firewall", {"cluster": "Big", "ruleset": "vnc"}, env=env)
    assert not firewall.failed, firewall.output
    assert firewall.result["firewall"]["skipped_hosts"] == ["big-00.lab"]
    assert len(firewall.result["firewall"]["hosts"]) == BIG - 1
    assert "Not connected, so not configured: big-00.lab." in firewall.result["warnings"]

    mount = run_module("vcenter_host_nfs_datastore", {"cluster": "Big", "name": "nfs-extra", "server": "nfs.lab",
                                                      "path": "/extra"}, env=env)
    assert not mount.failed, mount.output
    assert mount.result["datastore"]["skipped_hosts"] == ["big-00.lab"]
    assert "big-00.lab" not in mount.result["datastore"]["mounted_on"]
    assert len(mount.result["datastore"]["mounted_on"]) == BIG - 1


def test_cluster_module_does_not_run_out_of_its_datacenter(private_vcenter):
    run = run_module("vcenter_cluster", {"cluster": "Big", "datacenter": "DC2"}, env=clean_env(**private_vcenter))
    assert run.failed
    assert run.msg == "Cluster Big not found in datacenter DC2; it has: DC2/Small."


def test_a_cluster_made_through_the_api_is_managed_then_destroyed_with_its_datacenter(private_vcenter):
    """The simulator destroys clusters and datacenters with their contents, so a test leaves none behind."""
    env = clean_env(**private_vcenter)
    session = VSphere(private_vcenter)
    try:
        datacenter = session.content.rootFolder.CreateDatacenter("DC-made")
        try:
            made = datacenter.hostFolder.CreateClusterEx("Made", vim.cluster.ConfigSpecEx())
            WaitForTask(made.AddHost_Task(vim.host.ConnectSpec(hostName="made-1.lab"), True))
            run = run_module("vcenter_cluster", {"cluster": "Made", "drs": {"enabled": True}}, env=env)
            assert not run.failed, run.output
            assert [item["name"] for item in run.result["cluster"]["hosts"]] == ["made-1.lab"]
            WaitForTask(made.Destroy_Task())
            gone = run_module("vcenter_cluster", {"cluster": "Made"}, env=env)
            assert gone.msg == "Cluster Made not found in this vCenter; it has: DC1/Big, DC1/Small, DC2/Small."
            assert not [host for host in session.all(vim.HostSystem) if host.name == "made-1.lab"]
            datacenter.hostFolder.CreateClusterEx("Made-again", vim.cluster.ConfigSpecEx())
        finally:
            WaitForTask(datacenter.Destroy_Task())
        inventory = run_module("vcenter_inventory_info", {"datacenter": "DC-made"}, env=env)
        assert inventory.msg == "Datacenter DC-made not found; this vCenter has: DC1, DC2."
        assert not [item for item in session.all(vim.ClusterComputeResource) if item.name.startswith("Made")]
    finally:
        session.close()


def test_module_process_never_sees_the_password_in_its_output(private_vcenter):
    run = run_module("vcenter_cluster", {"cluster": "Small", "datacenter": "DC1"}, env=clean_env(**private_vcenter))
    assert not run.failed, run.output
    assert private_vcenter["VMWARE_PASSWORD"] not in run.output
    assert os.environ.get("VMWARE_PASSWORD") != private_vcenter["VMWARE_PASSWORD"]
