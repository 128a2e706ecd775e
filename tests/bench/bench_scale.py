#!/usr/bin/env python3
"""playbooks/vcenter_prepare.yml on a vCenter of 1,000 hosts and on the 6-host lab, side by side (issue 17).

    LAB_DIR=... .venv/bin/python tests/bench/bench_scale.py [-f 5] [--clusters 20] [--hosts 50] \
        [--only scale|lab] [--local-datastores] [--keep DIR]

Needs the lab's simulator program and certificates (``LAB_DIR=... tests/lab/lab up --only vcenter`` once; the
lab's own simulator may be down). For each inventory the script runs a private instance of that program on a
port of its own (tests/integration/helpers/vsphere.py ``private_simulator``), then ``ansible-playbook -f FORKS
playbooks/vcenter_prepare.yml`` twice from the same start, with the connection in ``mixed_cloud_vcenter`` (an
extra-vars file of mode 0600: the password never on a command line) and the lab's CA as SSL_CERT_FILE, in the
environment the tests use (no VMWARE_*/OS_* variables):

- ``scale``: tests/lab/vcsim/inventories/scale.py, 20 clusters x 50 hosts: per cluster its NFS datastore on all
  its hosts, the ``vnc`` ruleset disabled on every host, DRS and HA off on the odd clusters;
- ``lab``: tests/lab/vcsim/default_inventory.json, Cluster-A and Cluster-B of 3 hosts, with the ``vnc`` ruleset
  also on esx-b3 (where the default inventory leaves "the VIB not installed", a prerequisite the role rightly
  reports failing and cannot fix), so that both inventories can be fully prepared.

Both runs prepare every cluster: ``datastore_regex: ^nfs-``, its NFS datastore (already mounted), the port group
``br100`` (VLAN 100, standard; created on every host by the first run), the ``vnc`` ruleset (enabled on every host
by the first run), unmanaged VMs allowed. The simulator counts every SOAP request by method
(``/lab/soap-requests``, docs/simulator-extensions.md); the script reads and resets the counts around each run.

It prints per inventory and run: wall seconds of the ansible-playbook command (ansible's start included),
changed and failed tasks from the recap, SOAP requests in total, per cluster, split into reads and writes
(methods that change vCenter), and the methods that dominate; then the targets: read requests per cluster
independent of the hosts per cluster (the second runs, which only read, of 3-host and 50-host clusters), the second
run at most 30% of the first (wall and requests), the 1,000-host prepare under 120 s, and changed=0 on second runs.
"""

from __future__ import annotations

import argparse
import json
import re
import ssl
import subprocess
import sys
import tempfile
import time
import urllib.request
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "tests" / "integration"))
sys.path.insert(0, str(ROOT / "tests" / "lab"))
sys.path.insert(0, str(ROOT / "tests" / "lab" / "vcsim" / "inventories"))

from helpers.lab import VENV_BIN, clean_env  # noqa: E402  pylint: disable=wrong-import-position
from helpers.vsphere import private_simulator  # noqa: E402  pylint: disable=wrong-import-position
from minilab.config import LabConfig  # noqa: E402  pylint: disable=wrong-import-position
from scale import scale_inventory  # noqa: E402  pylint: disable=wrong-import-position

USER = "administrator@vsphere.local"
PASSWORD = "bench-scale-secret"
# Methods that change vCenter; every other request is a read (sessions, views, properties, task polls).
WRITES = {"EnableRuleset", "DisableRuleset", "AddPortGroup", "UpdatePortGroup", "RemovePortGroup", "CreateNasDatastore",
          "RemoveDatastore", "ReconfigureComputeResource_Task", "AddDVPortgroup_Task", "ReconfigureDVPortgroup_Task",
          "Destroy_Task"}
PORTGROUP = {"name": "br100", "vlan_id": 100}
RECAP = re.compile(r"^\S+\s+:\s+ok=(\d+)\s+changed=(\d+)\s+unreachable=(\d+)\s+failed=(\d+)", re.M)


