#!/usr/bin/env python3
"""How fast instance_evacuate empties a failed host, against two baselines, in the lab.

    LAB_DIR=... LAB_PORT_OFFSET=... .venv/bin/python tests/bench/bench_evacuate.py [--sizes 20,100] \
        [--repeat 1] [--concurrency 20] [--fake-computes 3] [--only module --only fire-all ...]

Many instances on many hosts are cheap only on the lab's fake-driver computes, not on its
real KVM hosts: the script first starts FAKE_COMPUTES of them (`lab up --only openstack
--fake-computes N`, fake-compute-1..N beside the KVM hosts) and keeps its servers on them
with an aggregate of those hosts and a flavor that asks for it (AggregateInstanceExtraSpecsFilter),
so no server, booted or evacuated, lands on a KVM host.

For each size, repetition and way, the script boots that many servers on fake-compute-1,
stops that host's nova-compute (the failure), evacuates, and then restarts the compute,
brings its service back and deletes the servers. The ways of one repetition run one after
the other, so that they meet the same load of a shared machine. It prints the wall seconds of:

- module:     nova_vsphere.mixed_cloud.instance_evacuate as the one task of an ansible-playbook run
              (the wall of the whole command: ansible's start, the login, the module forcing the
              service down, its reads and its waits); also, labelled "inside", the seconds the module
              itself reports (from its first read to its last, without ansible and the login);
- serial:     evacuate one server, wait until it is done, then the next: what
              `openstack server evacuate --wait` per server gives;
- fire-all:   every evacuate call at once, then one poll of the migrations until all ended:
              nova's own throughput, the limit. It does not retry, so it also prints how many
              instances it left in error.

The baselines force the service down before their clock starts and poll every 0.5 s; the
module polls every second with few evacuations in flight, every 0.5 s with many.

Per size it then prints the ratio module / fire-all of the wall seconds (target <= 1.2), and
serial / module, each from the medians over the repetitions, with the spread (min..max).
"""

from __future__ import annotations

import argparse
import calendar
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
sys.path.insert(0, str(ROOT / "tests" / "lab"))
from helpers.cloud import Cloud  # noqa: E402  pylint: disable=wrong-import-position
from minilab.config import LabConfig  # noqa: E402  pylint: disable=wrong-import-position
from minilab.supervisor import Supervisor  # noqa: E402  pylint: disable=wrong-import-position

