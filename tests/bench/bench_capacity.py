#!/usr/bin/env python3
"""Seed 001 at scale: the same sequence of boots of mixed flavor sizes into heterogeneous vSphere clusters and
KVM-like hosts, three ways, against the lab's real nova-scheduler and placement.

    LAB_DIR=... LAB_PORT_OFFSET=... .venv/bin/python tests/bench/bench_capacity.py [--count 200] \
        [--fake-computes 2] [--fake-ram-gb 32] [--keep 60] [--feed-every 1] [--seed 1] [--ways stock,traits,full]

The lab (what every figure is measured on):

- vSphere: a private instance of the lab's simulator serving tests/lab/vcsim/inventories/capacity.json (Cluster-A:
  hosts of 32/24/16 GiB with 6 GiB free each; Cluster-B: 64/32/16 GiB with 52/28/14 GiB free, 4 GiB of it used by
  a VM nova did not create), with real nova-compute proxies (nova's VMwareVCDriver) of both clusters, provisioned
  by playbooks/proxy_compute.yml (tests/integration/helpers/capacity.py). Their boots are real spawns through the
  simulator, whose DRS places each VM on the freest host at power-on and refuses a power-on no host can hold.
- KVM side: FAKE_COMPUTES of the lab's fake-driver computes (``lab up --only openstack --fake-computes N``):
  200 boots of real TCG guests do not fit this machine. Each is made a host of FAKE_RAM_GB: nova's fake driver
  reports 800,000 MB, so the script sets its ``reserved_host_memory_mb`` to the rest and ``ram_allocation_ratio``
  to 1.0, and restarts it. nova's view of such a host is its real room, as for a libvirt host.
- The servers are kept to those hosts by the aggregate ``bench-cap`` (proxies and fake computes) and the flavors'
  extra spec (AggregateInstanceExtraSpecsFilter), which also sets the CPU, disk and hypervisor-version weight
  multipliers to 0 there: RAM decides, as in seed 001 (CPUWeigher and DiskWeigher see the clusters' sums too).

The ways, each from the same empty start:

- ``stock``: nova as it is;
- ``traits``: the capacity feed (cluster_capacity) runs before the first boot and after every FEED_EVERY boots,
  the flavors carry ``trait:CUSTOM_VSPHERE_NOFIT_RAM_<B>G=forbidden`` (the feed's ``flavors`` option); nothing in
  nova;
- ``full``: the same plus the capacity_scheduling role on the lab's scheduler (VsphereHostFitFilter,
  RealFreeRAMWeigher instead of RAMWeigher); stock again afterwards.

Boots run one after the other (each waits for ACTIVE or ERROR); beyond KEEP servers alive, the oldest is deleted
first (churn, so that COUNT boots stay within the lab's room). Before each boot the script reads the real room of
every host (vCenter's own free memory of each ESXi host, placement's of each fake compute) to know whether a host
that fits existed. It prints, per way:

- ``failed``: boots that ended in ERROR although a host with room existed; ``no room``: those where none did;
- ``refused``: build attempts vCenter refused at power-on (the boot then rescheduled; the instance actions' build
  events on more than one host);
- the spread of free memory over every host (ESXi hosts one by one, fake computes) at the end: min, max, stdev;
- the wall seconds of the way.

Then the scheduler's added time per request, measured directly: nova's real HostManager in the lab's venv reads the
lab's compute nodes and aggregates (the feed's figures included) into HostStates, and the script times
VsphereHostFitFilter over them and RealFreeRAMWeigher against RAMWeigher, for the lab's hosts and for 100 copies.
"""

from __future__ import annotations

import argparse
import json
import random
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
sys.path.insert(0, str(ROOT / "tests" / "lab"))
from helpers.capacity import (PROXIES, Nova, Scheduler, delete_images, feed,  # noqa: E402  pylint: disable=wrong-import-position
                              private_capacity_vcenter, provision_proxies, remove_proxies, streamoptimized_image)
from helpers.lab import lab_env  # noqa: E402  pylint: disable=wrong-import-position
from minilab.config import LabConfig  # noqa: E402  pylint: disable=wrong-import-position

