"""The tests' own view of the lab's vCenter (pyVmomi), to set up state and read it back independently
of the modules; and private instances of the lab's simulator for inventories of a test's own."""

from __future__ import annotations

import contextlib
import json
import socket
import ssl
import subprocess
from pathlib import Path

from pyVim.connect import Disconnect, SmartConnect
from pyVim.task import WaitForTask
from pyVmomi import vim

from helpers.lab import LabEnv

LAB_CLUSTERS = ("Cluster-A", "Cluster-B")


def lab_vcenter(lab):
    """The lab's VMWARE_* variables and SSL_CERT_FILE, the password masked wherever pytest prints them."""
    return LabEnv((k, v) for k, v in lab["env"].items() if k.startswith("VMWARE_") or k == "SSL_CERT_FILE")


class VSphere:
    """The test's own view of vCenter, to set up state and read it back independently of the modules."""

    def __init__(self, env):
        context = ssl.create_default_context(cafile=env["SSL_CERT_FILE"])
        self.si = SmartConnect(host=env["VMWARE_HOST"], port=int(env["VMWARE_PORT"]), user=env["VMWARE_USER"],
                               pwd=env["VMWARE_PASSWORD"], sslContext=context)
        self.content = self.si.RetrieveContent()

    def close(self):
        Disconnect(self.si)

    def all(self, vimtype):
        view = self.content.viewManager.CreateContainerView(self.content.rootFolder, [vimtype], True)
        try:
            return list(view.view)
        finally:
            view.Destroy()

    def find(self, vimtype, name):
        return next(obj for obj in self.all(vimtype) if obj.name == name)

    def cluster_settings(self, name):
        config = self.find(vim.ClusterComputeResource, name).configurationEx
        drs, das = config.drsConfig, config.dasConfig
        return {"drs": {"enabled": drs.enabled, "defaultVmBehavior": drs.defaultVmBehavior, "vmotionRate": drs.vmotionRate},
                "das": {"enabled": das.enabled, "hostMonitoring": das.hostMonitoring,
                        "admissionControlEnabled": das.admissionControlEnabled}}

    def set_cluster(self, name, settings):
        spec = vim.cluster.ConfigSpecEx(drsConfig=vim.cluster.DrsConfigInfo(**settings["drs"]),
                                        dasConfig=vim.cluster.DasConfigInfo(**settings["das"]))
        WaitForTask(self.find(vim.ClusterComputeResource, name).ReconfigureComputeResource_Task(spec, True))

    def hosts(self, cluster):
        return sorted(self.find(vim.ClusterComputeResource, cluster).host, key=lambda host: host.name)

    def rulesets(self, cluster, key):
        """Host name -> whether ruleset ``key`` is enabled (None where the host does not define it)."""
        return {host.name: next((rs.enabled for rs in host.config.firewall.ruleset if rs.key == key), None)
                for host in self.hosts(cluster)}

    def portgroups(self, cluster, name):
        """Host name -> (vlan, switch) of standard port group ``name`` (None where absent)."""
        return {host.name: next(((pg.spec.vlanId, pg.spec.vswitchName) for pg in host.config.network.portgroup
                                 if pg.spec.name == name), None) for host in self.hosts(cluster)}

    def mounts(self, cluster, datastore):
        return sorted(host.name for host in self.hosts(cluster) if any(ds.name == datastore for ds in host.datastore))


def lab_state(vsphere):
    """Everything the vcenter_prepare role may change, read back independently of the modules."""
    dvpg = next((pg for pg in vsphere.all(vim.dvs.DistributedVirtualPortgroup) if pg.name == "br100"), None)
    return {
        "settings": {name: vsphere.cluster_settings(name) for name in LAB_CLUSTERS},
        "vnc": {**vsphere.rulesets("Cluster-A", "vnc"), **vsphere.rulesets("Cluster-B", "vnc")},
        "br100": vsphere.portgroups("Cluster-B", "br100"),
        "dvpg": None if dvpg is None else (dvpg.config.type, dvpg.config.defaultPortConfig.vlan.vlanId),
        "nfs-nova": vsphere.mounts("Cluster-B", "nfs-nova"),
    }


@contextlib.contextmanager
def private_nova_vcenter(lab, workdir: Path, inventory: dict, password: str, instance_uuid: str):
    """A private simulator nova's VMware driver can drive: the lab's WSDL served, and an instanceUuid of its own
    (every 0.24 simulator announces the same one, so nova would take its clusters for the lab's). Yields the port."""
    wsdl = lab["state"] / "bin" / "vimService-6.5.wsdl"
    if not (lab["state"] / "bin" / "vcsim").exists() or not wsdl.exists():
        raise FileNotFoundError("the lab's simulator or its WSDL is not built (%s)" % wsdl.parent)
    with private_simulator(lab, workdir, inventory, password, "--wsdl", str(wsdl), "--instance-uuid", instance_uuid) as port:
        yield port


@contextlib.contextmanager
def private_simulator(lab, workdir: Path, inventory: dict, password: str, *options: str):
    """The lab's simulator program serving inventory on a free port of its own, with the lab's
    certificate; yields the port. options go to the program as they are (e.g. --wsdl)."""
    (workdir / "inventory.json").write_text(json.dumps(inventory))
    password_file = workdir / "password"
    password_file.write_text(password)
    password_file.chmod(0o600)
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    state = lab["state"]
    with open(workdir / "vcsim.log", "wb") as log:
        process = subprocess.Popen(
            [str(state / "bin" / "vcsim"), "--listen", "127.0.0.1:%d" % port, "--username", "administrator@vsphere.local",
             "--password-file", str(password_file), "--cert", str(state / "pki" / "vcenter.crt"),
             "--key", str(state / "pki" / "vcenter.key"), "--inventory", str(workdir / "inventory.json"),
             "--state-dir", str(workdir / "state"), *options],
            stdout=subprocess.PIPE, stderr=log, start_new_session=True)
    try:
        assert process.stdout.readline().startswith(b"VCSIM READY"), (workdir / "vcsim.log").read_text()
        yield port
    finally:
        process.terminate()
        process.wait(timeout=30)
        process.stdout.close()