SOURCE = "fake-compute-1"
SOURCE_SERVICE = "nova-compute-fake-1"
PREFIX = "bench-evac"
# The aggregate of the fake computes and the flavor that keeps the servers in it.
AGGREGATE = "bench-evac-fakes"
FLAVOR = "bench-evac-fake"
EXTRA_SPEC = {"aggregate_instance_extra_specs:bench_evac": "fake"}
POLL = 0.5
# One task, nothing else to time: its result is read from the output (-v prints it as JSON).
PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - nova_vsphere.mixed_cloud.instance_evacuate: {args}
"""


class Lab(Cloud):
    """The lab's nova as its admin (the tests' Cloud), with the fake computes and what the three ways share."""

    def __init__(self, state, fake_computes):
        self.state = state
        self.fake_computes = fake_computes
        self.up()
        self.clouds = state / "clouds.yaml"
        super().__init__({"OS_CLIENT_CONFIG_FILE": str(self.clouds), "OS_CLOUD": "lab-admin"})
        self.image = self._image()
        self.flavor = self._flavor()
        self._aggregate()

    def up(self):
        """The lab's OpenStack with the fake computes (started if missing, restarted if stopped)."""
        subprocess.run([sys.executable, str(ROOT / "tests" / "lab" / "lab"), "up", "--only", "openstack",
                        "--fake-computes", str(self.fake_computes)], check=True, stdout=subprocess.DEVNULL)

    def _image(self):
        found = list(self.conn.image.images(name="evac-tiny"))
        if found:
            return found[0].id
        with tempfile.TemporaryDirectory() as workdir:
            path = Path(workdir) / "tiny.qcow2"
            subprocess.run(["qemu-img", "create", "-f", "qcow2", str(path), "16M"], check=True, capture_output=True)
            return self.conn.create_image("evac-tiny", filename=str(path), disk_format="qcow2",
                                          container_format="bare", wait=True).id

    def _flavor(self):
        found = self.conn.compute.find_flavor(FLAVOR)
        if found:
            return found.id
        flavor = {"name": FLAVOR, "ram": 512, "vcpus": 1, "disk": 1}
        flavor_id = self.call("POST", "/flavors", {"flavor": flavor})["flavor"]["id"]
        self.call("POST", "/flavors/%s/os-extra_specs" % flavor_id, {"extra_specs": EXTRA_SPEC})
        return flavor_id

    def _aggregate(self):
        """Every fake compute, and none of the KVM hosts, in AGGREGATE, whose metadata the flavor asks for."""
        aggregate = next((a for a in self.call("GET", "/os-aggregates")["aggregates"] if a["name"] == AGGREGATE),
                         None)
        if aggregate is None:
            aggregate = self.call("POST", "/os-aggregates", {"aggregate": {"name": AGGREGATE}})["aggregate"]
            aggregate["hosts"] = []
        metadata = {key.split(":", 1)[1]: value for key, value in EXTRA_SPEC.items()}
        self.call("POST", "/os-aggregates/%s/action" % aggregate["id"], {"set_metadata": {"metadata": metadata}})
        fakes = {s["host"] for s in self.call("GET", "/os-services?binary=nova-compute", microversion="2.53")["services"]
                 if s["host"].startswith("fake-compute-")}
        for host in sorted(fakes - set(aggregate["hosts"] or [])):
            self.call("POST", "/os-aggregates/%s/action" % aggregate["id"], {"add_host": {"host": host}})
        if SOURCE not in fakes:
            raise SystemExit("the lab runs no %s (lab up --fake-computes N started none?)" % SOURCE)

    def servers(self):
        return self.listing("/servers/detail?all_tenants=1&name=^%s" % PREFIX, "servers")

    def servers_on_source(self):
        return self.listing("/servers/detail?all_tenants=1&host=%s" % SOURCE, "servers")

    def service(self):
        return self.call("GET", "/os-services?binary=nova-compute&host=" + SOURCE, microversion="2.53")["services"][0]

    def evacuations(self, since):
        found = self.listing("/os-migrations?migration_type=evacuation&source_compute=%s&changes-since=%s"
                             % (SOURCE, since), "migrations", microversion="2.59")
        latest = {}
        for migration in sorted(found, key=lambda m: m["id"]):
            latest[migration["instance_uuid"]] = migration
        return latest

    def evacuate(self, server_id):
        self.call("POST", "/servers/%s/action" % server_id, {"evacuate": {}}, microversion="2.68")

    def fail_source(self, count):
        server = {"name": PREFIX, "imageRef": self.image, "flavorRef": self.flavor, "networks": "none",
                  "host": SOURCE, "min_count": count, "max_count": count}
        # 2.74: a host named at boot still goes through the scheduler.
        self.call("POST", "/servers", {"server": server}, microversion="2.74")
        self.wait(lambda servers: len(servers) == count and all(s["status"] == "ACTIVE" for s in servers),
                  "%d servers ACTIVE" % count)
        Supervisor(LabConfig.from_env()).stop(SOURCE_SERVICE)

    def force_down(self):
        self.call("PUT", "/os-services/%s" % self.service()["id"], {"forced_down": True}, microversion="2.53")

    def repair(self):
        """Restart the compute (it cleans up after the evacuation), bring it back, delete the servers."""
        self.up()
        self.call("PUT", "/os-services/%s" % self.service()["id"], {"forced_down": False, "status": "enabled"},
                  microversion="2.53")
        for server in self.servers():
            self.call("DELETE", "/servers/%s" % server["id"])
        self.wait(lambda servers: not servers, "servers deleted")

    def wait(self, done, what, timeout=600):
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if done(self.servers()):
                return
            time.sleep(1)
        raise SystemExit("timed out waiting for " + what)

    def nova_now(self):
        """changes-since for os-migrations, on nova's clock (its newest heartbeat), a minute early."""
        stamps = [s["updated_at"] for s in self.call("GET", "/os-services", microversion="2.53")["services"]]
        newest = calendar.timegm(time.strptime(max(stamps)[:19], "%Y-%m-%dT%H:%M:%S")) - 60
        return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(newest))


def run_module(lab, concurrency):
    env = dict(os.environ, OS_CLIENT_CONFIG_FILE=str(lab.clouds), OS_CLOUD="lab-admin",
               ANSIBLE_CONFIG=str(ROOT / "tests" / "ansible.cfg"), ANSIBLE_CALLBACK_RESULT_FORMAT="json",
               ANSIBLE_COLLECTIONS_PATH=str(ROOT / "build" / "collections"))
    args = {"host": SOURCE, "fenced": True, "shared_storage": True}
    if concurrency:
        args["concurrency"] = concurrency
    with tempfile.TemporaryDirectory() as workdir:
        playbook = Path(workdir) / "play.yml"
        playbook.write_text(PLAYBOOK.format(args=json.dumps(args)))
        started = time.monotonic()
        completed = subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), "-v", str(playbook)],
                                   env=env, check=False, capture_output=True, text=True)
        wall = time.monotonic() - started
    result = _task_result(completed.stdout)
    if completed.returncode or result.get("failed"):
        raise SystemExit("the module failed: %s" % (result.get("msg") or completed.stdout[-2000:]))
    rows = result["instances"]
    leftovers = lab.servers_on_source()
    if leftovers or result["summary"]["done"] != len(rows) or not result["service"]["forced_down"]:
        raise SystemExit("the module left %d servers on %s, %d of %d rows done, service %s"
                         % (len(leftovers), SOURCE, result["summary"]["done"], len(rows), result["service"]))
    retried = sum(bool(row["earlier_errors"]) for row in rows)
    return wall, {"inside": result["summary"]["seconds"]}, "%d done, %d retried after a failed attempt" % (
        result["summary"]["done"], retried)


