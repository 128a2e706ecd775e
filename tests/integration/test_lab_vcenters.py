"""The lab's simulated vCenters (`lab up --vcenters N`, docs/lab.md): vCenter 1 is the lab's vCenter of
always; a second one has its own port, password, certificate and instance UUID and serves the same clusters,
and the count is remembered for the commands that follow. Cheap: the second vCenter is one more simulator
(`--only vcenter`, seconds), stopped again by the test; no second OpenStack."""

import json
import socket
import ssl
import subprocess

import pytest
from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim

from helpers.lab import LAB
from helpers.vsphere import LAB_CLUSTERS

# govmomi's about.instanceUuid, which vCenter 1 keeps so that nova's node names survive a restart.
GOVMOMI_INSTANCE_UUID = "dbed6e0c-bd88-4ef6-b594-21283e1c677f"


def run_lab(*args):
    return subprocess.run(LAB + list(args), check=True, capture_output=True, text=True).stdout


def status():
    """`lab status`'s output (its status is 1 while any service of the lab is down: not this test's concern)."""
    return subprocess.run(LAB + ["status"], check=False, capture_output=True, text=True).stdout


def recorded_vcenters(lab):
    return int((lab["state"] / "vcenters").read_text())


def site_inventory(lab):
    run_lab("site-vars")
    return json.loads((lab["state"] / "site" / "inventory.yml").read_text().split("\n", 1)[1])["all"]


def vcenter_rows(status):
    """`lab status`'s vCenter table: name -> (instance UUID, reachable, URL)."""
    table = status.split("\nVCENTER ", 1)[1].splitlines()[1:]
    return {name: (uuid, reachable, url) for name, uuid, reachable, url in (row.split() for row in table)}


def login(lab, port, password):
    context = ssl.create_default_context(cafile=lab["env"]["SSL_CERT_FILE"])
    return SmartConnect(host="127.0.0.1", port=port, user=lab["env"]["VMWARE_USER"], pwd=password, sslContext=context)


@pytest.fixture
def restored(lab):
    """The count of vCenters the lab runs, as it is put back afterwards."""
    before = recorded_vcenters(lab)
    yield before
    run_lab("up", "--only", "vcenter", "--vcenters", str(before))


def test_site_vars_of_one_vcenter_keep_their_shape(lab):
    if recorded_vcenters(lab) != 1:
        pytest.skip("the lab runs several vCenters (lab up --vcenters)")
    inventory = site_inventory(lab)
    assert inventory["children"]["vmware_proxies"] == {"hosts": {
        "vmware-proxy-a": {**inventory["hosts"]["localhost"], "proxy_compute_node_cluster": "Cluster-A"},
        "vmware-proxy-b": {**inventory["hosts"]["localhost"], "proxy_compute_node_cluster": "Cluster-B"}}}
    variables = inventory["vars"]
    assert "mixed_cloud_vcenters" not in variables
    assert variables["vcenter_prepare_clusters"] == [{"name": "Cluster-A"}, {"name": "Cluster-B", "vnc_ruleset": ""}]
    env = lab["env"]
    assert variables["proxy_compute_node_api_vcenter"] == {
        "hostname": env["VMWARE_HOST"], "port": int(env["VMWARE_PORT"]), "username": env["VMWARE_USER"],
        "password": env["VMWARE_PASSWORD"], "validate_certs": True}
    assert variables["proxy_compute_node_vmware"]["host_port"] == int(env["VMWARE_PORT"])


def test_a_second_vcenter_has_its_own_port_password_certificate_and_uuid(lab, restored):
    run_lab("up", "--only", "vcenter", "--vcenters", "2")
    rows = vcenter_rows(status())
    first, second = int(lab["env"]["VMWARE_PORT"]), int(lab["env"]["VMWARE_PORT"]) + 1
    assert rows["vcenter-1"] == (GOVMOMI_INSTANCE_UUID, "yes", "https://127.0.0.1:%d/sdk" % first)
    assert rows["vcenter-2"][1:] == ("yes", "https://127.0.0.1:%d/sdk" % second)
    assert rows["vcenter-2"][0] != GOVMOMI_INSTANCE_UUID

    secrets = json.loads((lab["state"] / "secrets.json").read_text())
    assert secrets["vcenter-2"] != secrets["vcenter"]
    with pytest.raises(vim.fault.InvalidLogin):
        login(lab, second, secrets["vcenter"])
    si = login(lab, second, secrets["vcenter-2"])
    try:
        content = si.RetrieveContent()
        assert content.about.instanceUuid == rows["vcenter-2"][0]
        view = content.viewManager.CreateContainerView(content.rootFolder, [vim.ClusterComputeResource], True)
        assert sorted(cluster.name for cluster in view.view) == sorted(LAB_CLUSTERS)
        view.Destroy()
    finally:
        Disconnect(si)
    # Its own certificate of the lab CA (the login above checked it against the CA).
    assert ssl.get_server_certificate(("127.0.0.1", second)) != ssl.get_server_certificate(("127.0.0.1", first))

    # Remembered: site-vars, without the flag, writes both vCenters.
    inventory = site_inventory(lab)
    assert sorted(inventory["children"]["vmware_proxies"]["children"]) == ["vcenter_1", "vcenter_2"]
    assert inventory["vars"]["mixed_cloud_vcenters"]["vcenter-2"]["port"] == second

    run_lab("up", "--only", "vcenter", "--vcenters", "1")
    assert "vcenter-2" not in vcenter_rows(status())
    with pytest.raises(ConnectionRefusedError):
        socket.create_connection(("127.0.0.1", second), timeout=5).close()
    assert "vcenter_1" not in json.dumps(site_inventory(lab)["children"])
