"""The capacity scenarios of seed 001 (issue 14) in the lab: a private vCenter of heterogeneous clusters with real
nova-compute proxies, the lab's real KVM hosts, its real nova-scheduler and placement; what the capacity tests
(tests/integration/test_capacity_scheduling.py) and the benchmark (tests/bench/bench_capacity.py) share.

Why a private simulator: the lab's own vCenter serves the default inventory (hosts of 64-128 GiB, where every
flavor fits), and the other tests rely on it. This one is the lab's simulator program serving
``tests/lab/vcsim/inventories/capacity.json`` (Cluster-A: hosts of 32/24/16 GiB with 6 GiB free each, HA on;
Cluster-B: 64/32/16 GiB with 52/28/14 GiB free) on a port of its own, with a vCenter instanceUuid of its own, so
its clusters are nodes of their own in nova (``<moid>.<uuid>``) beside whatever the lab's proxies drive. So the
tests need no LAB_VCSIM_INVENTORY: ``make test`` runs them on the default lab.

The proxies are provisioned by ``playbooks/proxy_compute.yml`` (the proxy_compute_node role), as in
test_proxy_compute_spawn.py; the images are streamOptimized VMDKs, which nova's VMware driver imports through
vCenter's own address (a sparse VMDK would be uploaded to an ESXi host by its name, which does not resolve).
"""

from __future__ import annotations

import json
import os
import re
import shutil
import ssl
import subprocess
import time
from pathlib import Path

from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim

from helpers.cloud import Cloud, stop_proxies
from helpers.lab import ROOT, VENV_BIN, clean_env
from helpers.playbook import run_module
from helpers.vsphere import private_nova_vcenter

INVENTORY = ROOT / "tests" / "lab" / "vcsim" / "inventories" / "capacity.json"
# The private vCenter's about.instanceUuid (the lab's is govmomi's fixed one).
INSTANCE_UUID = "1e14ca9a-c0de-4a11-9e14-5eed00100001"
VCENTER_USER = "administrator@vsphere.local"
PROXIES = {"vmware-proxy-cap-a": "Cluster-A", "vmware-proxy-cap-b": "Cluster-B"}
FEED_AGGREGATE = "vsphere-capacity-"
KVM_HOSTS = ("kvm-compute-1", "kvm-compute-2")

FILTER = "nova_vsphere_capacity.filters.VsphereHostFitFilter"
WEIGHER = "nova_vsphere_capacity.weights.RealFreeRAMWeigher"
PACKAGE = "nova_vsphere_capacity"
ROLE_PLAY = """
- hosts: localhost
  gather_facts: false
  roles:
    - role: nova_vsphere.mixed_cloud.capacity_scheduling
"""


def capacity_inventory() -> dict:
    return json.loads(INVENTORY.read_text())


class CapacityVCenter:
    """The private simulator: its port, the vcenter option of the collection's modules, a pyVmomi view."""

    def __init__(self, lab, port, password):
        self.lab, self.port, self.password = lab, port, password
        self.ca = str(lab["state"] / "pki" / "ca.pem")

    def option(self):
        """The modules' ``vcenter`` option for this vCenter."""
        return {"hostname": "127.0.0.1", "port": self.port, "username": VCENTER_USER, "password": self.password,
                "validate_certs": True}

    def read(self):
        """Every host's free memory (vCenter's own figures) and every VM, read with pyVmomi, apart from nova."""
        context = ssl.create_default_context(cafile=self.ca)
        si = SmartConnect(host="127.0.0.1", port=self.port, user=VCENTER_USER, pwd=self.password, sslContext=context)
        try:
            content = si.RetrieveContent()
            hosts, vms = {}, []
            view = content.viewManager.CreateContainerView(content.rootFolder, [vim.ClusterComputeResource], True)
            for cluster in view.view:
                for host in cluster.host:
                    size = host.summary.hardware.memorySize // (1024 * 1024)
                    hosts[host.name] = {"cluster": cluster.name, "size_mb": size,
                                        "free_mb": size - host.summary.quickStats.overallMemoryUsage}
            view.Destroy()
            view = content.viewManager.CreateContainerView(content.rootFolder, [vim.VirtualMachine], True)
            for vm in view.view:
                vms.append({"name": vm.name, "uuid": vm.config.instanceUuid, "power": str(vm.runtime.powerState),
                            "host": vm.runtime.host.name if vm.runtime.host else None,
                            "memory_mb": vm.config.hardware.memoryMB})
            view.Destroy()
            return {"hosts": hosts, "vms": vms}
        finally:
            Disconnect(si)


