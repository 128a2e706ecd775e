"""An instance booted from a vmdk image onto a vSphere hypervisor of the lab, then stopped and deleted.

nova's VMware driver uploads the image to an ESXi host of the datastore, by the host's name,
on vCenter's port. The lab's hosts are named esx-*.lab.local, which nothing resolves, so this
test runs a private instance of the lab's simulator whose one cluster has one host named
``localhost`` (the lab's certificate is valid for it), with a vCenter instanceUuid of its own
(every 0.24 simulator announces the same one, and nova would see its cluster as the lab's
Cluster-A). The proxy is provisioned by the role, like the lab's.
"""

import json
import os
import shutil
import ssl
import subprocess
import time

import pytest
from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim

from helpers.cloud import Cloud, openstack_cli
from helpers.lab import ROOT, VENV_BIN, clean_env
from helpers.vsphere import private_nova_vcenter

HOST = "vmware-proxy-spawn"
INSTANCE_UUID = "5b0e7a3c-1d2f-4e5a-9b8c-7d6e5f4a3b2c"
INVENTORY = {"datacenters": [{
    "name": "DC1",
    "clusters": [{"name": "Cluster-S", "drs_enabled": True, "hosts": [
        {"name": "localhost", "memory_mb": 65536, "memory_used_mb": 4096, "cpu_cores": 8, "cpu_mhz": 2400,
         "cpu_used_mhz": 800}]}],
    "networks": [{"name": "VM Network"}],
    "datastores": [{"name": "nfs-s", "type": "nfs", "capacity_gb": 512, "free_gb": 400, "clusters": ["Cluster-S"]}],
}]}


@pytest.fixture(scope="module")
def private_vcenter(lab, tmp_path_factory):
    """The lab's simulator program, serving the one-host inventory on a port of its own."""
    work = tmp_path_factory.mktemp("spawn-vcenter")
    with private_nova_vcenter(lab, work, INVENTORY, "spawn-secret", INSTANCE_UUID) as port:
        yield {"port": port, "password": "spawn-secret", "work": work, "ca": str(lab["state"] / "pki" / "ca.pem")}


@pytest.fixture(scope="module")
def spawn_proxy(lab, private_vcenter):
    """A proxy of Cluster-S, provisioned by the role; removed at the end with everything booted on it."""
    subprocess.run([str(VENV_BIN / "python"), str(ROOT / "tests" / "lab" / "lab"), "proxy-vars"], check=True,
                   capture_output=True, env={**os.environ, "LAB_DIR": str(lab["state"])})
    variables = json.loads((lab["state"] / "proxies" / "proxy-vars.yml").read_text().split("\n", 1)[1])
    variables["proxy_compute_node_vmware"].update(host_port=private_vcenter["port"], host_password=private_vcenter["password"])
    variables["proxy_compute_node_api_vcenter"].update(port=private_vcenter["port"], password=private_vcenter["password"])
    work = private_vcenter["work"]
    (work / "vars.yml").write_text(json.dumps(variables))
    (work / "vars.yml").chmod(0o600)
    (work / "inventory.yml").write_text(json.dumps({"all": {"children": {"vmware_proxies": {"hosts": {HOST: {
        "proxy_compute_node_cluster": "Cluster-S", "ansible_connection": "local",
        "ansible_python_interpreter": str(VENV_BIN / "python")}}}}}}))
    env = clean_env(**lab["env"])
    cloud = Cloud(lab["env"])
    try:
        completed = subprocess.run(
            [str(VENV_BIN / "ansible-playbook"), "-i", str(work / "inventory.yml"), "-e", "@%s" % (work / "vars.yml"),
             str(ROOT / "playbooks" / "proxy_compute.yml")], env=env, capture_output=True, text=True, timeout=900,
            check=False)
        assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-2000:]
        yield {"env": env, "cloud": cloud, "work": work}
    finally:
        openstack = [str(lab["state"] / "venv" / "bin" / "openstack")]
        for command in (["server", "delete", "--wait", "spawn-test"], ["image", "delete", "spawn-vmdk"],
                        ["flavor", "delete", "spawn.tiny"]):
            subprocess.run(openstack + command, env=env, capture_output=True, check=False, timeout=300)
        supervisor = lab["state"] / "proxies" / HOST
        subprocess.run([str(supervisor / "supervisor-venv" / "bin" / "supervisorctl"), "--configuration",
                        str(supervisor / "supervisor" / "supervisord.conf"), "shutdown"], capture_output=True, check=False)
        time.sleep(3)
        log = supervisor / "supervisor" / "nova-compute.log"
        if log.exists():  # kept for a failure's diagnosis; the proxy's directory goes
            shutil.copy(log, work / "nova-compute.log")
        service = cloud.services().get(HOST)
        if service:
            cloud.delete_service(service)
        shutil.rmtree(supervisor, ignore_errors=True)


