# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""One NFS export mounted as the same datastore on every host of a cluster: the plan, over plain dicts.

vCenter keeps one Datastore object per export and datacenter; mounting it on another
host adds that host to it. A datastore name already used for another export, or for a
VMFS volume, cannot be reused.
"""

from __future__ import annotations

NFS_TYPES = {"3": "NFS", "4.1": "NFS41"}


def plan_nfs(hosts, datastores, name, server, path, version, state):
    """Which connected hosts of the cluster must mount or unmount the datastore ``name``.

    ``hosts``: dicts with name, moid, connection_state, datastores (moids).
    ``datastores``: the datacenter's datastores with moid, name, type, remote_host,
    remote_path. Returns problems, the existing datastore (or None), the hosts to act on,
    the hosts skipped (not connected), and before/after (sorted host names mounting it).
    """
    existing = next((ds for ds in datastores if ds["name"] == name), None)
    plan = {"problems": [], "datastore": existing, "hosts": [],
            "skipped": sorted(host["name"] for host in hosts if host["connection_state"] != "connected")}
    if state == "present" and existing is not None:
        export = (existing["type"], existing["remote_host"], existing["remote_path"])
        wanted = (NFS_TYPES[version], server, path)
        if export != wanted:
            plan["problems"].append("Datastore %s already exists as %s, not %s: choose another name." % (
                name, _describe(*export), _describe(*wanted)))
    connected = sorted((host for host in hosts if host["connection_state"] == "connected"), key=lambda h: h["name"])
    mounting = [host for host in hosts if existing is not None and existing["moid"] in host["datastores"]]
    before = sorted(host["name"] for host in mounting)
    if state == "present":
        plan["hosts"] = [host for host in connected if host not in mounting]
        after = sorted(before + [host["name"] for host in plan["hosts"]])
    else:
        plan["hosts"] = [host for host in connected if host in mounting]
        after = sorted(set(before) - {host["name"] for host in plan["hosts"]})
    plan["before"], plan["after"] = {"mounted_on": before}, {"mounted_on": after}
    return plan


def _describe(kind, remote_host, remote_path):
    if remote_host is None:
        return "a %s volume" % kind
    return "%s:%s (%s)" % (remote_host, remote_path, kind)