class private_capacity_vcenter:  # noqa: N801  (a context manager used like a function)
    """``with private_capacity_vcenter(lab, workdir) as vcenter``: the capacity inventory on a private simulator."""

    def __init__(self, lab, workdir: Path, password="capacity-secret"):
        self.lab, self.workdir, self.password = lab, workdir, password
        self._context = None

    def __enter__(self) -> CapacityVCenter:
        self._context = private_nova_vcenter(self.lab, self.workdir, capacity_inventory(), self.password, INSTANCE_UUID)
        port = self._context.__enter__()
        return CapacityVCenter(self.lab, port, self.password)

    def __exit__(self, *exc):
        return self._context.__exit__(*exc)


def provision_proxies(lab, vcenter: CapacityVCenter, workdir: Path, proxies: dict[str, str]):
    """One proxy per cluster of ``proxies`` (host -> cluster) against the private vCenter, with the role."""
    subprocess.run([str(VENV_BIN / "python"), str(ROOT / "tests" / "lab" / "lab"), "proxy-vars"], check=True,
                   capture_output=True, env={**os.environ, "LAB_DIR": str(lab["state"])})
    variables = json.loads((lab["state"] / "proxies" / "proxy-vars.yml").read_text().split("\n", 1)[1])
    variables["proxy_compute_node_vmware"].update(host_port=vcenter.port, host_password=vcenter.password)
    variables["proxy_compute_node_api_vcenter"].update(port=vcenter.port, password=vcenter.password)
    (workdir / "proxy-vars.yml").write_text(json.dumps(variables))
    (workdir / "proxy-vars.yml").chmod(0o600)
    hosts = {host: {"proxy_compute_node_cluster": cluster, "ansible_connection": "local",
                    "ansible_python_interpreter": str(VENV_BIN / "python")} for host, cluster in proxies.items()}
    (workdir / "proxies.yml").write_text(json.dumps({"all": {"children": {"vmware_proxies": {"hosts": hosts}}}}))
    completed = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-i", str(workdir / "proxies.yml"), "-e", "@%s" % (workdir / "proxy-vars.yml"),
         str(ROOT / "playbooks" / "proxy_compute.yml")], env=clean_env(**lab["env"]), capture_output=True, text=True,
        timeout=900, check=False)
    if completed.returncode != 0:
        raise AssertionError("the proxies were not provisioned:\n" + (completed.stdout + completed.stderr)[-4000:])


def remove_proxies(lab, cloud: "Nova", proxies, workdir: Path | None = None, servers: str | None = None):
    """Stop the proxies' supervisords, force their services down, delete the servers named ``servers*`` (nova deletes
    them locally now, even those a hung proxy never finished), then the services (and compute nodes) and the
    proxies' directories."""
    stop_proxies(lab, proxies)
    services = cloud.services()
    for host in proxies:
        if host in services:
            cloud.call("PUT", "/os-services/%s" % services[host]["id"], {"forced_down": True}, microversion="2.53")
    if servers:
        cloud.delete_servers(servers)
    for host in proxies:
        supervisor = lab["state"] / "proxies" / host
        log = supervisor / "supervisor" / "nova-compute.log"
        if workdir is not None and log.exists():  # kept for a failure's diagnosis; the proxy's directory goes
            shutil.copy(log, workdir / ("%s-nova-compute.log" % host))
        if host in services:
            cloud.delete_service(services[host])
        shutil.rmtree(supervisor, ignore_errors=True)


def feed(lab, vcenter: CapacityVCenter, **options):
    """One run of the capacity feed (cluster_capacity) against the private vCenter, as the lab's admin."""
    run = run_module("cluster_capacity", {"vcenter": vcenter.option(), **options}, env=clean_env(**lab["env"]))
    if run.failed:
        raise AssertionError("the capacity feed failed: %s" % run.msg)
    return run


