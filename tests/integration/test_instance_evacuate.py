"""instance_evacuate against the lab's mini OpenStack, where a real KVM host loses its power.

Each test boots its own servers, real guests of the lab's guest image (docs/lab.md, "The guest
image"), on kvm-compute-1 and fails that host with the lab's power cut (`lab host-power
kvm-compute-1 off`: its nova-compute, libvirtd and every QEMU of it SIGKILLed at once). At the end
the fixture powers it on again (its nova-compute's start destroys the domains evacuated
meanwhile), brings it back with state: restored, checks that no guest runs twice, and deletes the
servers, so the tests do not depend on each other.

The lab runs two KVM hosts, so the target of every evacuation is kvm-compute-2. That an instance
booted there is read on its serial console: the guest prints nova's instance UUID, and a token it
wrote on its disk at the disk's first boot; a token other than the one printed before the failure
proves the data-loss warning for image-backed disks true (the disk was rebuilt from the image).

Room on the target is limited with flavors sized against the memory placement gives the hosts
(what libvirt reports, less nova's reserve): a filler instance leaves kvm-compute-2 room for small
instances and for no big one. QEMU allocates a guest's memory only as the guest touches it, and
this guest touches little, so the big flavors cost the machine next to nothing.
"""

import json
import os
import signal
import subprocess
import sys
import time

import pytest

from helpers.kvm import KvmCloud, host_power
from helpers.lab import ROOT, VENV_BIN
from helpers.playbook import run_module, write_playbook

sys.path.insert(0, str(ROOT / "tests" / "lab"))
from minilab.supervisor import descendants  # noqa: E402  pylint: disable=wrong-import-position

SOURCE = "kvm-compute-1"
TARGET = "kvm-compute-2"
SMALL = "evac-small"
SMALL_RAM = 128


class EvacuationCloud(KvmCloud):
    """The lab's nova with the flavors these tests boot and what they check: migrations, room left on a host."""

    def __init__(self, env):
        super().__init__(env)
        self.flavor(SMALL, SMALL_RAM)

    def boot(self, name, count, host, flavor=SMALL, metadata=None):
        return super().boot(name, count, host, flavor, metadata)

    def flavor(self, name, ram, extra_specs=None):
        super().flavor(name, ram)
        if extra_specs:
            self.call("POST", "/flavors/%s/os-extra_specs" % self.flavors[name], {"extra_specs": extra_specs})

    def service(self, host=SOURCE):
        return self.services()[host]

    def free_ram(self, host):
        """The MB of memory placement still lets the host's instances claim."""
        provider = next(h["id"] for h in self.hypervisors() if h["hypervisor_hostname"] == host)
        inventory = self.conn.placement.get("/resource_providers/%s/inventories" % provider,
                                            microversion="1.14").json()["inventories"]["MEMORY_MB"]
        used = self.conn.placement.get("/resource_providers/%s/usages" % provider,
                                       microversion="1.14").json()["usages"].get("MEMORY_MB", 0)
        return int((inventory["total"] - inventory["reserved"]) * inventory["allocation_ratio"]) - used

    def consoles(self, servers):
        """Each server's guest, as its last boot's console shows it, by name."""
        return {server["name"]: self.console(server["id"]) for server in servers}


@pytest.fixture(scope="module")
def cloud(lab):
    cloud = EvacuationCloud(lab["env"])
    assert {SOURCE, TARGET} <= set(cloud.hosts), "these tests need the lab's KVM hosts %s and %s" % (SOURCE, TARGET)
    yield cloud
    for name, flavor_id in cloud.flavors.items():
        if name != SMALL:
            cloud.call("DELETE", "/flavors/%s" % flavor_id)


class HostFailure:
    def __init__(self, cloud):
        self.cloud = cloud
        self.prefixes = []
        self.killed = False

    def boot(self, name, count, host=SOURCE, **options):
        self.prefixes.append(name)
        return self.cloud.boot(name, count, host, **options)

    def kill(self):
        """The failure: the source host's power is cut; none of its guests runs any more."""
        host_power(SOURCE, "off")
        self.killed = True
        for prefix in self.prefixes:
            for server in self.cloud.servers(prefix):
                assert self.cloud.qemus(server) in ([], [TARGET]), server["name"]


