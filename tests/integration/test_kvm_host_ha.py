"""KVM host HA in the lab: the playbook's gates, and the whole recovery under real ansible-rulebook.

The lab's two KVM hosts run real guests; each has a Redfish BMC (sushy-tools, tests/lab/minilab/bmc.py)
whose power-off is the lab's power cut, and the site inventory (`lab site-vars`) gives playbooks each
host's BMC as its `bmc` variable. A host fails in two ways here: its nova-compute stops while the host
stays powered on (its guests still run: fencing must happen before anything is evacuated), or its power
is cut (`lab host-power off`).
"""

import json
import subprocess
import time

import pytest

from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._openstack import host_health

from helpers.bmc import endpoints
from helpers.eda import Rulebook, summaries
from helpers.kvm import KvmCloud, host_power, stop_compute
from helpers.lab import ROOT, VENV_BIN
from helpers.playbook import run_module

SOURCE, TARGET = "kvm-compute-1", "kvm-compute-2"
FLAVOR = "ha-small"
CLAIM = "mixed-cloud-ha-recovery:" + SOURCE
# Faster than the defaults (25 s, 3 reads every 2 s) so that the tests wait less; still above twice
# nova's report_interval (10 s).
STALE_AFTER = 20


class HaCloud(KvmCloud):
    def __init__(self, env):
        super().__init__(env)
        self.flavor(FLAVOR, 128)

    def wait_silent(self, hosts, timeout=120):
        """Until every one of HOSTS is down: its heartbeat (its service's updated_at) lags the newest of all nova
        services by STALE_AFTER, as compute_host_health measures it; nova read every second."""
        deadline = time.monotonic() + timeout
        while True:
            services = self.call("GET", "/os-services")["services"]
            stamps = [host_health.stamp_seconds(service["updated_at"]) for service in services]
            newest = max(stamp for stamp in stamps if stamp is not None)
            lags = {service["host"]: newest - stamp for service, stamp in zip(services, stamps)
                    if service["binary"] == "nova-compute" and service["host"] in hosts and stamp is not None}
            if len(lags) == len(hosts) and min(lags.values()) >= STALE_AFTER:
                return
            assert time.monotonic() < deadline, lags
            time.sleep(1)


@pytest.fixture(scope="module")
def cloud(lab, admin_env, site_inventory_file):
    cloud = HaCloud(lab["env"])
    cloud.admin_env = admin_env
    cloud.inventory = str(site_inventory_file)
    return cloud


@pytest.fixture
def guests(cloud, admin_env):
    """The test's servers (by prefix); afterwards both hosts run, SOURCE is restored, nothing runs twice."""
    assert not cloud.listing("/servers/detail?all_tenants=1&host=%s" % SOURCE, "servers")
    prefixes = []
    yield prefixes
    for host in (SOURCE, TARGET):
        host_power(host, "on")
    restored = run_module("instance_evacuate", {"host": SOURCE, "state": "restored"}, env=admin_env)
    assert not restored.failed, restored.output
    for prefix in prefixes:
        for server in cloud.servers(prefix):
            qemus = cloud.qemus(server)
            assert len(qemus) <= 1 and set(qemus) <= {server["OS-EXT-SRV-ATTR:host"]}, (server["name"], qemus)
    cloud.delete(prefixes)
    cloud.delete_aggregate(CLAIM)


def ha_playbook(cloud, env, **extra):
    variables = {"kvm_host_ha_stale_after": STALE_AFTER, **extra}
    completed = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-i", cloud.inventory, str(ROOT / "playbooks" / "kvm_host_ha.yml"),
         "-e", json.dumps(variables), "-v"], env=env, capture_output=True, text=True, timeout=600, check=False)
    return completed


def recoveries(completed):
    """The recoveries the playbook reported, from its `Say how each recovery went` lines."""
    return [line.strip()[len('"msg": "'):-1] for line in completed.stdout.splitlines()
            if line.strip().startswith('"msg": "kvm-')]