def lab_inventory() -> dict:
    """The default inventory, with the vnc ruleset on every clustered host."""
    inventory = json.loads((ROOT / "tests" / "lab" / "vcsim" / "default_inventory.json").read_text())
    (datacenter,) = inventory["datacenters"]
    for ruleset in datacenter["firewall_rulesets"]:
        if ruleset["key"] == "vnc":
            ruleset.pop("hosts", None)
            ruleset["clusters"] = [cluster["name"] for cluster in datacenter["clusters"]]
    return inventory


def clusters_of(inventory: dict) -> list[dict]:
    """vcenter_prepare_clusters for every cluster: its NFS datastore (the one all its hosts mount)."""
    items = []
    for datacenter in inventory["datacenters"]:
        for cluster in datacenter["clusters"]:
            (nfs,) = [ds for ds in datacenter["datastores"] if ds.get("type") == "nfs" and ds.get("clusters") == [cluster["name"]]]
            items.append({"name": cluster["name"], "datacenter": datacenter["name"],
                          "nfs": {"name": nfs["name"], "server": nfs.get("remote_host", "nfs.lab.local"),
                                  "path": nfs.get("remote_path", "/exports/" + nfs["name"])}})
    return items


class Counter:
    """The simulator's SOAP request counts (GET reads them, POST reads and resets)."""

    def __init__(self, port, ca):
        self.url = "https://127.0.0.1:%d/lab/soap-requests" % port
        self.context = ssl.create_default_context(cafile=ca)

    def take(self) -> dict:
        request = urllib.request.Request(self.url, method="POST")
        with urllib.request.urlopen(request, context=self.context, timeout=30) as response:
            return json.load(response)


def run_prepare(work: Path, counter: Counter, forks: int, ca: str) -> dict:
    counter.take()
    started = time.monotonic()
    completed = subprocess.run(
        [str(VENV_BIN / "ansible-playbook"), "-f", str(forks), "-e", "@%s" % (work / "vars.json"),
         str(ROOT / "playbooks" / "vcenter_prepare.yml")],
        env=clean_env(SSL_CERT_FILE=ca), capture_output=True, text=True, timeout=3600, check=False)
    wall = time.monotonic() - started
    counts = counter.take()
    (work / ("prepare-%d.log" % int(started))).write_text(completed.stdout + completed.stderr)
    recap = RECAP.findall(completed.stdout)
    if completed.returncode != 0 or not recap:
        raise SystemExit("vcenter_prepare.yml failed (rc %d):\n%s\n%s" % (
            completed.returncode, completed.stdout[-3000:], completed.stderr[-2000:]))
    writes = sum(n for method, n in counts["methods"].items() if method in WRITES)
    return {"wall": wall, "changed": sum(int(r[1]) for r in recap), "failed": sum(int(r[3]) for r in recap),
            "total": counts["total"], "writes": writes, "reads": counts["total"] - writes, "methods": counts["methods"]}


def bench(name: str, inventory: dict, state: Path, work: Path, forks: int) -> dict:
    work.mkdir(parents=True, exist_ok=True)
    clusters = clusters_of(inventory)
    hosts = sum(len(c["hosts"]) for dc in inventory["datacenters"] for c in dc["clusters"])
    ca = str(state / "pki" / "ca.pem")
    started = time.monotonic()
    with private_simulator({"state": state}, work, inventory, PASSWORD) as port:
        ready = time.monotonic() - started
        variables = {
            "mixed_cloud_vcenter": {"hostname": "127.0.0.1", "port": port, "username": USER, "password": PASSWORD,
                                    "validate_certs": True},
            "vcenter_prepare_clusters": clusters, "vcenter_prepare_datastore_regex": "^nfs-",
            "vcenter_prepare_portgroups": [PORTGROUP], "vcenter_prepare_vnc_ruleset": "vnc",
            "vcenter_prepare_allow_unmanaged_vms": True,
        }
        (work / "vars.json").write_text(json.dumps(variables))
        (work / "vars.json").chmod(0o600)
        counter = Counter(port, ca)
        runs = [run_prepare(work, counter, forks, ca) for _ in range(2)]
    return {"name": name, "clusters": len(clusters), "hosts": hosts, "ready": ready, "runs": runs}