PREFIX = "bench-cap-"
AGGREGATE = "bench-cap"
FAKE_DRIVER_RAM_MB = 800000
SIZES_GB = (1, 2, 4, 8, 12)
WEIGHTS = (5, 4, 3, 2, 1)
RAM_ONLY = {"cpu_weight_multiplier": "0", "disk_weight_multiplier": "0", "hypervisor_version_weight_multiplier": "0"}

LATENCY = r"""
import copy, json, sys, time, warnings
warnings.simplefilter("ignore")
sys.path.insert(0, sys.argv[2])
import nova.conf
from nova import config, context, objects
objects.register_all()
config.parse_args(["nova-scheduler", "--config-file", sys.argv[1]])
from nova.scheduler import host_manager
from nova.scheduler.weights import ram
from nova.scheduler import weights
from nova_vsphere_capacity import filters as cap_filters, weights as cap_weights
ctx = context.get_admin_context()
manager = host_manager.HostManager()
states = [s for s in manager.get_host_states_by_uuids(ctx, None, None) if s.host.startswith(tuple(sys.argv[3].split(",")))]
flavor = objects.Flavor(memory_mb=8192, vcpus=2, root_gb=1, ephemeral_gb=0, swap=0, name="bench", extra_specs={})
spec = objects.RequestSpec(flavor=flavor, num_instances=1, ignore_hosts=None, force_hosts=None, force_nodes=None,
                           scheduler_hints={}, instance_uuid="00000000-0000-0000-0000-000000000001")
fit = cap_filters.VsphereHostFitFilter()
handler = weights.HostWeightHandler()
out = {"hosts": len(states), "vsphere_hosts": sum(1 for s in states if any(
    "vsphere_capacity_hosts" in a.metadata for a in s.aggregates))}
def per_call(fn, n):
    fn()
    start = time.perf_counter()
    for _ in range(n):
        fn()
    return (time.perf_counter() - start) / n * 1000.0
for label, pool in (("lab", states), ("x100", [copy.copy(s) for s in states for _ in range(100 // max(len(states), 1) + 1)][:100])):
    n = 2000 if label == "lab" else 200
    out[label] = {
        "hosts": len(pool),
        "filter_ms": per_call(lambda: list(fit.filter_all(pool, spec)), n),
        "real_weigher_ms": per_call(lambda: handler.get_weighed_objects([cap_weights.RealFreeRAMWeigher()], pool, spec), n),
        "ram_weigher_ms": per_call(lambda: handler.get_weighed_objects([ram.RAMWeigher()], pool, spec), n),
    }
print(json.dumps(out))
"""