def test_the_gates_refuse_and_nothing_is_evacuated(cloud, guests, admin_env):
    guests.append("ha-gate")
    [server] = cloud.boot("ha-gate", 1, SOURCE, FLAVOR, metadata={"evacuable": "true"})
    qemus = cloud.qemus(server)
    secrets = [bmc["password"] for bmc in endpoints().values()]

    # Both hosts' computes stop: 2 of 2 down is more than half, a control-plane failure.
    stop_compute(SOURCE)
    stop_compute(TARGET)
    cloud.wait_silent([SOURCE, TARGET])
    both = ha_playbook(cloud, admin_env)
    assert both.returncode == 2, both.stdout  # an AWX schedule's job fails: someone must look
    lines = recoveries(both)
    assert len(lines) == 2 and all(": too_many_down (0 evacuated): 2 of 2 KVM hosts are down at once" in line
                                   for line in lines), lines

    # The target reports again (host_power returns after its first report); the source's BMC refuses the
    # password, then cannot be reached.
    host_power(TARGET, "on")
    wrong = dict(endpoints()[SOURCE], password="not-the-password")
    unreachable = dict(endpoints()[SOURCE], port=1)
    for bmc, cause in ((wrong, "refused the credentials"), (unreachable, "connection refused")):
        failed = ha_playbook(cloud, admin_env, bmc=bmc, kvm_host_ha_hosts=[SOURCE])
        assert failed.returncode == 2, failed.stdout
        [line] = recoveries(failed) or [failed.stdout]
        assert line.startswith("kvm-compute-1: fence_failed (0 evacuated): ") and cause in line, line
        assert not [secret for secret in secrets + ["not-the-password"] if secret in failed.stdout + failed.stderr]
    # Nothing was evacuated; the guest never stopped running where it was; the claim was released.
    assert cloud.evacuations(SOURCE, [server]) == []
    assert cloud.servers("ha-gate")[0]["OS-EXT-SRV-ATTR:host"] == SOURCE
    assert cloud.qemus(server) == qemus == [SOURCE]
    assert not [a for a in cloud.call("GET", "/os-aggregates")["aggregates"] if a["name"] == CLAIM]
    assert cloud.services()[SOURCE]["forced_down"] is False

    # The source comes back before anyone fenced it: an event about it is refused.
    host_power(SOURCE, "on")
    back = ha_playbook(cloud, admin_env, kvm_host_ha_hosts=[SOURCE])
    assert back.returncode == 0, back.stdout
    [line] = recoveries(back)
    assert line.startswith("kvm-compute-1: up (0 evacuated): kvm-compute-1 reports again"), line
    assert cloud.evacuations(SOURCE, [server]) == [] and cloud.qemus(server) == [SOURCE]


def test_a_power_cut_host_is_recovered_by_the_rulebook_once(cloud, guests, admin_env):
    guests.extend(["ha-in", "ha-out"])
    opted = cloud.boot("ha-in", 2, SOURCE, FLAVOR, metadata={"evacuable": "true"})
    [left] = cloud.boot("ha-out", 1, SOURCE, FLAVOR)
    variables = {"kvm_host_ha_stale_after": STALE_AFTER, "kvm_host_ha_opt_in": "metadata"}
    # Two rulebooks watch the same cloud (a second controller, or one started twice): both see the
    # failure, both run the playbook; one recovery happens.
    rulebooks = [Rulebook(admin_env, cloud.inventory, variables), Rulebook(admin_env, cloud.inventory, variables)]
    try:
        for rulebook in rulebooks:
            rulebook.wait_started()
        host_power(SOURCE, "off")
        events = [rulebook.wait_for(summaries, "a recovery summary", timeout=240)
                  for rulebook in rulebooks]
    finally:
        for rulebook in rulebooks:
            rulebook.stop()
    rows = [row for found in events for row in summaries(found)]
    assert sorted(row["outcome"] for row in rows) == ["claimed_elsewhere", "recovered"], rows
    recovered = next(row for row in rows if row["outcome"] == "recovered")
    assert (recovered["host"], recovered["evacuated"], recovered["left"]) == (SOURCE, 2, 1), recovered
    assert recovered["power"]["after"] == "off"
    assert recovered["detected_at"] < recovered["fenced_at"] < recovered["recovered_at"]  # the event's, then the run's

    # Every opted-in guest booted on the target: its QEMU runs there, nova's UUID on its console.
    after = {s["id"]: s for s in cloud.wait("ha-in", 2, lambda s: s["status"] == "ACTIVE")}
    for server in opted:
        assert after[server["id"]]["OS-EXT-SRV-ATTR:host"] == TARGET
        assert cloud.qemus(server) == [TARGET]
        assert cloud.console(server["id"]).uuid == server["id"]
    assert cloud.servers("ha-out")[0]["OS-EXT-SRV-ATTR:host"] == SOURCE
    assert [m["instance_uuid"] for m in cloud.evacuations(SOURCE, [left])] == []
    assert sorted(m["status"] for m in cloud.evacuations(SOURCE, opted)) == ["done", "done"]

    # Powered on through its BMC, the old host's nova-compute removes the evacuated guests: each runs once.
    bmc = endpoints()[SOURCE]
    on = run_module("bmc_power", dict(bmc, state="on"), env=admin_env)
    assert not on.failed and on.result["power"] == {"before": "off", "after": "on"}, on.output
    cloud.wait_reporting(SOURCE)
    for server in opted:
        assert cloud.qemus(server) == [TARGET]
