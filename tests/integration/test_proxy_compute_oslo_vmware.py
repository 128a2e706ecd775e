"""nova's VMware driver code and oslo.vmware (suds) against the lab's simulator, without a nova-compute.

Run in the lab's OpenStack venv, the way a proxy's nova-compute runs them: suds builds its
client from the WSDL the simulator serves, and must parse every property of every object of
the inventory (suds refuses any element its WSDL does not know); then nova's own functions
find the cluster, count its capacity, pick its datastore and register nova's extension.
"""

import json
import subprocess

import pytest

from helpers.lab import clean_env

SCRIPT = r'''
import json, os, re, sys
import nova.conf

CONF = nova.conf.CONF
CONF([], project="nova")
for name, value in (("host_ip", os.environ["VMWARE_HOST"]), ("host_port", int(os.environ["VMWARE_PORT"])),
                    ("host_username", os.environ["VMWARE_USER"]), ("host_password", os.environ["VMWARE_PASSWORD"]),
                    ("ca_file", os.environ["LAB_CA"]), ("api_retry_count", 1)):
    CONF.set_override(name, value, "vmware")
# Only now: the session takes its defaults from CONF when its module is imported, as in nova-compute.
from nova.virt.vmwareapi import ds_util, session, vm_util  # noqa: E402
from oslo_vmware import vim_util  # noqa: E402

s = session.VMwareAPISession()
vim = s.vim
content, factory = vim.service_content, vim.client.factory
result = {"about": {"version": content.about.version, "instanceUuid": content.about.instanceUuid}, "types": {}}

# Every property of every object, through suds: one ContainerView and one collector call per type.
for kind in ("Folder", "Datacenter", "ClusterComputeResource", "ComputeResource", "HostSystem", "Datastore",
             "Network", "DistributedVirtualPortgroup", "ResourcePool", "VirtualMachine"):
    view = vim.CreateContainerView(content.viewManager, container=content.rootFolder, type=[kind], recursive=True)
    prop = factory.create("ns0:PropertySpec"); prop.type = kind; prop.all = True
    obj = factory.create("ns0:ObjectSpec"); obj.obj = view; obj.skip = True
    obj.selectSet = [vim_util.build_traversal_spec(factory, "view", "ContainerView", "view", False, None)]
    spec = factory.create("ns0:PropertyFilterSpec"); spec.propSet = [prop]; spec.objectSet = [obj]
    found = s.invoke_api(vim, "RetrievePropertiesEx", content.propertyCollector, specSet=[spec],
                         options=factory.create("ns0:RetrieveOptions"))
    result["types"][kind] = len(found.objects) if found else 0
    vim.DestroyView(view)

cluster = vm_util.get_cluster_ref_by_name(s, "Cluster-A")
result["cluster"] = vim_util.get_moref_value(cluster)
result["stats"] = vm_util.get_stats_from_cluster(s, cluster)
result["datastore"] = ds_util.get_datastore(s, cluster, re.compile("^nfs-a$")).name
if s._call_method(vim_util, "find_extension", "org.openstack.compute") is None:
    s._call_method(vim_util, "register_extension", "org.openstack.compute", "instance")
result["extension"] = s._call_method(vim_util, "find_extension", "org.openstack.compute").key
print(json.dumps(result))
'''


@pytest.fixture(scope="module")
def driver_reads(lab):
    python = lab["state"] / "venv" / "bin" / "python"
    if not python.exists():
        pytest.skip("the lab has no OpenStack venv")
    env = clean_env(**{k: v for k, v in lab["env"].items() if k.startswith("VMWARE_")},
                    LAB_CA=str(lab["state"] / "pki" / "ca.pem"))
    completed = subprocess.run([str(python), "-c", SCRIPT], env=env, capture_output=True, text=True, timeout=300,
                               check=False)
    assert completed.returncode == 0, completed.stderr[-4000:]
    return json.loads(completed.stdout.strip().splitlines()[-1])


def test_suds_parses_every_property_of_every_object(driver_reads):
    counts = driver_reads["types"]
    assert counts["ClusterComputeResource"] == 2 and counts["HostSystem"] == 7 and counts["VirtualMachine"] == 2
    assert counts["Datastore"] >= 9 and counts["Folder"] >= 4
    assert driver_reads["about"]["version"] == "6.5.0"


def test_nova_finds_the_cluster_and_counts_it_as_placement_will(driver_reads):
    assert driver_reads["cluster"].startswith(("domain-c", "clustercomputeresource-"))
    stats = driver_reads["stats"]
    assert stats["mem"]["total"] == (64 + 128 + 96) * 1024
    assert stats["mem"]["max_mem_mb_per_host"] == 128 * 1024
    assert stats["mem"]["free"] == (64 + 128 + 96 - 24 - 40 - 16) * 1024
    assert driver_reads["datastore"] == "nfs-a"


def test_nova_registers_its_extension(driver_reads):
    assert driver_reads["extension"] == "org.openstack.compute"
