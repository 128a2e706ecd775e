"""The inventory that points playbooks/site.yml, the main job, at the lab.

``lab site-vars`` writes ``<state>/site/inventory.yml`` (0600: it holds the lab's secrets):

- ``vmware_proxies``: one proxy per simulated cluster, with the proxy_compute_node role's
  variables of ``lab proxy-vars``; in a lab of several vCenters (``lab up --vcenters N``) one
  child group ``vcenter_K`` per vCenter holds its proxies, its group variables that vCenter's
  (``proxies.vcenter_variables``), and ``mixed_cloud_vcenters`` names every vCenter's connection
  for ``vcenter_prepare_clusters``, which lists the clusters of each;
- ``kvm_computes``: the lab's KVM hosts ``kvm-compute-N``, each with its own libvirt's URI
  (``site_kvm_libvirt_uri``, see ``kvm``) and nova.conf, and its BMC (``bmc``, see ``bmc``);
- the vcenter_prepare and mixed_cloud variables for the lab's clusters: its NFS datastores,
  its deliberate flaws on Cluster-B (legacy VMs, a host without the VNC ruleset) accepted, the lab's
  guest image (``guest_image``, built here unless its cache holds it) uploaded for KVM and, converted,
  for vSphere, and one flavor per hypervisor kind.

The connection to vCenter and the cloud comes from ``lab env``, as AWX credentials give it.
"""

from __future__ import annotations

from pathlib import Path

from . import bmc as bmcs
from . import kvm as kvm_hosts
from . import guest_image, openstack, proxies, vcenter
from .config import LabConfig


def base(cfg: LabConfig) -> Path:
    return cfg.state / "site"


def inventory_file(cfg: LabConfig) -> Path:
    return base(cfg) / "inventory.yml"


def _prepare(cluster: str) -> dict:
    # In the default inventory esx-b3 lacks the VNC VIB's ruleset on purpose (the role's tests
    # show the report naming it); the main job leaves Cluster-B's firewall alone.
    return {"name": cluster, "vnc_ruleset": ""} if cluster == "Cluster-B" else {"name": cluster}


def _proxy_hosts(cfg: LabConfig, vc: vcenter.VCenter) -> dict:
    return {
        host: {"proxy_compute_node_cluster": cluster, **proxies.local_host()}
        for host, cluster in proxies.proxies(cfg, vc).items()
    }


def write(cfg: LabConfig) -> Path:
    images = base(cfg) / "images"
    images.mkdir(parents=True, exist_ok=True)
    guest = guest_image.image()
    bmc = bmcs.endpoints(cfg)
    kvm = {
        host.name: {
            **proxies.local_host(),
            "site_kvm_nova_conf": [str(openstack.compute_conf(cfg, host.name))],
            "site_kvm_libvirt_uri": host.uri,
            "bmc": bmc[host.name],
        }
        for host in kvm_hosts.hosts(cfg)
    }
    vcenters = vcenter.vcenters(cfg)
    # Every play takes the cloud from the environment (`lab env`, or AWX's credential).
    proxy_variables = {k: v for k, v in proxies.role_variables(cfg).items() if k != "proxy_compute_node_cloud"}
    if len(vcenters) == 1:
        vmware = {"hosts": _proxy_hosts(cfg, vcenters[0])}
        prepare = [_prepare(cluster) for cluster in proxies.clusters(cfg)]
        several = {}
    else:
        # Each proxy's vCenter comes from its group; none from all.vars.
        for name in proxies.vcenter_variables(cfg, vcenters[0]):
            del proxy_variables[name]
        vmware = {
            "children": {
                f"vcenter_{vc.index}": {"hosts": _proxy_hosts(cfg, vc), "vars": proxies.vcenter_variables(cfg, vc)}
                for vc in vcenters
            }
        }
        prepare = [{**_prepare(cluster), "vcenter": vc.name} for vc in vcenters for cluster in proxies.clusters(cfg)]
        several = {"mixed_cloud_vcenters": {vc.name: vcenter.connection(cfg, vc) for vc in vcenters}}
    variables = {
        **proxy_variables,
        "vcenter_prepare_clusters": prepare,
        **several,
        "vcenter_prepare_datastore_regex": "^nfs-",
        # Cluster-B carries two VMs nova does not manage, to show the report naming them.
        "vcenter_prepare_allow_unmanaged_vms": True,
        "site_kvm_fail_on_mismatch": False,
        "site_kvm_aggregate": {"name": "kvm", "availability_zone": "kvm"},
        "site_vmware_availability_zone": "vmware",
        "mixed_cloud_scheduler_conf": [str(cfg.etc / "nova" / "nova.conf")],
        "mixed_cloud_image_dir": str(images / "converted"),
        "mixed_cloud_images": [{"name": "lab-guest", "qcow2": guest["qcow2"]}],
        # The guest image is built again when its inputs change: glance then gets the new one.
        "mixed_cloud_replace_images": True,
        "mixed_cloud_flavors": [
            {"name": "kvm.small", "vcpus": 1, "ram": 512, "disk": 1, "hypervisor": "kvm"},
            {"name": "vmware.small", "vcpus": 1, "ram": 512, "disk": 1, "hypervisor": "vmware"},
        ],
    }
    inventory = {
        "all": {
            "vars": variables,
            # The controller, named: ansible-rulebook limits a playbook to its rulebook's hosts
            # (localhost for kvm_host_ha), and a limit never matches the implicit localhost.
            "hosts": {"localhost": proxies.local_host()},
            "children": {"vmware_proxies": vmware, "kvm_computes": {"hosts": kvm}},
        }
    }
    proxies.write_secret_yaml(inventory_file(cfg), inventory)
    return inventory_file(cfg)