class Nova(Cloud):
    """The lab's nova and placement as its admin, with what the scenarios read."""

    def hypervisor(self, host):
        return next(h for h in self.hypervisors() if (h.get("service") or {}).get("host") == host)

    def provider(self, host):
        return self.hypervisor(host)["id"]

    def free_ram(self, host):
        """The MB of memory placement still lets the host's instances claim."""
        provider = self.provider(host)
        inventory = self.conn.placement.get("/resource_providers/%s/inventories" % provider,
                                            microversion="1.14").json()["inventories"]["MEMORY_MB"]
        used = self.conn.placement.get("/resource_providers/%s/usages" % provider,
                                       microversion="1.14").json()["usages"].get("MEMORY_MB", 0)
        return int((inventory["total"] - inventory["reserved"]) * inventory["allocation_ratio"]) - used

    def aggregate(self, name, hosts, metadata):
        """A fresh aggregate of these hosts with this metadata (an older one of the name is deleted first)."""
        self.delete_aggregate(name)
        aggregate = self.call("POST", "/os-aggregates", {"aggregate": {"name": name}})["aggregate"]
        for host in hosts:
            self.call("POST", "/os-aggregates/%s/action" % aggregate["id"], {"add_host": {"host": host}})
        self.call("POST", "/os-aggregates/%s/action" % aggregate["id"], {"set_metadata": {"metadata": metadata}})
        return aggregate

    def flavor(self, name, ram, vcpus=1, disk=1, extra_specs=None):
        """A fresh private flavor (an older one of the name is deleted first)."""
        self.delete_flavor(name)
        flavor = self.call("POST", "/flavors", {"flavor": {"name": name, "ram": ram, "vcpus": vcpus, "disk": disk,
                                                           "os-flavor-access:is_public": False}})["flavor"]
        if extra_specs:
            self.call("POST", "/flavors/%s/os-extra_specs" % flavor["id"], {"extra_specs": extra_specs})
        return flavor

    def delete_flavor(self, name):
        for flavor in self.listing("/flavors/detail?is_public=None", "flavors"):
            if flavor["name"] == name:
                self.call("DELETE", "/flavors/%s" % flavor["id"])

    def extra_specs(self, flavor_id):
        return self.call("GET", "/flavors/%s/os-extra_specs" % flavor_id)["extra_specs"]

    def boot(self, name, flavor_id, image_id):
        return self.call("POST", "/servers", {"server": {
            "name": name, "flavorRef": flavor_id, "imageRef": image_id, "networks": "none"}}, microversion="2.74")["server"]

    def server(self, server_id):
        return self.call("GET", "/servers/%s" % server_id, microversion="2.74")["server"]

    def wait(self, server_id, timeout=600):
        """The server once ACTIVE or ERROR."""
        deadline = time.monotonic() + timeout
        while True:
            server = self.server(server_id)
            if server["status"] in ("ACTIVE", "ERROR"):
                return server
            if time.monotonic() > deadline:
                state = (server["status"], server.get("OS-EXT-STS:task_state"))
                raise AssertionError("server %s still %s/%s after %d s" % (server_id, *state, timeout))
            time.sleep(1)

    def delete_servers(self, prefix, timeout=300):
        deadline = time.monotonic() + timeout
        asked = set()
        while time.monotonic() < deadline:
            servers = [s for s in self.listing("/servers/detail?all_tenants=1", "servers", microversion="2.74")
                       if s["name"].startswith(prefix)]
            if not servers:
                return
            for server in servers:
                # Asked again when a delete failed (ERROR, no task): the lab's simulator now and then answers a
                # RetrievePropertiesEx empty, and nova's VMware driver then fails the delete once.
                if server["id"] not in asked or (server["status"] == "ERROR" and not server.get("OS-EXT-STS:task_state")):
                    asked.add(server["id"])
                    self.call("DELETE", "/servers/%s" % server["id"])
            time.sleep(2)
        raise AssertionError("servers %s* not deleted in %d s" % (prefix, timeout))

    def builds(self, server_id):
        """The scheduler's choices for the server's boot, as its instance actions record them: the hosts on which a
        build ran, in order (the first the scheduler's choice, then the alternates of reschedules), each with its
        result. Microversion 2.62 gives each event its host."""
        actions = self.call("GET", "/servers/%s/os-instance-actions" % server_id, microversion="2.62")["instanceActions"]
        create = next(a for a in actions if a["action"] == "create")
        events = self.call("GET", "/servers/%s/os-instance-actions/%s" % (server_id, create["request_id"]),
                           microversion="2.62")["instanceAction"]["events"]
        events.sort(key=lambda e: e["start_time"])
        return [{"host": e["host"], "result": e["result"], "event": e["event"], "traceback": e.get("traceback")}
                for e in events if e["event"] == "compute__do_build_and_run_instance"], events

    def allocation_candidates(self, ram, vcpus=1, disk=1, required=None):
        """The providers placement offers for that request (placement 1.22: forbidden traits as !TRAIT)."""
        query = "resources=MEMORY_MB:%d,VCPU:%d,DISK_GB:%d" % (ram, vcpus, disk)
        if required:
            query += "&required=" + ",".join(required)
        response = self.conn.placement.get("/allocation_candidates?" + query, microversion="1.22")
        response.raise_for_status()
        return set(response.json()["provider_summaries"])

    def provider_traits(self, provider):
        response = self.conn.placement.get("/resource_providers/%s/traits" % provider, microversion="1.6")
        response.raise_for_status()
        return set(response.json()["traits"])

    def delete_feed_aggregates(self):
        for aggregate in self.call("GET", "/os-aggregates")["aggregates"]:
            if aggregate["name"].startswith(FEED_AGGREGATE + "vmware-proxy-cap-"):
                self.delete_aggregate(aggregate["name"])


