"""Two vCenters in one cloud, both with the lab's inventory: Cluster-A and Cluster-B exist in each.

The second vCenter ("east") is a private instance of the lab's simulator, with its own port,
password and instanceUuid. Clusters of the same name in the two are two clusters: prepared
apart, each proxy judged against its own vCenter, nova's node names differing by the
vCenter's uuid; and a cluster reached through two addresses of one vCenter is refused.
"""

import json
import subprocess

import jinja2
import pytest
import yaml
from pyVim.connect import Disconnect, SmartConnect
from pyVmomi import vim

from helpers.capacity import Nova, remove_proxies
from helpers.lab import ROOT, VENV_BIN, clean_env
from helpers.playbook import recap_changed, run_module
from helpers.vsphere import private_nova_vcenter

EAST_UUID = "6c1f8b4d-2e3a-4f5b-8c9d-0e1f2a3b4c5d"
EAST_PROXY = "vmware-proxy-east-a"
DEFAULT_INVENTORY = ROOT / "tests" / "lab" / "vcsim" / "default_inventory.json"
CREDENTIAL_TYPES = ROOT / "extensions" / "awx" / "credential_types.yml"


@pytest.fixture(scope="module")
def east(lab, tmp_path_factory):
    """The second vCenter: its connection options, as mixed_cloud_vcenters and compute_proxy take them."""
    work = tmp_path_factory.mktemp("east-vcenter")
    inventory = json.loads(DEFAULT_INVENTORY.read_text())
    with private_nova_vcenter(lab, work, inventory, "east-secret-0123", EAST_UUID) as port:
        yield {"hostname": "127.0.0.1", "port": port, "username": "administrator@vsphere.local",
               "password": "east-secret-0123", "validate_certs": True}


def lab_connection(lab):
    env = lab["env"]
    return {"hostname": env["VMWARE_HOST"], "port": int(env["VMWARE_PORT"]), "username": env["VMWARE_USER"],
            "password": env["VMWARE_PASSWORD"], "validate_certs": True}


def drs_enabled(lab, connection):
    """Each cluster's DRS switch in one vCenter."""
    si = SmartConnect(host=connection["hostname"], port=connection["port"], user=connection["username"],
                      pwd=connection["password"])
    try:
        view = si.content.viewManager.CreateContainerView(si.content.rootFolder, [vim.ClusterComputeResource], True)
        return {cluster.name: cluster.configurationEx.drsConfig.enabled for cluster in view.view}
    finally:
        Disconnect(si)


def prepare(lab, tmp_path, variables, *options):
    (tmp_path / "vars.json").write_text(json.dumps(variables))
    (tmp_path / "vars.json").chmod(0o600)
    return subprocess.run([str(VENV_BIN / "ansible-playbook"), str(ROOT / "playbooks" / "vcenter_prepare.yml"),
                           "-e", "@%s" % (tmp_path / "vars.json"), *options],
                          env=clean_env(**lab["env"]), capture_output=True, text=True, timeout=900, check=False)


def report(completed):
    """The report's lines, by cluster label."""
    lines = json.loads(completed.stdout.split("Report each prerequisite per cluster] ", 1)[1]
                       .split("=> ", 1)[1].split("\n}\n", 1)[0] + "\n}")["msg"]
    clusters, label = {}, None
    for line in lines:
        if line.startswith("  "):
            status, rest = line[2:12].strip(), line[13:]
            clusters[label][rest.split(": ", 1)[0]] = status
        else:
            label = line.rstrip(":")
            clusters[label] = {}
    return clusters


def injected(east):
    """The extra vars east's AWX credential injects (extensions/awx/credential_types.yml), rendered as AWX does."""
    (kind,) = yaml.safe_load(CREDENTIAL_TYPES.read_text())["credential_types"]
    inputs = {"username": east["username"], "password": east["password"]}
    return {name: jinja2.Template(value).render(**inputs) for name, value in kind["injectors"]["extra_vars"].items()}


