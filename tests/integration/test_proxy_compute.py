"""playbooks/proxy_compute.yml (the proxy_compute_node role) and compute_proxy against the lab, with real proxies.

The lab writes the inventory (one proxy per simulated cluster, vmware-proxy-a for Cluster-A
...) and the role's variables (`lab proxy-vars`); the play installs nothing (the lab's venv
has nova and oslo.vmware), runs each proxy's nova-compute with nova's VMware driver under a
supervisord of its own, and registers it. The evidence is read back with the `openstack`
CLI and openstacksdk, not through the collection. The module-scoped fixture removes the
proxies at the end: supervisors stopped, services, their compute nodes and the aggregate
deleted, state directories removed.
"""

import json
import os
import re
import signal
import subprocess
import time

import pytest

from helpers.cloud import PROXY_AGGREGATE, Cloud, openstack_cli, remove_proxies
from helpers.lab import LAB, ROOT, VENV_BIN, clean_env
from helpers.playbook import run_module

INVENTORY = json.loads((ROOT / "tests" / "lab" / "vcsim" / "default_inventory.json").read_text())
MIB_PER_GIB = 1024


def cluster_capacity():
    """Each simulated cluster's memory and CPU threads, as nova's driver must count them."""
    found = {}
    for datacenter in INVENTORY["datacenters"]:
        for cluster in datacenter["clusters"]:
            hosts = [host for host in cluster["hosts"] if host.get("connection_state", "connected") == "connected"
                     and not host.get("maintenance_mode")]
            found[cluster["name"]] = {
                "memory_mb": sum(host["memory_mb"] for host in hosts),
                "vcpus": sum(host.get("cpu_threads", host["cpu_cores"]) for host in hosts),
                "largest_host_mb": max(host["memory_mb"] for host in hosts),
            }
    return found


def recap(output):
    totals = {}
    for name, value in re.findall(r"\b(ok|changed|failed)=(\d+)", output):
        totals[name] = totals.get(name, 0) + int(value)
    return totals


@pytest.fixture(scope="module")
def provisioned(lab):
    """The lab's proxies, provisioned once by the play; removed at the end."""
    subprocess.run(LAB + ["proxy-vars"], check=True, capture_output=True, env={**os.environ, "LAB_DIR": str(lab["state"])})
    inventory = lab["state"] / "proxies" / "inventory.yml"
    variables = lab["state"] / "proxies" / "proxy-vars.yml"
    hosts = json.loads(inventory.read_text().split("\n", 1)[1])["all"]["children"]["vmware_proxies"]["hosts"]
    cloud = Cloud(lab["env"])
    remove_proxies(lab, cloud, list(hosts) + ["vmware-proxy-rogue"])

    def play(*extra):
        started = time.monotonic()
        completed = subprocess.run(
            [str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), "-e", "@%s" % variables,
             "-e", "proxy_compute_node_aggregate=%s" % PROXY_AGGREGATE,
             "-e", "proxy_compute_node_availability_zone=%s" % PROXY_AGGREGATE,
             *extra, str(ROOT / "playbooks" / "proxy_compute.yml")],
            env=clean_env(**lab["env"]), capture_output=True, text=True, timeout=900, check=False)
        return completed, completed.stdout + completed.stderr, time.monotonic() - started

    first = play()
    try:
        yield {"first": first, "play": play, "hosts": hosts, "cloud": cloud, "variables": variables}
    finally:
        remove_proxies(lab, cloud, list(hosts) + ["vmware-proxy-rogue"])


def mapping(provisioned):
    return [{"host": host, "cluster": spec["proxy_compute_node_cluster"]} for host, spec in provisioned["hosts"].items()]


