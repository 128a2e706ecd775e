"""`lab site-vars`: the inventory that points playbooks/site.yml at the lab, read back by
ansible-inventory as the playbook will read it."""

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


@pytest.fixture()
def inventory(tmp_path):
    if not shutil.which("qemu-img"):
        pytest.skip("qemu-img is missing (bindep's default profile installs it)")
    env = dict(os.environ, LAB_DIR=str(tmp_path / "lab"), LAB_KVM_COMPUTES="3")
    subprocess.run([sys.executable, str(ROOT / "tests" / "lab" / "lab"), "site-vars"], env=env, check=True,
                   capture_output=True)
    return tmp_path / "lab" / "site" / "inventory.yml"


def test_groups_hold_one_proxy_per_cluster_and_every_kvm_host(inventory):
    listed = json.loads(subprocess.run([str(BIN / "ansible-inventory"), "-i", str(inventory), "--list"],
                                       check=True, capture_output=True, text=True).stdout)
    proxies = {host: listed["_meta"]["hostvars"][host]["proxy_compute_node_cluster"]
               for host in listed["vmware_proxies"]["hosts"]}
    assert proxies == {"vmware-proxy-a": "Cluster-A", "vmware-proxy-b": "Cluster-B"}
    assert listed["kvm_computes"]["hosts"] == ["kvm-compute-1", "kvm-compute-2", "kvm-compute-3"]
    compute = listed["_meta"]["hostvars"]["kvm-compute-2"]
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
    hostvars = json.loads(subprocess.run([str(BIN / "ansible-inventory"), "-i", str(inventory), "--list"],
                                         check=True, capture_output=True, text=True).stdout)["_meta"]["hostvars"]
    bmcs = {host: hostvars[host]["bmc"] for host in ("kvm-compute-1", "kvm-compute-2", "kvm-compute-3")}
    for bmc in bmcs.values():
        assert set(bmc) == {"agent", "address", "port", "username", "password", "system", "validate_certs", "ca_path"}
        assert (bmc["agent"], bmc["address"], bmc["validate_certs"]) == ("redfish", "127.0.0.1", True)
        assert bmc["system"].startswith("/redfish/v1/Systems/")
        assert bmc["ca_path"] == str(tmp_path / "lab" / "pki" / "ca.pem")
    assert len({bmc["port"] for bmc in bmcs.values()}) == len({bmc["password"] for bmc in bmcs.values()}) == 3
    secrets = json.loads((tmp_path / "lab" / "secrets.json").read_text())
    assert secrets["bmc-kvm-compute-2"] == bmcs["kvm-compute-2"]["password"]