@pytest.fixture
def failure(cloud, admin_env):
    service = cloud.service()
    assert (service["state"], service["status"], service["forced_down"]) == ("up", "enabled", False), service
    # The module evacuates every instance of the host: only the test's may be there.
    others = cloud.listing("/servers/detail?all_tenants=1&host=%s" % SOURCE, "servers")
    assert not others, "servers on %s before the test: %s" % (SOURCE, [s["name"] for s in others])
    failure = HostFailure(cloud)
    yield failure
    if failure.killed:
        # Waits for the compute's first report, after its start destroyed the evacuated domains.
        host_power(SOURCE, "on")
    restored = evacuate(admin_env, state="restored")
    assert not restored.failed, restored.output
    # No guest runs twice, nor anywhere but on the host nova says.
    for prefix in failure.prefixes:
        for server in cloud.servers(prefix):
            qemus = cloud.qemus(server)
            assert len(qemus) <= 1 and set(qemus) <= {server["OS-EXT-SRV-ATTR:host"]}, (server["name"], qemus)
    cloud.delete(failure.prefixes)
    assert (cloud.service()["status"], cloud.service()["forced_down"]) == ("enabled", False)


def evacuate(env, check_mode=False, **args):
    return run_module("instance_evacuate", dict(host=SOURCE, **args), env=env, check_mode=check_mode)


def rows_by_name(run):
    return {row["name"]: row for row in run.result["instances"]}


def test_a_dead_hosts_instances_come_back_elsewhere_as_they_were(cloud, failure, admin_env):
    # The three opt in (opt_in: metadata, the default key evacuable); ev-out does not and stays.
    servers = failure.boot("ev-all", 3, metadata={"evacuable": "True"})
    left = failure.boot("ev-out", 1, metadata={"evacuable": "no"})
    by_name = {s["name"]: s for s in servers}
    # Each guest booted on the source and wrote its token on its disk before the failure.
    first = cloud.consoles(servers)
    for name, console in first.items():
        expected = (by_name[name]["id"], cloud.manifest["data"], "new")
        assert (console.uuid, console.data, console.token_state) == expected, (name, console)
    before = dict.fromkeys(by_name, "active")
    cloud.action(by_name["ev-all-1"], {"os-stop": None})
    before["ev-all-1"] = "stopped"
    # In error but last seen running: it must come back running.
    cloud.action(by_name["ev-all-2"], {"os-resetState": {"state": "error"}})
    before["ev-all-2"] = "error"
    cloud.wait("ev-all", 3, lambda s: s["OS-EXT-STS:vm_state"] == before[s["name"]])
    failure.kill()

    run = evacuate(admin_env, fenced=True, opt_in="metadata")

    assert not run.failed, run.output
    assert run.result["changed"]
    assert (run.result["summary"]["done"], run.result["summary"]["filtered_out"]) == (3, 1)
    assert "lose local data" in run.output  # image-backed, no shared storage: warned
    out = rows_by_name(run)["ev-out"]
    assert (out["action"], out["status"], out["attempts"]) == ("filtered_out", "skipped", 0)
    assert out["reason"] == "not opted in (opt_in metadata): metadata evacuable is 'no'; true, yes or 1 opts in"
    assert [s["OS-EXT-SRV-ATTR:host"] for s in cloud.servers("ev-out")] == [SOURCE]
    assert cloud.evacuations(SOURCE, left) == []
    after = {s["name"]: s for s in cloud.servers("ev-all")}
    for name, server in after.items():
        row = rows_by_name(run)[name]
        expected = "stopped" if before[name] == "stopped" else "active"
        assert server["OS-EXT-SRV-ATTR:host"] == TARGET
        assert (server["OS-EXT-STS:vm_state"], row["vm_state"], row["status"]) == (expected, expected, "done")
        assert row["to"] == TARGET
    assert sorted(m["status"] for m in cloud.evacuations(SOURCE, servers)) == ["done"] * 3
    # The stopped one came back stopped: started now, it boots on the target too.
    cloud.action(after["ev-all-1"], {"os-start": None})
    cloud.wait("ev-all", 3, lambda s: s["status"] == "ACTIVE")
    # Each guest booted on the target (its QEMU runs there, nova's instance UUID on its console) from a disk
    # rebuilt from the image: the token written before the failure is gone, as the module warned.
    for name, console in cloud.consoles(servers).items():
        assert cloud.qemus(after[name]) == [TARGET], name
        expected = (by_name[name]["id"], cloud.manifest["data"], "new")
        assert (console.uuid, console.data, console.token_state) == expected, (name, console)
        assert console.token != first[name].token, name
    service = cloud.service()
    assert (service["forced_down"], service["status"]) == (True, "disabled")
    assert service["disabled_reason"].startswith("instance_evacuate:")

    again = evacuate(admin_env, fenced=True, opt_in="metadata")
    assert not again.failed and not again.result["changed"], again.output
    assert {row["name"]: row["action"] for row in again.result["instances"]} == dict(
        {name: "already_evacuated" for name in by_name}, **{"ev-out": "filtered_out"})

    # The host is still dead, so its evacuations are 'done', not 'completed': nova would refuse too.
    early = evacuate(admin_env, state="restored")
    assert early.failed
    assert "has not yet cleaned up after the evacuation" in early.msg
    assert cloud.service()["forced_down"] is True


