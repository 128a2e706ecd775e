"""An instance booted from a vmdk image onto a vSphere hypervisor of the lab, then stopped and deleted.

nova's VMware driver uploads the image to an ESXi host of the datastore, by the host's name,
on vCenter's port. The lab's hosts are named esx-*.lab.local, which nothing resolves, so this
test runs a private instance of the lab's simulator whose one cluster has one host named
``localhost`` (the lab's certificate is valid for it), with a vCenter instanceUuid of its own
(every 0.24 simulator announces the same one, and nova would see its cluster as the lab's
Cluster-A). The proxy is provisioned by the role, like the lab's.
"""

import ssl
import subprocess
import time

import pytest
from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim

from helpers.cloud import openstack_cli, vsphere_proxy

HOST = "vmware-proxy-spawn"
INSTANCE_UUID = "5b0e7a3c-1d2f-4e5a-9b8c-7d6e5f4a3b2c"


@pytest.fixture(scope="module")
def spawn_proxy(lab, tmp_path_factory):
    """A proxy of a private one-host vCenter, provisioned by the role; removed at the end with everything booted
    on it, and the test's image and flavor."""
    work = tmp_path_factory.mktemp("spawn-vcenter")
    with vsphere_proxy(lab, work, HOST, "spawn-secret", INSTANCE_UUID) as proxy:
        try:
            yield proxy
        finally:
            openstack = [str(lab["state"] / "venv" / "bin" / "openstack")]
            for command in (["image", "delete", "spawn-vmdk"], ["flavor", "delete", "spawn.tiny"]):
                subprocess.run(openstack + command, env=proxy["env"], capture_output=True, check=False, timeout=300)


def vcenter_vms(proxy):
    """The private vCenter's VMs, read with pyVmomi, independently of nova."""
    context = ssl.create_default_context(cafile=proxy["ca"])
    si = SmartConnect(host="127.0.0.1", port=proxy["port"], user="administrator@vsphere.local",
                      pwd=proxy["password"], sslContext=context)
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


def test_a_vmdk_image_boots_on_the_vsphere_hypervisor_then_stops_and_is_deleted(lab, spawn_proxy, tmp_path):
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

    (vm,) = vcenter_vms(spawn_proxy)
    assert vm["instance_uuid"] == server["id"] and vm["power"] == "poweredOn"
    assert vm["managed_by"] == "org.openstack.compute" and vm["memory_mb"] == 256 and vm["host"] == "localhost"
    assert vm["disks"] == ["[nfs-s] %s/%s.vmdk" % (server["id"], server["id"])]

    subprocess.run([str(lab["state"] / "venv" / "bin" / "openstack"), "server", "stop", "spawn-test"],
                   env=spawn_proxy["env"], check=True, capture_output=True, timeout=120)
    deadline = time.monotonic() + 120
    while openstack_cli(lab, "server", "show", "spawn-test")["status"] != "SHUTOFF":
        assert time.monotonic() < deadline, "the instance did not stop"
        time.sleep(1)
    assert vcenter_vms(spawn_proxy)[0]["power"] == "poweredOff"

    subprocess.run([str(lab["state"] / "venv" / "bin" / "openstack"), "server", "delete", "--wait", "spawn-test"],
                   env=spawn_proxy["env"], check=True, capture_output=True, timeout=300)
    assert vcenter_vms(spawn_proxy) == []