def test_same_cluster_names_in_two_vcenters_are_prepared_apart(lab, east, tmp_path):
    # The inventory's connection refers to what the credential injects, as docs/multi-vcenter.md lays it out.
    connection = dict(east, username="{{ mixed_cloud_vcenter_east_username }}",
                      password="{{ mixed_cloud_vcenter_east_password }}")
    variables = {
        **injected(east),
        "mixed_cloud_vcenters": {"east": connection},
        "vcenter_prepare_clusters": [
            {"name": "Cluster-A", "datastore_regex": "^nfs-a$", "vnc_ruleset": ""},
            {"name": "Cluster-A", "vcenter": "east", "datastore_regex": "^nfs-a$", "vnc_ruleset": ""},
            {"name": "Cluster-B", "vcenter": "east", "datastore_regex": "^nfs-b$", "vnc_ruleset": ""},
        ],
        "vcenter_prepare_allow_unmanaged_vms": True,
    }
    before = drs_enabled(lab, lab_connection(lab))
    assert before["Cluster-B"] is False and drs_enabled(lab, east)["Cluster-B"] is False

    first = prepare(lab, tmp_path, variables, "--diff")
    assert first.returncode == 0, first.stdout[-4000:]
    clusters = report(first)
    assert list(clusters) == ["Cluster-A", "east/Cluster-A", "east/Cluster-B"]
    assert set(clusters["Cluster-A"].values()) == {"met"}
    assert clusters["east/Cluster-B"]["DRS"] == "fixed" and clusters["east/Cluster-B"]["vSphere HA"] == "fixed"
    assert recap_changed(first.stdout)["east/Cluster-B"] > 0 and recap_changed(first.stdout)["vcenter/Cluster-A"] == 0
    # Only east's Cluster-B was changed: the lab's Cluster-B of the same name was not touched.
    assert drs_enabled(lab, east)["Cluster-B"] is True
    assert drs_enabled(lab, lab_connection(lab)) == before
    assert east["password"] not in first.stdout + first.stderr

    again = prepare(lab, tmp_path, variables)
    assert again.returncode == 0, again.stdout[-4000:]
    assert sum(recap_changed(again.stdout).values()) == 0, again.stdout[-4000:]
    assert set(report(again)["east/Cluster-B"].values()) == {"met"}


@pytest.mark.parametrize("vcenters, cluster, message", [
    ({}, {"name": "Cluster-B", "vcenter": "west"}, "Cluster-B names vCenter west, which mixed_cloud_vcenters does not define"),
    ({"east": {"hostname": "127.0.0.1", "username": "administrator@vsphere.local"}},
     {"name": "Cluster-B", "vcenter": "east"}, "mixed_cloud_vcenters.east has no password"),
    ({}, {"name": "Cluster-A"}, "vcenter/Cluster-A is listed twice"),
], ids=["unknown", "no-password", "twice"])
def test_a_wrong_cluster_list_stops_before_any_cluster_is_prepared(lab, tmp_path, vcenters, cluster, message):
    variables = {"mixed_cloud_vcenters": vcenters, "vcenter_prepare_clusters": [{"name": "Cluster-A"}, cluster]}
    completed = prepare(lab, tmp_path, variables)
    assert completed.returncode == 2, completed.stdout[-3000:]
    assert "Nothing was prepared: " in completed.stdout and message in completed.stdout, completed.stdout[-3000:]
    assert "PLAY [Prepare vSphere clusters" not in completed.stdout


@pytest.fixture(scope="module")
def two_vcenters_proxies(lab, east, tmp_path_factory):
    """The lab's proxy of Cluster-A and one of east's Cluster-A, a vCenter per inventory group, provisioned by one
    run of playbooks/proxy_compute.yml; both removed at the end."""
    work = tmp_path_factory.mktemp("two-vcenters")
    subprocess.run([str(VENV_BIN / "python"), str(ROOT / "tests" / "lab" / "lab"), "proxy-vars"], check=True,
                   capture_output=True, env={**clean_env(), "LAB_DIR": str(lab["state"])})
    variables = yaml.safe_load((lab["state"] / "proxies" / "proxy-vars.yml").read_text())
    host = {"ansible_connection": "local", "ansible_python_interpreter": str(VENV_BIN / "python")}
    # Group variables, not extra vars: extra vars would outrank them and point every proxy at one vCenter.
    east_vars = {
        "proxy_compute_node_vmware": dict(variables["proxy_compute_node_vmware"], host_port=east["port"],
                                          host_password=east["password"]),
        "proxy_compute_node_api_vcenter": dict(variables["proxy_compute_node_api_vcenter"], port=east["port"],
                                               password=east["password"]),
    }
    inventory = {"all": {"vars": variables, "children": {"vmware_proxies": {"children": {
        "vcenter_lab": {"hosts": {"vmware-proxy-a": dict(host, proxy_compute_node_cluster="Cluster-A")}},
        "vcenter_east": {"vars": east_vars, "hosts": {EAST_PROXY: dict(host, proxy_compute_node_cluster="Cluster-A")}},
    }}}}}
    (work / "inventory.yml").write_text(json.dumps(inventory))
    (work / "inventory.yml").chmod(0o600)
    cloud = Nova(lab["env"])
    proxies = ["vmware-proxy-a", EAST_PROXY]
    remove_proxies(lab, cloud, proxies)
    try:
        completed = subprocess.run([str(VENV_BIN / "ansible-playbook"), "-i", str(work / "inventory.yml"),
                                    str(ROOT / "playbooks" / "proxy_compute.yml")],
                                   env=clean_env(**lab["env"]), capture_output=True, text=True, timeout=900, check=False)
        yield completed, cloud
    finally:
        remove_proxies(lab, cloud, proxies, work)