def test_a_live_source_is_refused_and_nothing_changes(cloud, failure, admin_env):
    servers = failure.boot("ev-live", 1)

    for check_mode in (True, False):
        run = evacuate(admin_env, check_mode=check_mode)
        assert run.failed
        assert run.msg.startswith("nova-compute on kvm-compute-1 is up (last heartbeat")
        assert "fenced: true" in run.msg

    service = cloud.service()
    assert (service["state"], service["status"], service["forced_down"]) == ("up", "enabled", False)
    assert {s["OS-EXT-SRV-ATTR:host"] for s in cloud.servers("ev-live")} == {SOURCE}
    assert cloud.evacuations(SOURCE, servers) == []


def test_check_mode_returns_the_plan_and_changes_nothing(cloud, failure, admin_env):
    # Opted in by metadata, by the flavor's extra spec, or not at all. The key has a namespace: the lab's
    # AggregateInstanceExtraSpecsFilter would read an extra spec without one as aggregate metadata to match.
    cloud.flavor("evac-small-ha", SMALL_RAM, {"ha:evacuable": "Yes"})
    servers = failure.boot("ev-plan-ha", 2, metadata={"ha:evacuable": "true"})
    servers += failure.boot("ev-plan-fl", 1, flavor="evac-small-ha")
    servers += failure.boot("ev-plan-no", 1)
    cloud.action(servers[0], {"os-stop": None})
    cloud.wait("ev-plan-ha", 2, lambda s: s["id"] != servers[0]["id"] or s["OS-EXT-STS:vm_state"] == "stopped")
    failure.kill()

    run = evacuate(admin_env, check_mode=True, fenced=True, opt_in="any", opt_in_key="ha:evacuable",
                   shared_storage=True)

    assert not run.failed, run.output
    assert run.result["changed"]
    rows = rows_by_name(run)
    assert {name: (row["action"], row["status"]) for name, row in rows.items()} == {
        "ev-plan-ha-1": ("evacuate", "planned"), "ev-plan-ha-2": ("evacuate", "planned"),
        "ev-plan-fl": ("evacuate", "planned"), "ev-plan-no": ("filtered_out", "skipped")}
    assert rows["ev-plan-no"]["reason"] == ("not opted in (opt_in any): metadata ha:evacuable is not set and flavor "
                                            "extra spec ha:evacuable is not set; true, yes or 1 opts in")
    assert run.result["summary"]["filtered_out"] == 1
    assert sorted(row["expected_vm_state"] for row in rows.values() if row["action"] == "evacuate") == [
        "active", "active", "stopped"]
    assert run.result["service"]["forced_down"] is True  # what it would be
    service = cloud.service()
    assert (service["status"], service["forced_down"]) == ("enabled", False)
    assert {s["OS-EXT-SRV-ATTR:host"] for s in cloud.servers("ev-plan")} == {SOURCE}
    assert cloud.evacuations(SOURCE, servers) == []