def _task_result(output):
    """The module's result, which ansible-playbook -v prints after 'ok: [localhost] => ' (JSON by result_format)."""
    for marker in ("ok: [localhost] => ", "changed: [localhost] => ", "fatal: [localhost]: FAILED! => "):
        if marker in output:
            return json.JSONDecoder().raw_decode(output[output.index(marker) + len(marker):])[0]
    raise SystemExit("no task result in the output of ansible-playbook:\n" + output[-2000:])


def run_serial(lab, _concurrency):
    lab.force_down()
    since = lab.nova_now()
    started = time.monotonic()
    errors = 0
    for server in lab.servers():
        lab.evacuate(server["id"])
        while True:
            migration = lab.evacuations(since).get(server["id"])
            if migration and migration["status"] in ("done", "error", "failed"):
                errors += migration["status"] != "done"
                break
            time.sleep(POLL)
    return time.monotonic() - started, {}, "%d left in error" % errors


def run_fire_all(lab, _concurrency):
    lab.force_down()
    since = lab.nova_now()
    servers = lab.servers()
    started = time.monotonic()
    for server in servers:
        lab.evacuate(server["id"])
    while True:
        latest = lab.evacuations(since)
        ended = [m for m in latest.values() if m["status"] in ("done", "error", "failed")]
        if len(ended) == len(servers):
            break
        time.sleep(POLL)
    errors = sum(m["status"] != "done" for m in ended)
    return time.monotonic() - started, {}, "%d left in error, which this script never retries" % errors


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", default="20,100", help="numbers of servers to evacuate, comma-separated (default 20,100)")
    parser.add_argument("--repeat", type=int, default=1, help="runs of each way at each size (default 1)")
    parser.add_argument("--concurrency", type=int, help="the module's concurrency (default: the module's own)")
    parser.add_argument("--only", choices=list(WAYS), action="append", help="run only these ways (repeatable)")
    parser.add_argument("--fake-computes", type=int, default=3,
                        help="fake-driver computes to run, the source and its targets (default 3)")
    args = parser.parse_args()
    if args.fake_computes < 2:
        parser.error("--fake-computes: at least 2, the source and a target")
    sizes = [int(size) for size in args.sizes.split(",")]
    ways = args.only or list(WAYS)
    lab = Lab(LabConfig.from_env().state, args.fake_computes)
    print("evacuating %s servers from %s to %d other fake computes, %d run(s) of %s each, lab %s, load average %s"
          % (args.sizes, SOURCE, args.fake_computes - 1, args.repeat, ", ".join(ways), lab.state,
             " ".join("%.1f" % load for load in os.getloadavg())), flush=True)
    results = {}
    for count in sizes:
        for run in range(args.repeat):
            for name in ways:
                lab.fail_source(count)
                try:
                    wall, extra, detail = WAYS[name](lab, args.concurrency)
                finally:
                    lab.repair()
                results.setdefault((count, name), []).append((wall, extra))
                inside = "; %.1f s inside the module" % extra["inside"] if "inside" in extra else ""
                print("%4d  run %d  %-9s %7.1f s wall  (%.2f s per server%s; %s; load average %.1f)"
                      % (count, run + 1, name, wall, wall / count, inside, detail, os.getloadavg()[0]), flush=True)
    print()
    for count in sizes:
        print(summary(count, results))


def summary(count, results):
    """Per way the median wall seconds and their spread; the ratios of the medians."""
    medians, lines = {}, []
    for name in WAYS:
        runs = results.get((count, name))
        if not runs:
            continue
        walls = [wall for wall, _ in runs]
        medians[name] = statistics.median(walls)
        line = "%4d  %-9s %7.1f s wall (median of %d; %.1f..%.1f)" % (count, name, medians[name], len(walls),
                                                                    min(walls), max(walls))
        if name == "module":
            inside = [extra["inside"] for _, extra in runs]
            line += ", inside the module %.1f s (%.1f..%.1f)" % (statistics.median(inside), min(inside), max(inside))
        lines.append(line)
    if "module" in medians and "fire-all" in medians:
        walls = [wall for wall, _ in results[(count, "module")]]
        fire = [wall for wall, _ in results[(count, "fire-all")]]
        lines.append("%4d  module / fire-all: %.2f (wall against wall, target <= 1.2; run by run %s)" % (
            count, medians["module"] / medians["fire-all"], " ".join("%.2f" % (m / f) for m, f in zip(walls, fire))))
    if "module" in medians and "serial" in medians:
        lines.append("%4d  serial / module:   %.2f (target >= 3)" % (count, medians["serial"] / medians["module"]))
    return "\n".join(lines)


WAYS = {"module": run_module, "serial": run_serial, "fire-all": run_fire_all}


if __name__ == "__main__":
    main()
