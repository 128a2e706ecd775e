"""The tests' own view of the lab's nova and placement (openstacksdk as the lab's admin, raw REST at pinned
microversions), the lab's guest on a server's console, the lab's real ``openstack`` CLI, and the clean-up of the
proxies the tests start."""

from __future__ import annotations

import contextlib
import functools
import json
import os
import shutil
import subprocess
import sys
import time

import openstack.config
import openstack.connection

from helpers.lab import ROOT, VENV_BIN, LabEnv, clean_env
from helpers.vsphere import private_nova_vcenter

sys.path.insert(0, str(ROOT / "tests" / "lab"))
from minilab import guest_image as lab_guest  # noqa: E402  pylint: disable=wrong-import-position
from minilab import proxies as lab_proxies  # noqa: E402  pylint: disable=wrong-import-position
from minilab.config import LabConfig  # noqa: E402  pylint: disable=wrong-import-position

# The aggregate (and zone) the proxy tests put their proxies in; remove_proxies deletes it.
PROXY_AGGREGATE = "vmware-proxies"
# The tests' glance copy of the lab's guest image: this prefix and the image's data token, so a rebuilt image
# (new inputs, new token) gets a copy of its own.
GUEST_IMAGE = "test-lab-guest-"


@functools.cache
def guest_manifest():
    """The lab's guest image's manifest, read once a session (the builder checks its inputs, or builds, in seconds)."""
    return lab_guest.image()


class Cloud:
    """Nova and placement as the cloud of ``env`` (OS_CLIENT_CONFIG_FILE, OS_CLOUD) sees them."""

    def __init__(self, env):
        config = openstack.config.OpenStackConfig(config_files=[env["OS_CLIENT_CONFIG_FILE"]])
        self.conn = openstack.connection.Connection(config=config.get_one(cloud=env["OS_CLOUD"]))

    def call(self, method, path, body=None, microversion="2.53"):
        """One nova request; its JSON answer (None when it has no body). An error status raises."""
        response = self.conn.compute.request(path, method, json=body, microversion=microversion, raise_exc=True)
        return response.json() if response.content else None

    def listing(self, path, key, microversion="2.53"):
        """Every item of a nova listing, following its next links: the lab may page at a low [api] max_limit."""
        items = []
        while path:
            body = self.call("GET", path, microversion=microversion)
            items += body[key]
            path = next((link["href"] for link in body.get(key + "_links", ()) if link["rel"] == "next"), None)
        return items

    def services(self):
        """The nova-compute services by host."""
        return {s["host"]: s for s in self.call("GET", "/os-services?binary=nova-compute")["services"]}

    def hypervisors(self):
        return self.listing("/os-hypervisors/detail", "hypervisors")

    def delete_service(self, service):
        """Delete a stopped compute service, its compute nodes and host mapping.

        nova 34 answers 500 (ValueError: No such provider) when a compute node of the service
        has no resource provider, as with a second proxy of a cluster, whose provider placement
        refused: a placeholder provider of that UUID lets nova delete it.
        """
        for hypervisor in self.hypervisors():
            if (hypervisor.get("service") or {}).get("host") != service["host"]:
                continue
            if self.conn.placement.get("/resource_providers/%s" % hypervisor["id"],
                                       microversion="1.14").status_code == 404:
                self.conn.placement.post("/resource_providers", microversion="1.14", json={
                    "uuid": hypervisor["id"], "name": "orphan-" + hypervisor["id"]}).raise_for_status()
        self.call("DELETE", "/os-services/%s" % service["id"])

    def guest_image(self):
        """The glance id of the lab's guest image (tests/lab/guest, built or taken from its cache), uploaded as
        qcow2 if glance lacks it; with the manifest, whose ``data`` the guest prints. Older copies are deleted."""
        manifest = guest_manifest()
        name = GUEST_IMAGE + manifest["data"].rsplit(" ", 1)[-1]
        found = None
        for image in self.conn.image.images():
            if image.name == name:
                found = image
            elif image.name.startswith(GUEST_IMAGE):
                self.conn.image.delete_image(image)
        if found is None:
            found = self.conn.create_image(name, filename=manifest["qcow2"], disk_format="qcow2",
                                           container_format="bare", wait=True)
        return found.id, manifest

    def console(self, server_id, timeout=300):
        """What the lab's guest printed in its last boot on the server's serial console, as nova reads it
        (os-getConsoleOutput), once that boot's lines are complete (``minilab.guest_image.Console``)."""
        deadline = time.monotonic() + timeout
        text = ""
        while time.monotonic() < deadline:
            text = self.call("POST", "/servers/%s/action" % server_id, {"os-getConsoleOutput": {}})["output"]
            console = lab_guest.parse_console(text)
            if console.complete:
                return console
            time.sleep(1)
        raise AssertionError("server %s: no complete boot on its console in %s s; its end:\n%s"
                             % (server_id, timeout, text[-2000:]))

    def delete_aggregate(self, name):
        for aggregate in self.call("GET", "/os-aggregates")["aggregates"]:
            if aggregate["name"] == name:
                for host in aggregate["hosts"]:
                    self.call("POST", "/os-aggregates/%s/action" % aggregate["id"], {"remove_host": {"host": host}})
                self.call("DELETE", "/os-aggregates/%s" % aggregate["id"])