def streamoptimized_image(nova: Nova, workdir: Path, name):
    """A blank 64 MiB streamOptimized VMDK in glance as ``name``, without hypervisor_type: both nova's VMware driver
    (which imports it through vCenter) and the KVM hosts' libvirt (which converts it to raw) take it. Nothing needs
    to boot inside: the scenarios are about where nova sends a VM.

    One image per boot: the lab's simulator panics on the SearchDatastore_Task nova's VMware driver sends to find
    an image in its cache folder once that folder exists (govmomi 0.24's searchDatastore.queryMatch on a nil
    SearchSpec), so an image is only ever spawned once, from glance."""
    raw, vmdk = workdir / "blank.raw", workdir / "blank.vmdk"
    if not vmdk.exists():
        with open(raw, "wb") as handle:
            handle.truncate(64 * 1024 * 1024)
        subprocess.run(["qemu-img", "convert", "-f", "raw", "-O", "vmdk", "-o", "subformat=streamOptimized", str(raw),
                        str(vmdk)], check=True, capture_output=True)
        raw.unlink()
    delete_images(nova, name)
    image = nova.conn.create_image(name, filename=str(vmdk), disk_format="vmdk", container_format="bare", wait=True,
                                   vmware_disktype="streamOptimized", vmware_adaptertype="lsiLogic")
    return image.id


def delete_images(nova: Nova, prefix):
    """Every glance image whose name starts with prefix."""
    for image in list(nova.conn.image.images()):
        if image.name and image.name.startswith(prefix):
            nova.conn.image.delete_image(image)