def test_a_target_without_room_fails_those_instances_and_the_others_succeed(cloud, failure, admin_env):
    # A big instance takes a third of a host; the filler leaves the target room for the small ones only.
    big_ram = cloud.free_ram(SOURCE) // 3
    cloud.flavor("evac-big", big_ram)
    cloud.flavor("evac-filler", cloud.free_ram(TARGET) - big_ram + 1)
    small = failure.boot("ev-room-small", 2)
    big = failure.boot("ev-room-big", 1, flavor="evac-big")
    failure.boot("ev-room-fill", 1, host=TARGET, flavor="evac-filler")
    assert 2 * SMALL_RAM <= cloud.free_ram(TARGET) < big_ram
    failure.kill()

    run = evacuate(admin_env, fenced=True, target_host=TARGET, shared_storage=True)

    assert run.failed
    rows = rows_by_name(run)
    assert run.result["summary"]["done"] == 2 and run.result["summary"]["failed"] == 1
    for server in small:
        assert (rows[server["name"]]["status"], rows[server["name"]]["to"]) == ("done", TARGET)
    # Refused by the target, then by the scheduler, which has no other host with room (the source is down).
    failed = rows[big[0]["name"]]
    assert (failed["status"], failed["to"], failed["attempts"]) == ("failed", None, 3)
    assert "No valid host was found" in failed["error"] and "(after 3 attempts)" in failed["error"]
    assert run.msg.startswith("1 of 3 instances were not evacuated from kvm-compute-1: %s" % failed["name"])
    assert len(failed["earlier_errors"]) == 2
    assert {s["OS-EXT-SRV-ATTR:host"] for s in cloud.servers("ev-room-small")} == {TARGET}
    assert {s["OS-EXT-SRV-ATTR:host"] for s in cloud.servers("ev-room-big")} == {SOURCE}


def test_an_interrupted_run_is_resumed_by_the_next_one(cloud, failure, admin_env, tmp_path):
    servers = failure.boot("ev-resume", 5)
    failure.kill()

    interrupted = start_module("instance_evacuate", dict(host=SOURCE, fenced=True, concurrency=2), admin_env,
                               tmp_path)
    try:
        deadline = time.monotonic() + 120
        while sum(m["status"] == "done" for m in cloud.evacuations(SOURCE, servers)) < 2:
            assert time.monotonic() < deadline and interrupted.poll() is None, "the first run ended too early"
            time.sleep(0.5)
    finally:
        kill_tree(interrupted.pid)
        interrupted.wait()
    assert sum(m["status"] == "done" for m in cloud.evacuations(SOURCE, servers)) < 5

    run = evacuate(admin_env, fenced=True)

    assert not run.failed, run.output
    actions = [row["action"] for row in run.result["instances"]]
    assert actions.count("already_evacuated") >= 2
    assert {row["status"] for row in run.result["instances"]} == {"done"}
    assert all(s["OS-EXT-SRV-ATTR:host"] == TARGET and s["status"] == "ACTIVE" for s in cloud.servers("ev-resume"))
    # Each instance was evacuated exactly once: no evacuation of this run or the last was started twice.
    done = [m["instance_uuid"] for m in cloud.evacuations(SOURCE, servers) if m["status"] == "done"]
    assert sorted(done) == sorted(s["id"] for s in servers)


def test_the_playbook_takes_survey_answers_and_summarises(cloud, failure, admin_env):
    failure.boot("ev-book", 2)
    failure.kill()
    # As an AWX survey sends them: every answer a string, an empty one meaning "not set".
    answers = {"evacuate_host": SOURCE, "evacuate_fenced": "true", "evacuate_target_host": "",
               "evacuate_concurrency": "4", "evacuate_opt_in": "all", "evacuate_opt_in_key": ""}

    run = playbook(admin_env, answers)

    assert run.returncode == 0, run.stdout
    assert "kvm-compute-1: 2 evacuated, 0 failed, 0 left on the host, in" in run.stdout
    assert "nova-compute disabled and down, forced down" in run.stdout
    assert run.stdout.count("done: on kvm-compute-") == 2
    refused = playbook(admin_env, dict(answers, evacuate_state="restored"))
    assert refused.returncode != 0
    assert "has not yet cleaned up after the evacuation" in refused.stdout


def playbook(env, extra_vars):
    return subprocess.run([str(VENV_BIN / "ansible-playbook"), str(ROOT / "playbooks" / "evacuate_host.yml"),
                           "-e", json.dumps(extra_vars)], env=env, capture_output=True, text=True, check=False)


def kill_tree(pid):
    """SIGKILL a process and all its descendants: ansible runs each task in a worker of its own session."""
    for member in [pid, *descendants(pid)]:
        try:
            os.kill(member, signal.SIGKILL)
        except ProcessLookupError:
            pass


def start_module(name, args, env, workdir):
    """ansible-playbook running one module, in the background."""
    playbook = write_playbook(workdir, [(name, args, False)])
    return subprocess.Popen([str(VENV_BIN / "ansible-playbook"), str(playbook)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
