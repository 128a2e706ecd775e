#!/usr/bin/env python3
"""Write a simulator inventory of CLUSTERS clusters of HOSTS hosts each (default 20 x 50), for the scale benchmark.

    tests/lab/vcsim/inventories/scale.py [--clusters 20] [--hosts 50] [--local-datastores] > scale.json

Per cluster, the kinds of objects the default inventory has: the cluster ``Cluster-NN`` of hosts
``esx-NN-MMM.scale.local`` (64 GiB, 16 threads, some usage), the NFS datastore ``nfs-NN`` on all its hosts
(export nfs.lab.local:/exports/nfs-NN), the firewall ruleset ``vnc`` (TCP 5900-9999 inbound, disabled) on every
host, one powered-off VM nova does not manage. The port group ``VM Network`` is on every host. DRS and HA are on
in the even clusters and off in the odd ones, so that a first ``vcenter_prepare`` has cluster settings to fix, as
well as a ruleset to enable on every host. ``--local-datastores`` adds a local VMFS datastore per host, as the
default inventory has (a thousand more datastores: the simulator's start and every datastore read grow with them).
"""

from __future__ import annotations

import argparse
import json
import sys


def cluster_name(index: int) -> str:
    return "Cluster-%02d" % index


def host_name(cluster: int, host: int) -> str:
    return "esx-%02d-%03d.scale.local" % (cluster, host)


def scale_inventory(clusters: int = 20, hosts: int = 50, local_datastores: bool = False) -> dict:
    """The inventory, as the simulator's --inventory reads it (tests/lab/vcsim/README.md)."""
    datacenter = {"name": "DC1", "clusters": [], "networks": [{"name": "VM Network"}], "datastores": [],
                  "firewall_rulesets": [{"key": "vnc", "label": "OpenStack VNC (openstack-vmwareapi-team VIB)",
                                         "ports": [5900, 9999]}],
                  "vms": []}
    for c in range(1, clusters + 1):
        members = [{"name": host_name(c, h), "memory_mb": 65536, "memory_used_mb": 8192 + 256 * (h % 16),
                    "cpu_sockets": 2, "cpu_cores": 8, "cpu_threads": 16, "cpu_mhz": 2400, "cpu_used_mhz": 1200}
                   for h in range(1, hosts + 1)]
        settled = c % 2 == 0
        datacenter["clusters"].append({"name": cluster_name(c), "drs_enabled": settled, "ha_enabled": settled,
                                       "hosts": members})
        datacenter["datastores"].append({"name": "nfs-%02d" % c, "type": "nfs", "capacity_gb": 4096, "free_gb": 3000,
                                         "clusters": [cluster_name(c)]})
        if local_datastores:
            datacenter["datastores"].extend({"name": "local-" + host["name"].split(".")[0], "type": "local",
                                             "capacity_gb": 500, "free_gb": 400, "hosts": [host["name"]]}
                                            for host in members)
        datacenter["vms"].append({"name": "legacy-%02d" % c, "host": host_name(c, 1), "datastore": "nfs-%02d" % c,
                                  "memory_mb": 2048, "power_state": "poweredOff",
                                  "annotation": "Managed outside OpenStack (not a Nova instance)"})
    return {"datacenters": [datacenter]}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clusters", type=int, default=20)
    parser.add_argument("--hosts", type=int, default=50, help="hosts per cluster")
    parser.add_argument("--local-datastores", action="store_true", help="a local VMFS datastore per host")
    args = parser.parse_args(argv)
    if args.clusters < 1 or args.hosts < 1:
        parser.error("--clusters and --hosts must be at least 1")
    json.dump(scale_inventory(args.clusters, args.hosts, args.local_datastores), sys.stdout, indent=1)
    sys.stdout.write("\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