class Scheduler:
    """The lab's real nova-scheduler: its configuration file, log and supervisor program; the collection's
    capacity_scheduling role applied to it (the package into the lab's venv, the filter and weigher into nova.conf,
    a restart through the lab's supervisorctl), and everything put back afterwards."""

    def __init__(self, lab, workdir: Path):
        state = lab["state"]
        self.state, self.workdir = state, workdir
        self.nova_conf = state / "etc" / "nova" / "nova.conf"
        self.python = state / "venv" / "bin" / "python"
        self.log = state / "logs" / "nova-scheduler.log"
        self.conductor_log = state / "logs" / "nova-conductor.log"
        self.supervisorctl = [str(VENV_BIN / "supervisorctl"), "-c", str(state / "etc" / "supervisor" / "supervisord.conf")]
        self.saved = None

    def pid(self):
        status = subprocess.run(self.supervisorctl + ["status", "nova-scheduler"], capture_output=True, text=True,
                                check=False, timeout=60).stdout
        match = re.search(r"RUNNING\s+pid (\d+)", status)
        return int(match.group(1)) if match else None

    def package_installed(self):
        return subprocess.run([str(self.python), "-c", "import importlib.metadata as m; m.version(%r)" % PACKAGE],
                              capture_output=True, check=False).returncode == 0

    def log_size(self, path=None):
        path = path or self.log
        return path.stat().st_size if path.exists() else 0

    def log_since(self, offset, path=None):
        with open(path or self.log, "rb") as handle:
            handle.seek(offset)
            return handle.read().decode(errors="replace")

    def install(self, debug=True, timeout=180):
        """Apply the capacity_scheduling role (no feed schedule: the scenarios run the feed themselves), with
        ``[DEFAULT] debug`` on so that the filter's reasons reach the log; wait until the restarted scheduler loaded
        the filter."""
        if self.package_installed():
            raise AssertionError("%s is already installed in %s: a previous run did not clean up" % (PACKAGE, self.python))
        self.saved = self.nova_conf.read_bytes()
        if debug:
            text = self.saved.decode()
            self.nova_conf.write_text(text.replace("[DEFAULT]\n", "[DEFAULT]\ndebug = true\n", 1))
        offset = self.log_size()
        variables = {
            "capacity_scheduling_venv": str(self.state / "venv"),
            "capacity_scheduling_package_dir": str(self.workdir / "package"),
            "capacity_scheduling_nova_conf": str(self.nova_conf),
            "capacity_scheduling_restart_command": self.supervisorctl + ["restart", "nova-scheduler"],
            "capacity_scheduling_feed": "none",
        }
        playbook = self.workdir / "capacity-scheduling.yml"
        playbook.write_text(ROLE_PLAY)
        completed = subprocess.run([str(VENV_BIN / "ansible-playbook"), str(playbook), "-e", json.dumps(variables)],
                                   capture_output=True, text=True, env=clean_env(), timeout=900, check=False)
        if completed.returncode != 0:
            raise AssertionError("the capacity_scheduling role failed:\n" + (completed.stdout + completed.stderr)[-4000:])
        self.wait_started(offset, "VsphereHostFitFilter loaded", timeout)

    def wait_started(self, offset, marker, timeout=180):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if marker in self.log_since(offset) and self.pid():
                time.sleep(3)  # the RPC server starts after the filters are loaded
                return
            time.sleep(1)
        raise AssertionError("nova-scheduler did not log %r in %d s:\n%s" % (marker, timeout, self.log_since(offset)[-3000:]))

    def restore(self):
        """Stock nova again: nova.conf as it was, the package uninstalled, the scheduler restarted."""
        if self.saved is None:
            return
        self.nova_conf.write_bytes(self.saved)
        self.saved = None
        subprocess.run([str(self.state / "venv" / "bin" / "pip"), "uninstall", "-y", PACKAGE], capture_output=True,
                       check=False, timeout=300)
        offset = self.log_size()
        subprocess.run(self.supervisorctl + ["restart", "nova-scheduler"], capture_output=True, check=False, timeout=180)
        self.wait_started(offset, "Starting scheduler node")

    def enabled(self):
        """The scheduler's filter and weigher lists as nova reads its nova.conf."""
        code = ("import json, sys, warnings\nwarnings.simplefilter('ignore')\nimport nova.conf\nCONF = nova.conf.CONF\n"
                "CONF(sys.argv[1:], project='nova', default_config_files=[], default_config_dirs=[], use_env=False)\n"
                "print(json.dumps({'filters': CONF.filter_scheduler.enabled_filters, "
                "'weighers': CONF.filter_scheduler.weight_classes}))")
        completed = subprocess.run([str(self.python), "-c", code, "--config-file", str(self.nova_conf)],
                                   capture_output=True, text=True, check=True, timeout=300)
        return json.loads(completed.stdout)
