#!/usr/bin/python
# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vcenter_host_nfs_datastore
short_description: Mount one NFS export as a datastore on every host of a cluster
version_added: 0.1.0
description:
  - Mounts the NFS export O(server):O(path) as the datastore O(name) on every connected
    host of the cluster that does not mount it yet, so that the storage is shared and DRS
    can run a VM on any host. With O(state=absent), unmounts it from the cluster's hosts;
    vCenter drops the datastore once no host mounts it.
  - Fails, and changes nothing, when a datastore of that name already exists in the
    datacenter for another export or kind of volume.
  - Hosts that are not connected cannot be configured; they are listed in the result and
    reported in a warning.
author:
  - nova_vsphere.mixed_cloud maintainers (@nova-vsphere)
options:
  name:
    description: The datastore's name. Make it match nova's C([vmware] datastore_regex).
    type: str
    required: true
  server:
    description: The NFS server's host name or address. Required with O(state=present).
    type: str
  path:
    description: The exported path on the server. Required with O(state=present).
    type: str
  nfs_version:
    description: The NFS protocol version.
    type: str
    choices: ["3", "4.1"]
    default: "3"
  read_only:
    description: Mount read-only. Nova needs to write its instances, so leave it off for instance storage.
    type: bool
    default: false
  state:
    description: Whether the hosts of the cluster mount the datastore.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - nova_vsphere.mixed_cloud.vcenter
  - nova_vsphere.mixed_cloud.vcenter.cluster_scope
  - ansible.builtin.action_common_attributes
  - nova_vsphere.mixed_cloud.attributes.changes
notes:
  - The mount options of hosts that already mount the datastore are not changed.
  - Unmounting fails on a host where VMs still use the datastore.
"""

EXAMPLES = r"""
- name: Shared instance storage for Cluster-B
  nova_vsphere.mixed_cloud.vcenter_host_nfs_datastore:
    cluster: Cluster-B
    name: nfs-nova
    server: nfs.example.com
    path: /exports/nova
"""

RETURN = r"""
datastore:
  description: The datastore as it is after this task (in check mode, as it would be).
  returned: success
  type: dict
  contains:
    name:
      description: The datastore's name.
      type: str
      sample: nfs-nova
    state:
      description: V(present) or V(absent).
      type: str
      sample: present
    mounted_on:
      description: The cluster's hosts that mount it.
      type: list
      elements: str
      sample: [esx-b1.lab.local, esx-b2.lab.local, esx-b3.lab.local]
    skipped_hosts:
      description: Hosts of the cluster that are not connected, left unconfigured.
      type: list
      elements: str
      sample: []
"""

import functools

from ..module_utils._common.argspec import compose
from ..module_utils._common.runner import run_module
from ..module_utils._vcenter.client import VCENTER_ARGUMENT_SPEC, vcenter_session
from ..module_utils._vcenter.cluster_scope import CLUSTER_SCOPE_SPEC, on_cluster_hosts
from ..module_utils._vcenter.host_reads import read_datacenter_datastores, read_host_storage
from ..module_utils._vcenter.nfs import plan_nfs
from ..module_utils._vcenter.writes import mount_nfs, unmount_datastore

ARGUMENT_SPEC = compose(
    VCENTER_ARGUMENT_SPEC,
    CLUSTER_SCOPE_SPEC,
    name=dict(type="str", required=True),
    server=dict(type="str"),
    path=dict(type="str"),
    nfs_version=dict(type="str", choices=["3", "4.1"], default="3"),
    read_only=dict(type="bool", default=False),
    state=dict(type="str", choices=["present", "absent"], default="present"),
)


def plan_hosts(client, cluster, params):
    name = params["name"]
    plan = plan_nfs(read_host_storage(client, cluster["moid"]), read_datacenter_datastores(client, cluster["datacenter_moid"]),
                    name, params["server"], params["path"], params["nfs_version"], params["state"])
    if params["state"] == "present":
        changes = [functools.partial(mount_nfs, client, host, name, params["server"], params["path"],
                                     params["nfs_version"], params["read_only"]) for host in plan["hosts"]]
    else:
        changes = [functools.partial(unmount_datastore, client, host, plan["datastore"]) for host in plan["hosts"]]
    return plan, changes, {"name": name, "state": params["state"], "mounted_on": plan["after"]["mounted_on"]}


def main():
    run_module(ARGUMENT_SPEC, vcenter_session, on_cluster_hosts("datastore", plan_hosts),
               required_if=[("state", "present", ["server", "path"])])


if __name__ == "__main__":
    main()
