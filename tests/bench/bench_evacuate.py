#!/usr/bin/env python3
"""How fast instance_evacuate empties a failed host, against two baselines, in the lab.

    LAB_DIR=... LAB_PORT_OFFSET=... .venv/bin/python tests/bench/bench_evacuate.py [--count 100]

For each way, the script boots COUNT servers on kvm-compute-1, stops that host's
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

import openstack.config
import openstack.connection

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "lab"))
from minilab.config import LabConfig  # noqa: E402  pylint: disable=wrong-import-position
from minilab.supervisor import Supervisor  # noqa: E402  pylint: disable=wrong-import-position

SOURCE = "kvm-compute-1"
PREFIX = "bench-evac"
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


class Lab:
    def __init__(self, state):
        self.state = state
        self.clouds = state / "clouds.yaml"
        config = openstack.config.OpenStackConfig(config_files=[str(self.clouds)]).get_one("lab-admin")
        self.conn = openstack.connection.Connection(config=config)
        self.image = self._image()
        self.flavor = self._flavor()

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
        found = self.conn.compute.find_flavor("evac-small")
        if found:
            return found.id
        flavor = {"name": "evac-small", "ram": 512, "vcpus": 1, "disk": 1}
        return self.call("POST", "/flavors", {"flavor": flavor})["flavor"]["id"]

    def call(self, method, path, body=None, microversion="2.74"):
        response = self.conn.compute.request(path, method, json=body, raise_exc=True,
                                             headers={"OpenStack-API-Version": "compute " + microversion})
        return response.json() if response.content else None

    def servers(self):
        return self.call("GET", "/servers/detail?all_tenants=1&name=^%s" % PREFIX, microversion="2.53")["servers"]

    def service(self):
        return self.call("GET", "/os-services?binary=nova-compute&host=" + SOURCE, microversion="2.53")["services"][0]

    def evacuations(self, since):
        found = self.call("GET", "/os-migrations?migration_type=evacuation&source_compute=%s&changes-since=%s"
                          % (SOURCE, since), microversion="2.59")["migrations"]
        latest = {}
        for migration in sorted(found, key=lambda m: m["id"]):
            latest[migration["instance_uuid"]] = migration
        return latest

    def evacuate(self, server_id):
        self.call("POST", "/servers/%s/action" % server_id, {"evacuate": {}}, microversion="2.68")

    def fail_source(self, count):
        server = {"name": PREFIX, "imageRef": self.image, "flavorRef": self.flavor, "networks": "none",
                  "host": SOURCE, "min_count": count, "max_count": count}
        self.call("POST", "/servers", {"server": server})
        self.wait(lambda servers: len(servers) == count and all(s["status"] == "ACTIVE" for s in servers),
                  "%d servers ACTIVE" % count)
        Supervisor(LabConfig.from_env()).stop("nova-compute-1")

    def force_down(self):
        self.call("PUT", "/os-services/%s" % self.service()["id"], {"forced_down": True}, microversion="2.53")

    def repair(self):
        """Restart the compute (it cleans up after the evacuation), bring it back, delete the servers."""
        subprocess.run([sys.executable, str(ROOT / "tests" / "lab" / "lab"), "up", "--only", "openstack"],
                       check=True, stdout=subprocess.DEVNULL)
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
    args = parser.parse_args()
    lab = Lab(LabConfig.from_env().state)
    ways = {"module": run_module, "serial": run_serial, "fire-all": run_fire_all}
    seconds = {}
    print("evacuating %d servers from %s, lab %s" % (args.count, SOURCE, lab.state), flush=True)
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