def top_methods(methods: dict, n=6) -> str:
    return ", ".join("%s %d" % item for item in sorted(methods.items(), key=lambda item: -item[1])[:n])


def report(results: list[dict], forks: int):
    print("forks: -f %d" % forks)
    print("%-6s %8s %6s %9s | %-6s %7s %7s %3s %8s %9s %9s %10s" % (
        "vcenter", "clusters", "hosts", "start s", "run", "wall s", "changed", "fail", "requests", "per clust",
        "reads/cl", "writes/cl"))
    for result in results:
        for label, run in zip(("first", "second"), result["runs"]):
            c = result["clusters"]
            print("%-7s %8d %6d %9.1f | %-6s %7.1f %7d %3d %8d %9.1f %9.1f %10.1f" % (
                result["name"], c, result["hosts"], result["ready"], label, run["wall"], run["changed"], run["failed"],
                run["total"], run["total"] / c, run["reads"] / c, run["writes"] / c))
            print("        dominating: %s" % top_methods(run["methods"]))
    print("targets:")
    by_name = {result["name"]: result for result in results}
    for result in results:
        first, second = result["runs"]
        print("  %s: second run changed=%d (target 0): %s" % (result["name"], second["changed"],
                                                               "met" if second["changed"] == 0 else "NOT MET"))
        # The first run's extra work is its writes: one per host that needs a change. On 6 hosts they are
        # too few for the ratio to say much; in the simulator a write costs milliseconds, in vCenter far more.
        note = " (%d writes in the first run)" % first["writes"]
        for what in ("wall", "total"):
            ratio = second[what] / first[what] if first[what] else 0
            print("  %s: second/first %s %.0f%% (target <= 30%%): %s%s" % (
                result["name"], "wall" if what == "wall" else "requests", 100 * ratio,
                "met" if ratio <= 0.3 else "NOT MET", note))
    if "scale" in by_name:
        wall = by_name["scale"]["runs"][0]["wall"]
        print("  scale: first prepare of %d hosts %.1f s (target < 120 s): %s" % (
            by_name["scale"]["hosts"], wall, "met" if wall < 120 else "NOT MET"))
    if len(by_name) == 2:
        small, big = by_name["lab"], by_name["scale"]
        per = [r["runs"][1]["reads"] / r["clusters"] for r in (small, big)]
        size = [r["hosts"] / r["clusters"] for r in (small, big)]
        print("  read requests per cluster, second run: %.1f with %.0f hosts per cluster, %.1f with %.0f (target: "
              "the same): %s" % (per[0], size[0], per[1], size[1], "met" if abs(per[1] - per[0]) <= 0.05 * per[0] else "NOT MET"))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("-f", "--forks", type=int, default=5, help="ansible-playbook -f (default 5)")
    parser.add_argument("--clusters", type=int, default=20)
    parser.add_argument("--hosts", type=int, default=50, help="hosts per cluster of the scale inventory")
    parser.add_argument("--local-datastores", action="store_true", help="a local datastore per host (scale)")
    parser.add_argument("--only", choices=["scale", "lab"], action="append", help="one inventory (default: both)")
    parser.add_argument("--keep", type=Path, help="keep the simulators' logs and the playbook outputs here")
    args = parser.parse_args(argv)
    state = LabConfig.from_env().state
    if not (state / "bin" / "vcsim").exists() or not (state / "pki" / "ca.pem").exists():
        raise SystemExit("No simulator program or CA in %s: run `tests/lab/lab up --only vcenter` once." % state)
    inventories = {"lab": lab_inventory(), "scale": scale_inventory(args.clusters, args.hosts, args.local_datastores)}
    with tempfile.TemporaryDirectory(prefix="bench-scale-") as tmp:
        work = args.keep or Path(tmp)
        results = [bench(name, inventories[name], state, work / name, args.forks)
                   for name in ("lab", "scale") if name in (args.only or ("lab", "scale"))]
    report(results, args.forks)


if __name__ == "__main__":
    main()
