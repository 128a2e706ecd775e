#!/usr/bin/python
# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vcenter_inventory_info
short_description: Read a vCenter's datacenters, clusters, hosts and datastores in bulk
version_added: 0.1.0
description:
  - Reads the whole inventory of a vCenter with one PropertyCollector call per object
    kind (datacenters, folders, compute resources, hosts, datastores), never one read per
    host, and returns it as a datacenter / cluster / host tree.
  - For each cluster, returns the capacity nova's VMware driver will see (sums over the
    connected hosts that are not in maintenance) and the largest single host.
author:
  - nova_vsphere.mixed_cloud maintainers (@nova-vsphere)
options:
  datacenter:
    description:
      - Return only this datacenter. The task fails, naming the datacenters that exist,
        if there is none of that name.
    type: str
extends_documentation_fragment:
  - nova_vsphere.mixed_cloud.vcenter
  - ansible.builtin.action_common_attributes
  - nova_vsphere.mixed_cloud.attributes.read_only
"""

EXAMPLES = r"""
- name: Read the lab's vCenter (credentials from VMWARE_* variables)
  nova_vsphere.mixed_cloud.vcenter_inventory_info:
  register: vcenter

- name: Show every cluster and its memory as nova will see it
  ansible.builtin.debug:
    msg: "{{ item.name }}: {{ item.capacity.memory_mb }} MB on {{ item.capacity.usable_hosts }} hosts"
  loop: "{{ vcenter.datacenters | map(attribute='clusters') | flatten }}"
"""

RETURN = r"""
about:
  description: What the vCenter says of itself.
  returned: always
  type: dict
  sample: {"version": "6.5", "api_version": "6.5", "instance_uuid": "dbed6e0c-...", "name": "VMware vCenter Server"}
datacenters:
  description: Every datacenter (or the one asked for), sorted by name.
  returned: always
  type: list
  elements: dict
  contains:
    name:
      description: The datacenter's name.
      type: str
    clusters:
      description:
        - Each cluster with its hosts and C(capacity) (C(usable_hosts), C(memory_mb),
          C(memory_free_mb), C(cpu_threads), C(largest_host_memory_mb),
          C(largest_host_memory_free_mb)).
      type: list
      elements: dict
    standalone_hosts:
      description: Hosts that belong to no cluster.
      type: list
      elements: dict
    datastores:
      description: Each datastore with C(type), C(capacity_mb), C(free_mb) and the C(hosts) that mount it.
      type: list
      elements: dict
"""

from ..module_utils._common.argspec import compose
from ..module_utils._common.runner import Outcome, run_module
from ..module_utils._vcenter.client import VCENTER_ARGUMENT_SPEC, vcenter_session
from ..module_utils._vcenter.inventory import build_inventory, select_datacenter
from ..module_utils._vcenter.reads import (
    read_about,
    read_compute_resources,
    read_datacenters,
    read_datastores,
    read_folders,
    read_hosts,
)


def work(module, client):
    inventory = build_inventory(read_datacenters(client), read_folders(client), read_compute_resources(client),
                                read_hosts(client), read_datastores(client))
    return Outcome(False, None, None, "datacenters", select_datacenter(inventory, module.params["datacenter"]),
                   about=read_about(client))


def main():
    run_module(compose(VCENTER_ARGUMENT_SPEC, datacenter=dict(type="str")), vcenter_session, work)


if __name__ == "__main__":
    main()