class Bench:
    def __init__(self, args, work: Path):
        self.args, self.work = args, work
        self.cfg = LabConfig.from_env()
        self.state = self.cfg.state
        self.lab = {"env": None, "state": self.state}
        self.fakes = ["fake-compute-%d" % i for i in range(1, args.fake_computes + 1)]

    # --- the lab -------------------------------------------------------------------------------------------
    def up(self):
        subprocess.run([sys.executable, str(ROOT / "tests" / "lab" / "lab"), "up", "--only", "openstack",
                        "--fake-computes", str(self.args.fake_computes)], check=True, stdout=subprocess.DEVNULL)
        self.lab["env"] = lab_env()
        self.lab["secrets"] = json.loads((self.state / "secrets.json").read_text())
        self.nova = Nova(self.lab["env"])

    def size_fakes(self):
        """Each fake compute a host of FAKE_RAM_GB in nova's and placement's eyes; restarted when changed."""
        ram = self.args.fake_ram_gb * 1024
        ctl = Scheduler(self.lab, self.work).supervisorctl
        for index, host in enumerate(self.fakes, 1):
            conf = self.state / "etc" / "nova" / "computes" / ("%s.conf" % host)
            text = conf.read_text()
            wanted = "reserved_host_memory_mb = %d\nram_allocation_ratio = 1.0\n" % (FAKE_DRIVER_RAM_MB - ram)
            if wanted not in text:
                lines = [line for line in text.splitlines(keepends=True)
                         if not line.startswith(("reserved_host_memory_mb", "ram_allocation_ratio"))]
                text = "".join(lines).replace("[DEFAULT]\n", "[DEFAULT]\n" + wanted, 1)
                conf.write_text(text)
                subprocess.run(ctl + ["restart", "nova-compute-fake-%d" % index], check=True, capture_output=True,
                               timeout=180)
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                if all(self.nova.free_ram(host) + self.used(host) == ram for host in self.fakes):
                    return
            except (StopIteration, KeyError):
                pass
            time.sleep(3)
        raise SystemExit("the fake computes do not show %d MB in placement" % ram)

    def used(self, host):
        provider = self.nova.provider(host)
        return self.nova.conn.placement.get("/resource_providers/%s/usages" % provider,
                                            microversion="1.14").json()["usages"].get("MEMORY_MB", 0)

    def setup(self, vcenter):
        self.vcenter = vcenter
        remove_proxies(self.lab, self.nova, list(PROXIES))
        self.nova.delete_feed_aggregates()
        provision_proxies(self.lab, vcenter, self.work, PROXIES)
        self.nova.aggregate(AGGREGATE, [*PROXIES, *self.fakes], {"bench_capacity": "yes", **RAM_ONLY})
        spec = {"aggregate_instance_extra_specs:bench_capacity": "yes"}
        self.flavors = {gb: self.nova.flavor("%s%dg" % (PREFIX, gb), gb * 1024, extra_specs=spec)["id"] for gb in SIZES_GB}
        self.trait_flavors = {gb: self.nova.flavor("%st-%dg" % (PREFIX, gb), gb * 1024, extra_specs=spec)["id"]
                              for gb in SIZES_GB}

    def teardown(self):
        try:
            self.nova.delete_servers(PREFIX, timeout=120)
        except AssertionError as error:
            print(error)
        for gb in SIZES_GB:
            self.nova.delete_flavor("%s%dg" % (PREFIX, gb))
            self.nova.delete_flavor("%st-%dg" % (PREFIX, gb))
        self.nova.delete_aggregate(AGGREGATE)
        self.nova.delete_feed_aggregates()
        remove_proxies(self.lab, self.nova, list(PROXIES), self.work, servers=PREFIX)
        delete_images(self.nova, PREFIX)

    # --- figures -------------------------------------------------------------------------------------------
    def room(self):
        """Host -> its real free MB: each ESXi host as vCenter counts it, each fake compute as placement does."""
        free = {name: host["free_mb"] for name, host in self.vcenter.read()["hosts"].items()}
        free.update({host: self.nova.free_ram(host) for host in self.fakes})
        return free

    def feed(self):
        start = time.monotonic()
        feed(self.lab, self.vcenter, flavors=["%st-%dg" % (PREFIX, gb) for gb in SIZES_GB], refresh_after=0)
        return time.monotonic() - start

    # --- one way -------------------------------------------------------------------------------------------
    def run(self, way, sequence):
        traits = way in ("traits", "full")
        flavors = self.trait_flavors if traits else self.flavors
        scheduler = Scheduler(self.lab, self.work)
        if traits:
            self.feed()
        if way == "full":
            scheduler.install(debug=False)
        result = {"failed": 0, "no_room": 0, "refused": 0, "booted": 0, "feed_s": 0.0, "feeds": 0}
        alive = []
        start = time.monotonic()
        try:
            for index, gb in enumerate(sequence):
                if len(alive) >= self.args.keep:
                    self.nova.delete_servers(alive.pop(0))
                fits = any(free >= gb * 1024 for free in self.room().values())
                name = "%s%s-%03d" % (PREFIX, way, index)
                image = streamoptimized_image(self.nova, self.work, name)  # one per boot (see the helper)
                server = self.nova.wait(self.nova.boot(name, flavors[gb], image)["id"])
                builds, _ = self.nova.builds(server["id"])
                result["refused"] += sum(1 for build in builds if build["host"] in PROXIES) - (
                    1 if server["status"] == "ACTIVE" and server["OS-EXT-SRV-ATTR:host"] in PROXIES else 0)
                if server["status"] == "ACTIVE":
                    result["booted"] += 1
                    alive.append(name)
                else:
                    result["failed" if fits else "no_room"] += 1
                    self.nova.delete_servers(name)
                if traits and (index + 1) % self.args.feed_every == 0:
                    result["feed_s"] += self.feed()
                    result["feeds"] += 1
            result["wall_s"] = time.monotonic() - start - result["feed_s"]
            result["free"] = self.room()
        finally:
            if way == "full":
                scheduler.restore()
            self.nova.delete_servers(PREFIX + way)
        return result

    def latency(self):
        completed = subprocess.run(
            [str(self.state / "venv" / "bin" / "python"), "-c", LATENCY, str(self.state / "etc" / "nova" / "nova.conf"),
             str(ROOT / "extensions" / "nova_scheduler"), ",".join([*PROXIES, *self.fakes])],
            capture_output=True, text=True, timeout=600, check=False)
        if completed.returncode:
            return {"error": completed.stderr[-2000:]}
        return json.loads(completed.stdout.strip().splitlines()[-1])


