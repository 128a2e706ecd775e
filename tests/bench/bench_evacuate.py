#!/usr/bin/env python3
"""How fast instance_evacuate empties a failed host, against two baselines, in the lab.

    LAB_DIR=... LAB_PORT_OFFSET=... .venv/bin/python tests/bench/bench_evacuate.py [--count 100] [--fake-computes 3]

Many instances on many hosts are cheap only on the lab's fake-driver computes, not on its
real KVM hosts: the script first starts FAKE_COMPUTES of them (`lab up --only openstack
--fake-computes N`, fake-compute-1..N beside the KVM hosts) and keeps its servers on them
with an aggregate of those hosts and a flavor that asks for it (AggregateInstanceExtraSpecsFilter),
so no server, booted or evacuated, lands on a KVM host.

For each way, the script boots COUNT servers on fake-compute-1, stops that host's
nova-compute (the failure) and forces its service down, evacuates, and then restarts the
compute, brings its service back and deletes the servers. It prints the wall seconds of:

- module:     nova_vsphere.mixed_cloud.instance_evacuate through ansible-playbook (also the
              seconds the module itself reports, without ansible's start-up);
- serial:     evacuate one server, wait until it is done, then the next: what
              `openstack server evacuate --wait` per server gives;
- fire-all:   every evacuate call at once, then one poll of the migrations until all ended:
              nova's own throughput, the limit. It does not retry, so it also prints how many
              instances it left in error.

The baselines poll every 0.5 s, the module every second: the comparison favours them.
"""

from __future__ import annotations

import argparse
import calendar
import json
import os
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
PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  tasks:
    - nova_vsphere.mixed_cloud.instance_evacuate: {args}
      register: result
      ignore_errors: true
    - ansible.builtin.copy:
        content: "{{{{ result | to_nice_json }}}}"
        dest: "{result_file}"
        mode: "0600"
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
               ANSIBLE_CONFIG=str(ROOT / "tests" / "ansible.cfg"),
               ANSIBLE_COLLECTIONS_PATH=str(ROOT / "build" / "collections"))
    args = {"host": SOURCE, "fenced": True, "shared_storage": True, "concurrency": concurrency}
    with tempfile.TemporaryDirectory() as workdir:
        result_file = Path(workdir) / "result.json"
        playbook = Path(workdir) / "play.yml"
        playbook.write_text(PLAYBOOK.format(args=json.dumps(args), result_file=result_file))
        started = time.monotonic()
        subprocess.run([str(Path(sys.executable).parent / "ansible-playbook"), str(playbook)], env=env, check=True,
                       stdout=subprocess.DEVNULL)
        wall = time.monotonic() - started
        result = json.loads(result_file.read_text())
    rows = result["instances"]
    retried = sum(bool(row["earlier_errors"]) for row in rows)
    return wall, "%.1f s inside the module; %d done, %d failed, %d retried after a failed attempt" % (
        result["summary"]["seconds"], result["summary"]["done"], result["summary"]["failed"], retried)


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
    return time.monotonic() - started, "%d left in error" % errors


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
    return time.monotonic() - started, "%d left in error, which this script never retries" % errors


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--count", type=int, default=100, help="servers to evacuate (default 100)")
    parser.add_argument("--concurrency", type=int, default=10, help="the module's concurrency (default 10)")
    parser.add_argument("--only", choices=["module", "serial", "fire-all"], action="append",
                        help="run only these ways (repeatable)")
    parser.add_argument("--fake-computes", type=int, default=3,
                        help="fake-driver computes to run, the source and its targets (default 3)")
    args = parser.parse_args()
    if args.fake_computes < 2:
        parser.error("--fake-computes: at least 2, the source and a target")
    lab = Lab(LabConfig.from_env().state, args.fake_computes)
    ways = {"module": run_module, "serial": run_serial, "fire-all": run_fire_all}
    seconds = {}
    print("evacuating %d servers from %s to %d other fake computes, lab %s"
          % (args.count, SOURCE, args.fake_computes - 1, lab.state), flush=True)
    for name in args.only or list(ways):
        lab.fail_source(args.count)
        try:
            seconds[name], detail = ways[name](lab, args.concurrency)
        finally:
            lab.repair()
        print("%-9s %7.1f s wall  (%.2f s per server; %s)" % (name, seconds[name], seconds[name] / args.count, detail),
              flush=True)
    if "module" in seconds and "fire-all" in seconds:
        print("module / fire-all: %.2f (target <= 1.2)" % (seconds["module"] / seconds["fire-all"]))
    if "module" in seconds and "serial" in seconds:
        print("serial / module:   %.2f (target >= 3)" % (seconds["serial"] / seconds["module"]))


if __name__ == "__main__":
    main()
