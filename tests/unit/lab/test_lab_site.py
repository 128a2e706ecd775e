"""`lab site-vars`: the inventory that points playbooks/site.yml at the lab, of one vCenter or of
several, read back by ansible-inventory as the playbook will read it."""

import json
import os
import shutil
import stat
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
BIN = Path(sys.executable).parent


def site_vars(lab: Path, **env) -> Path:
    if not shutil.which("qemu-img"):
        pytest.skip("qemu-img is missing (bindep's default profile installs it)")
    subprocess.run([sys.executable, str(ROOT / "tests" / "lab" / "lab"), "site-vars"], check=True, capture_output=True,
                   env=dict(os.environ, LAB_DIR=str(lab), **env))
    return lab / "site" / "inventory.yml"


def listed(inventory: Path) -> dict:
    return json.loads(subprocess.run([str(BIN / "ansible-inventory"), "-i", str(inventory), "--list"],
                                     check=True, capture_output=True, text=True).stdout)


@pytest.fixture()
def inventory(tmp_path):
    return site_vars(tmp_path / "lab", LAB_KVM_COMPUTES="3")


def test_groups_hold_one_proxy_per_cluster_and_every_kvm_host(inventory):
    groups = listed(inventory)
    proxies = {host: groups["_meta"]["hostvars"][host]["proxy_compute_node_cluster"]
               for host in groups["vmware_proxies"]["hosts"]}
    assert proxies == {"vmware-proxy-a": "Cluster-A", "vmware-proxy-b": "Cluster-B"}
    assert "children" not in groups["vmware_proxies"]
    assert groups["kvm_computes"]["hosts"] == ["kvm-compute-1", "kvm-compute-2", "kvm-compute-3"]
    compute = groups["_meta"]["hostvars"]["kvm-compute-2"]
    assert "mixed_cloud_vcenters" not in compute
    assert compute["site_kvm_nova_conf"][0].endswith("/computes/kvm-compute-2.conf")
    assert compute["site_kvm_libvirt_uri"].endswith("/kvm/kvm-compute-2/run/libvirt-sock")
    assert compute["vcenter_prepare_clusters"] == [{"name": "Cluster-A"}, {"name": "Cluster-B", "vnc_ruleset": ""}]


def test_inventory_is_private_and_its_image_is_a_qcow2(inventory):
    assert stat.S_IMODE(inventory.stat().st_mode) == 0o600
    variables = json.loads(inventory.read_text().split("\n", 1)[1])["all"]["vars"]
    (image,) = variables["mixed_cloud_images"]
    info = json.loads(subprocess.run(["qemu-img", "info", "--output=json", image["qcow2"]], check=True,
                                     capture_output=True, text=True).stdout)
    assert info["format"] == "qcow2"


def test_each_kvm_host_has_its_own_bmc_with_the_keys_playbooks_read(inventory, tmp_path):
    hostvars = listed(inventory)["_meta"]["hostvars"]
    bmcs = {host: hostvars[host]["bmc"] for host in ("kvm-compute-1", "kvm-compute-2", "kvm-compute-3")}
    for bmc in bmcs.values():
        assert set(bmc) == {"agent", "address", "port", "username", "password", "system", "validate_certs", "ca_path"}
        assert (bmc["agent"], bmc["address"], bmc["validate_certs"]) == ("redfish", "127.0.0.1", True)
        assert bmc["system"].startswith("/redfish/v1/Systems/")
        assert bmc["ca_path"] == str(tmp_path / "lab" / "pki" / "ca.pem")
    assert len({bmc["port"] for bmc in bmcs.values()}) == len({bmc["password"] for bmc in bmcs.values()}) == 3
    secrets = json.loads((tmp_path / "lab" / "secrets.json").read_text())
    assert secrets["bmc-kvm-compute-2"] == bmcs["kvm-compute-2"]["password"]


def test_with_two_vcenters_each_vcenters_group_points_its_proxies_at_it(tmp_path):
    """`lab up --vcenters 2` (here LAB_VCENTERS, no lab running): the same clusters in both vCenters, their
    proxies in a group per vCenter whose variables are that vCenter's, every cluster prepared in its vCenter."""
    groups = listed(site_vars(tmp_path / "lab", LAB_VCENTERS="2"))
    assert groups["vmware_proxies"]["children"] == ["vcenter_1", "vcenter_2"]
    assert groups["vcenter_1"]["hosts"] == ["vmware-proxy-a", "vmware-proxy-b"]
    assert groups["vcenter_2"]["hosts"] == ["vmware-proxy-v2-a", "vmware-proxy-v2-b"]
    hostvars = groups["_meta"]["hostvars"]
    secrets = json.loads((tmp_path / "lab" / "secrets.json").read_text())
    vcenters = hostvars["localhost"]["mixed_cloud_vcenters"]
    assert sorted(vcenters) == ["vcenter-1", "vcenter-2"]
    assert vcenters["vcenter-1"]["password"] == secrets["vcenter"]
    assert vcenters["vcenter-2"]["password"] == secrets["vcenter-2"] != secrets["vcenter"]
    assert vcenters["vcenter-2"]["port"] == vcenters["vcenter-1"]["port"] + 1
    for name, vcenter in vcenters.items():
        assert set(vcenter) == {"hostname", "port", "username", "password", "validate_certs"}
        assert (vcenter["hostname"], vcenter["validate_certs"]) == ("127.0.0.1", True)
        for host in groups["vcenter_" + name[-1]]["hosts"]:
            assert hostvars[host]["proxy_compute_node_api_vcenter"] == vcenter
            assert hostvars[host]["proxy_compute_node_vmware"] == {
                "host_ip": "127.0.0.1", "host_port": vcenter["port"], "host_username": vcenter["username"],
                "host_password": vcenter["password"], "ca_file": str(tmp_path / "lab" / "pki" / "ca.pem")}
    assert {host: hostvars[host]["proxy_compute_node_cluster"] for host in hostvars if host.startswith("vmware-")} == {
        "vmware-proxy-a": "Cluster-A", "vmware-proxy-b": "Cluster-B",
        "vmware-proxy-v2-a": "Cluster-A", "vmware-proxy-v2-b": "Cluster-B"}
    # No vCenter for hosts outside the vCenters' groups.
    assert "proxy_compute_node_vmware" not in hostvars["localhost"]
    assert hostvars["localhost"]["vcenter_prepare_clusters"] == [
        {"name": "Cluster-A", "vcenter": "vcenter-1"}, {"name": "Cluster-B", "vnc_ruleset": "", "vcenter": "vcenter-1"},
        {"name": "Cluster-A", "vcenter": "vcenter-2"}, {"name": "Cluster-B", "vnc_ruleset": "", "vcenter": "vcenter-2"}]