def vcenter_vms(private_vcenter):
    """The private vCenter's VMs, read with pyVmomi, independently of nova."""
    context = ssl.create_default_context(cafile=private_vcenter["ca"])
    si = SmartConnect(host="127.0.0.1", port=private_vcenter["port"], user="administrator@vsphere.local",
                      pwd=private_vcenter["password"], sslContext=context)
    try:
        content = si.RetrieveContent()
        view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
        return [{"name": vm.name, "power": str(vm.runtime.powerState), "instance_uuid": vm.config.instanceUuid,
                 "managed_by": vm.config.managedBy.extensionKey if vm.config.managedBy else None,
                 "memory_mb": vm.config.hardware.memoryMB, "host": vm.runtime.host.name,
                 "disks": [d.backing.fileName for d in vm.config.hardware.device if isinstance(d, vim.vm.device.VirtualDisk)]}
                for vm in view.view]
    finally:
        Disconnect(si)


def test_a_vmdk_image_boots_on_the_vsphere_hypervisor_then_stops_and_is_deleted(
        lab, private_vcenter, spawn_proxy, tmp_path):
    image = tmp_path / "image.vmdk"
    subprocess.run(["qemu-img", "create", "-f", "vmdk", "-o", "subformat=monolithicSparse", str(image), "64M"],
                   check=True, capture_output=True)
    openstack_cli(lab, "image", "create", "--disk-format", "vmdk", "--container-format", "bare", "--file", str(image),
                  "--property", "vmware_disktype=sparse", "--property", "vmware_adaptertype=lsiLogic",
                  "--property", "hypervisor_type=vmware", "spawn-vmdk")
    openstack_cli(lab, "flavor", "create", "--vcpus", "1", "--ram", "256", "--disk", "1", "spawn.tiny")
    server = openstack_cli(lab, "server", "create", "--image", "spawn-vmdk", "--flavor", "spawn.tiny", "--nic", "none",
                           "--host", HOST, "--wait", "spawn-test", microversion="2.74")
    assert server["status"] == "ACTIVE", server.get("fault")
    assert server["OS-EXT-SRV-ATTR:host"] == HOST and server["OS-EXT-STS:power_state"] in (1, "Running")

    (vm,) = vcenter_vms(private_vcenter)
    assert vm["instance_uuid"] == server["id"] and vm["power"] == "poweredOn"
    assert vm["managed_by"] == "org.openstack.compute" and vm["memory_mb"] == 256 and vm["host"] == "localhost"
    assert vm["disks"] == ["[nfs-s] %s/%s.vmdk" % (server["id"], server["id"])]

    subprocess.run([str(lab["state"] / "venv" / "bin" / "openstack"), "server", "stop", "spawn-test"],
                   env=spawn_proxy["env"], check=True, capture_output=True, timeout=120)
    deadline = time.monotonic() + 120
    while openstack_cli(lab, "server", "show", "spawn-test")["status"] != "SHUTOFF":
        assert time.monotonic() < deadline, "the instance did not stop"
        time.sleep(1)
    assert vcenter_vms(private_vcenter)[0]["power"] == "poweredOff"

    subprocess.run([str(lab["state"] / "venv" / "bin" / "openstack"), "server", "delete", "--wait", "spawn-test"],
                   env=spawn_proxy["env"], check=True, capture_output=True, timeout=300)
    assert vcenter_vms(private_vcenter) == []