def test_play_gives_one_vmware_hypervisor_per_cluster_with_the_clusters_memory(lab, provisioned):
    completed, output, seconds = provisioned["first"]
    assert completed.returncode == 0, output
    print("first run of the play: %.0f s" % seconds)
    hypervisors = [row for row in openstack_cli(lab, "hypervisor", "list", "--long")
                   if row["Hypervisor Type"] == "VMware vCenter Server"]
    expected = cluster_capacity()
    assert len(hypervisors) == len(expected) == len(provisioned["hosts"])
    by_name = {row["Hypervisor Hostname"]: row for row in hypervisors}
    details = {h["hypervisor_hostname"]: h for h in provisioned["cloud"].hypervisors()}
    for host, spec in provisioned["hosts"].items():
        cluster = spec["proxy_compute_node_cluster"]
        name = next(name for name, h in details.items() if h["service"]["host"] == host)
        assert re.fullmatch(r"[a-z-]+-\d+\.[0-9a-f-]{36}", name), name
        assert by_name[name]["State"] == "up"
        assert by_name[name]["Memory MB"] == expected[cluster]["memory_mb"], (host, cluster)
        assert details[name]["vcpus"] == expected[cluster]["vcpus"]


def test_every_proxy_service_is_up_enabled_and_in_the_aggregates_zone(lab, provisioned):
    services = {row["Host"]: row for row in openstack_cli(lab, "compute", "service", "list", "--service", "nova-compute")}
    for host in provisioned["hosts"]:
        assert services[host]["State"] == "up", services[host]
        assert services[host]["Status"] == "enabled"
        assert services[host]["Zone"] == PROXY_AGGREGATE
    aggregate = openstack_cli(lab, "aggregate", "show", PROXY_AGGREGATE)
    assert sorted(aggregate["hosts"]) == sorted(provisioned["hosts"])
    assert aggregate["availability_zone"] == PROXY_AGGREGATE


def test_placement_holds_each_cluster_with_the_largest_host_as_max_unit(lab, provisioned):
    run = run_module("compute_proxy", {"proxies": mapping(provisioned)}, env=clean_env(**lab["env"]))
    assert not run.failed and not run.result["changed"], run.msg
    expected = cluster_capacity()
    for row in run.result["proxies"]:
        assert row["status"] == "ok"
        memory = row["placement"]["inventories"]["MEMORY_MB"]
        assert memory["total"] == expected[row["cluster"]]["memory_mb"]
        assert memory["max_unit"] == expected[row["cluster"]]["largest_host_mb"]
        assert row["hypervisor"]["type"] == "VMware vCenter Server" and row["hypervisor"]["version"] == "6.5.0"


def test_a_second_run_changes_nothing(lab, provisioned):
    completed, output, seconds = provisioned["play"]()
    assert completed.returncode == 0, output
    assert recap(output)["changed"] == 0, output
    print("second run of the play: %.0f s" % seconds)


def test_disabling_a_proxy_shows_a_diff_in_check_mode_then_applies_once(lab, provisioned):
    env = clean_env(**lab["env"])
    wanted = mapping(provisioned)
    host = wanted[1]["host"]
    wanted[1].update(enabled=False, disabled_reason="vSphere maintenance CHG-1")
    checked = run_module("compute_proxy", {"proxies": wanted}, env=env, check_mode=True)
    assert checked.result["changed"] and not checked.failed, checked.msg
    assert checked.result["diff"]["after"][host] == {"status": "disabled", "disabled_reason": "vSphere maintenance CHG-1"}
    assert provisioned["cloud"].services()[host]["status"] == "enabled"
    try:
        applied = run_module("compute_proxy", {"proxies": wanted}, env=env)
        assert applied.result["changed"], applied.msg
        service = provisioned["cloud"].services()[host]
        assert (service["status"], service["disabled_reason"]) == ("disabled", "vSphere maintenance CHG-1")
        assert not run_module("compute_proxy", {"proxies": wanted}, env=env).result["changed"]
    finally:
        restored = run_module("compute_proxy", {"proxies": mapping(provisioned)}, env=env)
        assert restored.result["changed"] and provisioned["cloud"].services()[host]["status"] == "enabled"