def test_proxies_of_two_vcenters_join_one_cloud_in_one_play(lab, east, two_vcenters_proxies):
    completed, cloud = two_vcenters_proxies
    assert completed.returncode == 0, completed.stdout[-5000:] + completed.stderr[-2000:]
    assert east["password"] not in completed.stdout + completed.stderr
    hypervisors = {h["hypervisor_hostname"]: (h.get("service") or {}).get("host") for h in cloud.hypervisors()}
    east_nodes = [name for name, host in hypervisors.items() if name.endswith("." + EAST_UUID)]
    assert [hypervisors[name] for name in east_nodes] == [EAST_PROXY], hypervisors
    moid = east_nodes[0].split(".")[0]
    # The lab's Cluster-A has the same moid, under the lab vCenter's uuid, and its own proxy.
    assert [host for name, host in hypervisors.items() if name.startswith(moid + ".") and name != east_nodes[0]] == [
        "vmware-proxy-a"]
    assert "%s -> Cluster-A of vCenter %s: ok" % (EAST_PROXY, EAST_UUID) in completed.stdout


def test_compute_proxy_judges_each_proxy_against_its_own_vcenter(lab, east, two_vcenters_proxies):
    env = clean_env(**lab["env"])
    run = run_module("compute_proxy", {"proxies": [
        {"host": "vmware-proxy-a", "cluster": "Cluster-A"},
        {"host": EAST_PROXY, "cluster": "Cluster-A", "vcenter": {"port": east["port"], "password": east["password"]}},
    ]}, env=env, check_mode=True)
    assert not run.failed, run.msg
    assert [(item["instance_uuid"], item["proxies"]) for item in run.result["vcenters"]][1] == (EAST_UUID, [EAST_PROXY])
    lab_uuid = run.result["vcenters"][0]["instance_uuid"]
    assert lab_uuid != EAST_UUID
    rows = {row["host"]: row for row in run.result["proxies"]}
    assert rows["vmware-proxy-a"]["status"] == rows[EAST_PROXY]["status"] == "ok"
    # One inventory, so one moid numbering: only the vCenter's uuid tells the two Cluster-A apart.
    assert rows["vmware-proxy-a"]["cluster_moid"] == rows[EAST_PROXY]["cluster_moid"]
    assert rows[EAST_PROXY]["nodename"] == "%s.%s" % (rows[EAST_PROXY]["cluster_moid"], EAST_UUID)
    assert run.result["conflicts"] == [] and not run.result["changed"]
    assert east["password"] not in run.completed.stdout

    # The lab's vCenter again, as localhost: the same Cluster-A, whose two proxies nova would count twice.
    twice = run_module("compute_proxy", {"proxies": [
        {"host": "vmware-proxy-a", "cluster": "Cluster-A"},
        {"host": "vmware-proxy-x", "cluster": "Cluster-A", "vcenter": {"hostname": "localhost",
                                                                       "password": lab["env"]["VMWARE_PASSWORD"]}},
    ]}, env=env, check_mode=True)
    assert twice.failed
    port = lab["env"]["VMWARE_PORT"]
    assert "Cluster-A (%s) of vCenter %s, reached as 127.0.0.1:%s and localhost:%s" % (
        rows["vmware-proxy-a"]["cluster_moid"], lab_uuid, port, port) in twice.msg, twice.msg

    # Another vCenter's host without its own password: the lab's is not sent there.
    elsewhere = run_module("compute_proxy", {"proxies": [
        {"host": EAST_PROXY, "cluster": "Cluster-A", "vcenter": {"hostname": "localhost", "port": east["port"]}},
    ]}, env=env, check_mode=True)
    assert elsewhere.failed and "names vCenter localhost without its password" in elsewhere.msg