def openstack_cli(lab, *args, microversion="2.53"):
    """The real `openstack` client of the lab's venv, by default at the microversion that still shows capacity."""
    command = [str(lab["state"] / "venv" / "bin" / "openstack"), "--os-compute-api-version", microversion, *args, "-f", "json"]
    completed = subprocess.run(command, env=clean_env(**lab["env"]), capture_output=True, text=True, check=False,
                               timeout=600)
    assert completed.returncode == 0, "%s: %s" % (" ".join(command[1:]), completed.stderr[-2000:])
    return json.loads(completed.stdout)


def stop_proxies(lab, hosts=None):
    """Stop the supervisord of every proxy of the lab, or of HOSTS (each stops its nova-compute first), and wait
    until they are gone."""
    lab_proxies.stop(LabConfig(state=lab["state"]), hosts=hosts)


def remove_proxies(lab, cloud, hosts):
    """Stop every proxy of the lab, delete their services and PROXY_AGGREGATE, remove their state."""
    stop_proxies(lab)
    services = cloud.services()
    for host in hosts:
        if host in services:
            cloud.delete_service(services[host])
    cloud.delete_aggregate(PROXY_AGGREGATE)
    for host in hosts:
        shutil.rmtree(lab["state"] / "proxies" / host, ignore_errors=True)


# One cluster of one host named ``localhost`` (the lab's certificate is valid for it): nova's VMware driver uploads
# an image to an ESXi host of the datastore by the host's name, and the lab's esx-*.lab.local resolve nowhere.
ONE_HOST_VCENTER = {"datacenters": [{
    "name": "DC1",
    "clusters": [{"name": "Cluster-S", "drs_enabled": True, "hosts": [
        {"name": "localhost", "memory_mb": 65536, "memory_used_mb": 4096, "cpu_cores": 8, "cpu_mhz": 2400,
         "cpu_used_mhz": 800}]}],
    "networks": [{"name": "VM Network"}],
    "datastores": [{"name": "nfs-s", "type": "nfs", "capacity_gb": 512, "free_gb": 400, "clusters": ["Cluster-S"]}],
}]}


@contextlib.contextmanager
def vsphere_proxy(lab, work, host, password, instance_uuid):
    """A proxy ``host`` that boots instances on a vSphere hypervisor: a private simulator of ONE_HOST_VCENTER (the
    lab's program, a vCenter instanceUuid of its own, or nova takes its cluster for the lab's Cluster-A) and the
    proxy of its Cluster-S, provisioned by the role as the lab's are. Yields ``port``, ``password``, ``ca``,
    ``work``, ``host``, ``env`` (the lab's, for the openstack CLI) and ``vcenter`` (the private vCenter's VMWARE_*
    and SSL_CERT_FILE, for ``helpers.vsphere.VSphere``); at the end the servers still on it are
    deleted, the proxy stopped and its compute service deleted (its nova-compute log kept in ``work``)."""
    with private_nova_vcenter(lab, work, ONE_HOST_VCENTER, password, instance_uuid) as port:
        subprocess.run([str(VENV_BIN / "python"), str(ROOT / "tests" / "lab" / "lab"), "proxy-vars"], check=True,
                       capture_output=True, env={**os.environ, "LAB_DIR": str(lab["state"])})
        variables = json.loads((lab["state"] / "proxies" / "proxy-vars.yml").read_text().split("\n", 1)[1])
        variables["proxy_compute_node_vmware"].update(host_port=port, host_password=password)
        variables["proxy_compute_node_api_vcenter"].update(port=port, password=password)
        (work / "vars.yml").write_text(json.dumps(variables))
        (work / "vars.yml").chmod(0o600)
        (work / "inventory.yml").write_text(json.dumps({"all": {"children": {"vmware_proxies": {"hosts": {host: {
            "proxy_compute_node_cluster": "Cluster-S", "ansible_connection": "local",
            "ansible_python_interpreter": str(VENV_BIN / "python")}}}}}}))
        env = clean_env(**lab["env"])
        cloud = Cloud(lab["env"])
        try:
            completed = subprocess.run(
                [str(VENV_BIN / "ansible-playbook"), "-i", str(work / "inventory.yml"),
                 "-e", "@%s" % (work / "vars.yml"), str(ROOT / "playbooks" / "proxy_compute.yml")],
                env=env, capture_output=True, text=True, timeout=900, check=False)
            assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-2000:]
            ca = str(lab["state"] / "pki" / "ca.pem")
            vcenter = LabEnv(VMWARE_HOST="127.0.0.1", VMWARE_PORT=str(port), VMWARE_USER="administrator@vsphere.local",
                             VMWARE_PASSWORD=password, SSL_CERT_FILE=ca)
            yield {"port": port, "password": password, "ca": ca, "work": work, "host": host, "env": env,
                   "vcenter": vcenter}
        finally:
            for server in cloud.listing("/servers/detail?all_tenants=1&host=%s" % host, "servers"):
                cloud.call("DELETE", "/servers/%s" % server["id"])
            deadline = time.monotonic() + 300
            while cloud.listing("/servers?all_tenants=1&host=%s" % host, "servers") and time.monotonic() < deadline:
                time.sleep(1)
            supervisor = lab["state"] / "proxies" / host
            stop_proxies(lab, [host])
            log = supervisor / "supervisor" / "nova-compute.log"
            if log.exists():  # kept for a failure's diagnosis; the proxy's directory goes
                shutil.copy(log, work / "nova-compute.log")
            service = cloud.services().get(host)
            if service:
                cloud.delete_service(service)
            shutil.rmtree(supervisor, ignore_errors=True)
