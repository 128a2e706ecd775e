"""instance_evacuate against the lab's mini OpenStack, where a fake-driver compute really dies.

Each test boots its own servers on kvm-compute-1 and "fails" that host by stopping its
nova-compute process through the lab's supervisor. At the end the fixture starts it again
(`lab up`, which restarts whatever is missing) and brings it back with state: restored, so
the tests do not depend on each other.

Room on a target is limited with flavors rather than by editing placement (nova-compute
would rewrite its inventory): the fake driver reports 800000 MB per node, 512 of them
reserved, so a 600000 MB filler instance leaves a host room for no 300000 MB instance,
and a 300000 MB filler for exactly one.
"""

import json
import os
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from helpers.cloud import Cloud
from helpers.lab import LAB, ROOT, VENV_BIN
from helpers.playbook import PLAYBOOK, run_module

sys.path.insert(0, str(ROOT / "tests" / "lab"))
from minilab.config import LabConfig  # noqa: E402  pylint: disable=wrong-import-position
from minilab.supervisor import Supervisor, descendants  # noqa: E402  pylint: disable=wrong-import-position

SOURCE = "kvm-compute-1"
FLAVORS = {"evac-small": 512, "evac-300g": 300000, "evac-600g": 600000}
IMAGE = "evac-tiny"


class EvacuationCloud(Cloud):
    """The lab's nova as its admin, with the image and flavors these tests boot, to set scenes and check outcomes."""

    def __init__(self, env):
        super().__init__(env)
        self.image = self._image()
        self.flavors = {name: self._flavor(name, ram) for name, ram in FLAVORS.items()}

    def boot(self, name, count, host, flavor="evac-small", metadata=None):
        server = {"name": name, "imageRef": self.image, "flavorRef": self.flavors[flavor], "networks": "none",
                  "host": host, "min_count": count, "max_count": count, "metadata": metadata or {}}
        # 2.74: a host named at boot still goes through the scheduler.
        self.call("POST", "/servers", {"server": server}, microversion="2.74")
        return self.wait(name, count, lambda s: s["status"] == "ACTIVE")

    def servers(self, prefix):
        return self.listing("/servers/detail?all_tenants=1&name=^%s" % prefix, "servers")

    def wait(self, prefix, count, done, timeout=180):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            servers = self.servers(prefix)
            assert not [s for s in servers if s["status"] == "ERROR" and not done(s)], servers
            if len(servers) == count and all(done(s) for s in servers):
                return servers
            time.sleep(1)
        raise AssertionError("servers %s not ready in %s s: %s" % (prefix, timeout, self.servers(prefix)))

    def action(self, server, body):
        self.call("POST", "/servers/%s/action" % server["id"], body)

    def service(self, host=SOURCE):
        return self.services()[host]

    def evacuations(self, servers):
        ids = {s["id"] for s in servers}
        migrations = self.listing("/os-migrations?migration_type=evacuation&source_compute=%s" % SOURCE, "migrations",
                                  microversion="2.59")
        return [m for m in migrations if m["instance_uuid"] in ids]

    def delete(self, prefixes):
        for prefix in prefixes:
            for server in self.servers(prefix):
                self.call("DELETE", "/servers/%s" % server["id"])
        deadline = time.monotonic() + 120
        while any(self.servers(prefix) for prefix in prefixes) and time.monotonic() < deadline:
            time.sleep(1)

    def _image(self):
        # A list by name: find_image's first guess, a GET by id, ends in a 404 after which the lab's
        # glance may drop the kept-alive connection.
        found = list(self.conn.image.images(name=IMAGE))
        if found:
            return found[0].id
        with tempfile.TemporaryDirectory() as workdir:
            path = Path(workdir) / "tiny.qcow2"
            subprocess.run(["qemu-img", "create", "-f", "qcow2", str(path), "16M"], check=True, capture_output=True)
            return self.conn.create_image(IMAGE, filename=str(path), disk_format="qcow2", container_format="bare",
                                          wait=True).id

    def _flavor(self, name, ram):
        found = self.conn.compute.find_flavor(name)
        if found:
            return found.id
        flavor = {"name": name, "ram": ram, "vcpus": 1, "disk": 1}
        return self.call("POST", "/flavors", {"flavor": flavor})["flavor"]["id"]


@pytest.fixture(scope="module")
def cloud(lab):
    return EvacuationCloud(lab["env"])


class HostFailure:
    def __init__(self, cloud):
        self.cloud = cloud
        self.prefixes = []
        self.killed = False

    def boot(self, name, count, host=SOURCE, **options):
        self.prefixes.append(name)
        return self.cloud.boot(name, count, host, **options)

    def kill(self):
        """The failure: the source's nova-compute process is gone, as with a dead host."""
        assert Supervisor(LabConfig.from_env()).stop("nova-compute-1")
        self.killed = True