def test_the_role_refuses_a_duplicated_mapping_before_touching_a_host(lab, provisioned, tmp_path):
    hosts = {name: dict(spec, proxy_compute_node_cluster="Cluster-A") for name, spec in provisioned["hosts"].items()}
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(json.dumps({"all": {"children": {"vmware_proxies": {"hosts": hosts}}}}))
    completed = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-i", str(inventory), "-e", "@%s" % provisioned["variables"],
         "-e", "proxy_compute_node_config_dir=%s/{{ proxy_compute_node_host }}" % tmp_path,
         str(ROOT / "playbooks" / "proxy_compute.yml")],
        env=clean_env(**lab["env"]), capture_output=True, text=True, timeout=300, check=False)
    output = completed.stdout + completed.stderr
    assert completed.returncode != 0
    assert "Cluster-A is mapped to %s" % " and ".join(sorted(hosts)) in output
    assert recap(output)["changed"] == 0
    assert not any((tmp_path / host).exists() for host in hosts)


def test_a_second_service_claiming_a_cluster_is_flagged(lab, provisioned, tmp_path):
    """A rogue nova-compute with proxy-a's settings under another host name: placement refuses its
    provider, but nova lists its hypervisor beside proxy-a's, and compute_proxy must fail."""
    cloud = provisioned["cloud"]
    first = mapping(provisioned)[0]
    etc = lab["state"] / "proxies" / first["host"] / "etc"
    base = (etc / "nova.conf").read_text()
    base = re.sub(r"(?m)^host = .*$", "host = vmware-proxy-rogue", base)
    base = re.sub(r"(?m)^state_path = .*$", "state_path = %s" % (tmp_path / "state"), base)
    (tmp_path / "state").mkdir()
    (tmp_path / "nova.conf").write_text(base)
    (tmp_path / "nova.conf").chmod(0o600)
    log = open(tmp_path / "rogue.log", "wb")
    rogue = subprocess.Popen([str(lab["state"] / "venv" / "bin" / "nova-compute"), "--config-file", str(tmp_path / "nova.conf"),
                              "--config-file", str(etc / "vmware.conf")], stdout=log, stderr=subprocess.STDOUT,
                             start_new_session=True)
    try:
        deadline = time.monotonic() + 180
        while cloud.services().get("vmware-proxy-rogue", {}).get("state") != "up":
            assert rogue.poll() is None and time.monotonic() < deadline, (tmp_path / "rogue.log").read_text()[-3000:]
            time.sleep(1)
        discover = json.loads(provisioned["variables"].read_text().split("\n", 1)[1])["proxy_compute_node_discover_command"]
        subprocess.run(discover, check=True, capture_output=True, timeout=120)
        deadline = time.monotonic() + 120
        while not any(h["service"]["host"] == "vmware-proxy-rogue" for h in cloud.hypervisors()):
            assert time.monotonic() < deadline, (tmp_path / "rogue.log").read_text()[-3000:]
            time.sleep(1)
        assert "Conflicting resource provider name" in (tmp_path / "rogue.log").read_text()

        run = run_module("compute_proxy", {"proxies": mapping(provisioned)}, env=clean_env(**lab["env"]))
        assert run.failed
        assert run.result["conflicts"] == [{
            "cluster": first["cluster"], "cluster_moid": run.result["proxies"][0]["cluster_moid"],
            "vcenter_uuid": run.result["proxies"][0]["vcenter_uuid"], "nodename": run.result["proxies"][0]["nodename"],
            "hosts": sorted([first["host"], "vmware-proxy-rogue"])}]
        assert "is claimed by 2 nova-compute services" in run.msg
        assert run.result["actions"] == []
    finally:
        if rogue.poll() is None:
            os.killpg(rogue.pid, signal.SIGTERM)
            rogue.wait(timeout=60)
        log.close()
        rogue_service = cloud.services().get("vmware-proxy-rogue")
        if rogue_service:
            cloud.delete_service(rogue_service)