def report(way, result):
    free = list(result["free"].values())
    print("%-7s failed %3d  no room %3d  refused %3d  booted %3d  free MB min %6d max %6d stdev %7.0f  %6.0f s (+%d feeds, %.0f s)"
          % (way, result["failed"], result["no_room"], result["refused"], result["booted"], min(free), max(free),
             statistics.pstdev(free), result["wall_s"], result["feeds"], result["feed_s"]))
    print("        free MB by host: " + ", ".join("%s %d" % (host.split(".")[0], mb) for host, mb in sorted(result["free"].items())))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--count", type=int, default=200)
    parser.add_argument("--fake-computes", type=int, default=2)
    parser.add_argument("--fake-ram-gb", type=int, default=32)
    parser.add_argument("--keep", type=int, default=60, help="servers kept alive; older ones are deleted first")
    parser.add_argument("--feed-every", type=int, default=1, help="boots between two runs of the feed")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--ways", default="stock,traits,full")
    parser.add_argument("--latency-only", action="store_true", help="only the scheduler's added time (lab must hold the feed's figures)")
    args = parser.parse_args()
    sequence = random.Random(args.seed).choices(SIZES_GB, weights=WEIGHTS, k=args.count)
    with tempfile.TemporaryDirectory(prefix="bench-capacity-") as tmp:
        work = Path(tmp)
        bench = Bench(args, work)
        bench.up()
        bench.size_fakes()
        with private_capacity_vcenter(bench.lab, work) as vcenter:
            try:
                bench.setup(vcenter)
                print("%d boots of %s GiB (mean %.1f), keep %d alive; hosts: Cluster-A, Cluster-B (private vcsim), "
                      "%d fake computes of %d GiB; feed every %d boot(s)"
                      % (args.count, "/".join(map(str, SIZES_GB)), statistics.mean(sequence), args.keep,
                         args.fake_computes, args.fake_ram_gb, args.feed_every), flush=True)
                if not args.latency_only:
                    for way in args.ways.split(","):
                        report(way, bench.run(way, sequence))
                        sys.stdout.flush()
                bench.feed()
                latency = bench.latency()
                if "error" in latency:
                    print("latency: " + latency["error"])
                else:
                    print("scheduler's added time per request (nova's HostStates of the lab: %d hosts, %d with figures):"
                          % (latency["hosts"], latency["vsphere_hosts"]))
                    for label in ("lab", "x100"):
                        row = latency[label]
                        added = row["filter_ms"] + row["real_weigher_ms"] - row["ram_weigher_ms"]
                        print("  %3d hosts: VsphereHostFitFilter %.4f ms, RealFreeRAMWeigher %.4f ms vs RAMWeigher "
                              "%.4f ms: added %.4f ms" % (row["hosts"], row["filter_ms"], row["real_weigher_ms"],
                                                          row["ram_weigher_ms"], added))
            finally:
                bench.teardown()


if __name__ == "__main__":
    main()