@pytest.fixture
def failure(cloud, admin_env):
    service = cloud.service()
    assert (service["state"], service["status"], service["forced_down"]) == ("up", "enabled", False), service
    failure = HostFailure(cloud)
    yield failure
    if failure.killed:
        subprocess.run(LAB + ["up", "--only", "openstack"], check=True, stdout=subprocess.DEVNULL)
    restored = evacuate(admin_env, state="restored")
    assert not restored.failed, restored.output
    cloud.delete(failure.prefixes)
    assert (cloud.service()["status"], cloud.service()["forced_down"]) == ("enabled", False)


def evacuate(env, check_mode=False, **args):
    return run_module("instance_evacuate", dict(host=SOURCE, **args), env=env, check_mode=check_mode)


def rows_by_name(run):
    return {row["name"]: row for row in run.result["instances"]}


def test_a_dead_hosts_instances_come_back_elsewhere_as_they_were(cloud, failure, admin_env):
    servers = failure.boot("ev-all", 6)
    by_name = {s["name"]: s for s in servers}
    before = dict.fromkeys(by_name, "active")
    for name in ("ev-all-1", "ev-all-2"):
        cloud.action(by_name[name], {"os-stop": None})
        before[name] = "stopped"
    # In error but last seen running: it must come back running.
    cloud.action(by_name["ev-all-3"], {"os-resetState": {"state": "error"}})
    before["ev-all-3"] = "error"
    cloud.wait("ev-all", 6, lambda s: s["OS-EXT-STS:vm_state"] == before[s["name"]])
    failure.kill()

    run = evacuate(admin_env, fenced=True)

    assert not run.failed, run.output
    assert run.result["changed"]
    assert run.result["summary"]["done"] == 6
    assert "lose local data" in run.output  # image-backed, no shared storage: warned
    after = {s["name"]: s for s in cloud.servers("ev-all")}
    for name, server in after.items():
        row = rows_by_name(run)[name]
        expected = "stopped" if before[name] == "stopped" else "active"
        assert server["OS-EXT-SRV-ATTR:host"] != SOURCE
        assert (server["OS-EXT-STS:vm_state"], row["vm_state"], row["status"]) == (expected, expected, "done")
        assert row["to"] == server["OS-EXT-SRV-ATTR:host"]
    assert sorted(m["status"] for m in cloud.evacuations(servers)) == ["done"] * 6
    service = cloud.service()
    assert (service["forced_down"], service["status"]) == (True, "disabled")
    assert service["disabled_reason"].startswith("instance_evacuate:")

    again = evacuate(admin_env, fenced=True)
    assert not again.failed and not again.result["changed"], again.output
    assert {row["action"] for row in again.result["instances"]} == {"already_evacuated"}

    # The host is still dead, so its evacuations are 'done', not 'completed': nova would refuse too.
    early = evacuate(admin_env, state="restored")
    assert early.failed
    assert "has not yet cleaned up after the evacuation" in early.msg
    assert cloud.service()["forced_down"] is True


def test_a_live_source_is_refused_and_nothing_changes(cloud, failure, admin_env):
    servers = failure.boot("ev-live", 2)

    for check_mode in (True, False):
        run = evacuate(admin_env, check_mode=check_mode)
        assert run.failed
        assert run.msg.startswith("nova-compute on kvm-compute-1 is up (last heartbeat")
        assert "fenced: true" in run.msg

    service = cloud.service()
    assert (service["state"], service["status"], service["forced_down"]) == ("up", "enabled", False)
    assert {s["OS-EXT-SRV-ATTR:host"] for s in cloud.servers("ev-live")} == {SOURCE}
    assert cloud.evacuations(servers) == []


def test_check_mode_returns_the_plan_and_changes_nothing(cloud, failure, admin_env):
    servers = failure.boot("ev-plan-ha", 2, metadata={"HA_Enabled": "true"})
    servers += failure.boot("ev-plan-no", 1)
    cloud.action(servers[0], {"os-stop": None})
    cloud.wait("ev-plan-ha", 2, lambda s: s["id"] != servers[0]["id"] or s["OS-EXT-STS:vm_state"] == "stopped")
    failure.kill()

    run = evacuate(admin_env, check_mode=True, fenced=True, metadata_key="HA_Enabled", shared_storage=True)

    assert not run.failed, run.output
    assert run.result["changed"]
    rows = rows_by_name(run)
    assert {name: (row["action"], row["status"]) for name, row in rows.items()} == {
        "ev-plan-ha-1": ("evacuate", "planned"), "ev-plan-ha-2": ("evacuate", "planned"),
        "ev-plan-no": ("filtered_out", "skipped")}
    assert sorted(row["expected_vm_state"] for row in rows.values() if row["action"] == "evacuate") == [
        "active", "stopped"]
    assert run.result["service"]["forced_down"] is True  # what it would be
    service = cloud.service()
    assert (service["status"], service["forced_down"]) == ("enabled", False)
    assert {s["OS-EXT-SRV-ATTR:host"] for s in cloud.servers("ev-plan")} == {SOURCE}
    assert cloud.evacuations(servers) == []


def test_a_target_without_room_fails_those_instances_and_the_others_succeed(cloud, failure, admin_env):
    small = failure.boot("ev-room-small", 4)
    big = failure.boot("ev-room-big", 2, flavor="evac-300g")
    # kvm-compute-2, the named target, keeps room for small instances only; kvm-compute-3 for one big one.
    failure.boot("ev-room-fill-a", 1, host="kvm-compute-2", flavor="evac-600g")
    failure.boot("ev-room-fill-b", 1, host="kvm-compute-3", flavor="evac-300g")
    failure.kill()

    run = evacuate(admin_env, fenced=True, target_host="kvm-compute-2", shared_storage=True)

    assert run.failed
    rows = rows_by_name(run)
    assert run.result["summary"]["done"] == 5 and run.result["summary"]["failed"] == 1
    for server in small:
        assert rows[server["name"]]["status"] == "done"
    outcomes = sorted((rows[s["name"]]["status"], rows[s["name"]]["to"], rows[s["name"]]["attempts"]) for s in big)
    # Both were refused by the target; the scheduler found room on kvm-compute-3 for one of them.
    assert outcomes == [("done", "kvm-compute-3", 2), ("failed", None, 3)]
    failed = next(rows[s["name"]] for s in big if rows[s["name"]]["status"] == "failed")
    assert "No valid host was found" in failed["error"] and "(after 3 attempts)" in failed["error"]
    assert run.msg.startswith("1 of 6 instances were not evacuated from kvm-compute-1: %s" % failed["name"])
    assert len(failed["earlier_errors"]) == 2
    assert {s["OS-EXT-SRV-ATTR:host"] for s in cloud.servers("ev-room-small")} != {SOURCE}


def test_an_interrupted_run_is_resumed_by_the_next_one(cloud, failure, admin_env, tmp_path):
    servers = failure.boot("ev-resume", 8)
    failure.kill()

    interrupted = start_module("instance_evacuate", dict(host=SOURCE, fenced=True, concurrency=2), admin_env,
                               tmp_path)
    try:
        deadline = time.monotonic() + 120
        while sum(m["status"] == "done" for m in cloud.evacuations(servers)) < 2:
            assert time.monotonic() < deadline and interrupted.poll() is None, "the first run ended too early"
            time.sleep(0.5)
    finally:
        kill_tree(interrupted.pid)
        interrupted.wait()
    assert sum(m["status"] == "done" for m in cloud.evacuations(servers)) < 8

    run = evacuate(admin_env, fenced=True)

    assert not run.failed, run.output
    actions = [row["action"] for row in run.result["instances"]]
    assert actions.count("already_evacuated") >= 2
    assert {row["status"] for row in run.result["instances"]} == {"done"}
    assert all(s["OS-EXT-SRV-ATTR:host"] != SOURCE and s["status"] == "ACTIVE" for s in cloud.servers("ev-resume"))
    # Each instance was evacuated exactly once: no evacuation of this run or the last was started twice.
    done = [m["instance_uuid"] for m in cloud.evacuations(servers) if m["status"] == "done"]
    assert sorted(done) == sorted(s["id"] for s in servers)


def test_the_playbook_takes_survey_answers_and_summarises(cloud, failure, admin_env):
    failure.boot("ev-book", 2)
    failure.kill()
    # As an AWX survey sends them: every answer a string, an empty one meaning "not set".
    answers = {"evacuate_host": SOURCE, "evacuate_fenced": "true", "evacuate_target_host": "",
               "evacuate_concurrency": "4", "evacuate_metadata_key": ""}

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
    playbook = workdir / "play.yml"
    playbook.write_text(PLAYBOOK.format(module="nova_vsphere.mixed_cloud." + name, args=json.dumps(args),
                                        check_mode="false", result_file=workdir / "result.json"))
    return subprocess.Popen([str(VENV_BIN / "ansible-playbook"), str(playbook)], env=env,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
