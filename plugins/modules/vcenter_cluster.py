#!/usr/bin/python
# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vcenter_cluster
short_description: Make a vSphere cluster fit for nova's VMware driver and report what nova will see
version_added: 0.1.0
description:
  - Brings the DRS and HA settings of an existing cluster to the given state. Only the
    settings given are managed; the diff shows each of them before and after.
  - Always returns the cluster's facts, read in bulk (one PropertyCollector call per
    object kind, whatever the number of hosts). They give every host, every datastore of
    the cluster with the hosts that mount it, which datastores all connected hosts share,
    which match O(datastore_regex), the capacity nova's driver will report, and the VMs
    in the cluster that nova does not manage.
  - Nova needs DRS in fully automated mode to place VMs, shared storage so DRS can run a
    VM on any host, and a cluster dedicated to OpenStack, or the usage nova reports is wrong.
  - Fails, and changes nothing, when the datacenter or cluster does not exist or its name
    is ambiguous, when O(datastore_regex) does not compile, or when
    O(require_shared_datastore) is set and no datastore nova may use is shared by all
    connected hosts.
author:
  - nova_vsphere.mixed_cloud maintainers (@nova-vsphere)
options:
  drs:
    description:
      - The DRS settings to enforce. Settings left out are not changed.
    type: dict
    suboptions:
      enabled:
        description: Whether DRS is on. Nova needs it on to place VMs in a cluster of several hosts.
        type: bool
      default_vm_behavior:
        description:
          - The cluster's DRS automation level. Nova needs V(fullyAutomated) so that vCenter
            places the VMs it creates without waiting for an operator; the task warns when
            it sets V(partiallyAutomated) or V(manual).
        type: str
        choices: [fullyAutomated, partiallyAutomated, manual]
      migration_threshold:
        description:
          - The migration threshold as the vSphere Client shows it, from V(1) (conservative,
            only mandatory moves) to V(5) (aggressive). The API stores it inverted as
            C(vmotionRate) = 6 - threshold.
        type: int
        choices: [1, 2, 3, 4, 5]
  ha:
    description:
      - The vSphere HA settings to enforce. Settings left out are not changed.
      - Nova's VMware driver cannot evacuate; vSphere HA is what restarts its VMs when a host fails.
    type: dict
    suboptions:
      enabled:
        description: Whether vSphere HA is on.
        type: bool
      host_monitoring:
        description: Whether HA monitors host heartbeats and restarts the VMs of a failed host.
        type: bool
      admission_control:
        description: Whether HA keeps failover capacity free by refusing power-ons that would use it.
        type: bool
  datastore_regex:
    description:
      - The regular expression of nova's C([vmware] datastore_regex). It is applied as nova
        does, with Python's C(re.match) (anchored at the start of the name only).
      - The facts then say which datastores match and whether those are shared.
    type: str
  require_shared_datastore:
    description:
      - Fail unless at least one datastore nova may use (accessible, type VMFS, NFS, NFS41
        or vsan, matching O(datastore_regex) if given) is mounted on every connected host.
      - The failure names, for each candidate, the hosts that lack it.
    type: bool
    default: false
extends_documentation_fragment:
  - nova_vsphere.mixed_cloud.vcenter
  - nova_vsphere.mixed_cloud.vcenter.cluster_scope
  - ansible.builtin.action_common_attributes
  - nova_vsphere.mixed_cloud.attributes.changes
notes:
  - The cluster must exist; this module does not create or remove clusters.
  - A failed task changes nothing; checks run before any setting is applied.
seealso:
  - module: nova_vsphere.mixed_cloud.vcenter_inventory_info
  - name: Nova VMware driver prerequisites
    description: What nova needs of vSphere clusters.
    link: https://docs.openstack.org/nova/latest/admin/configuration/hypervisor-vmware.html
"""

EXAMPLES = r"""
- name: DRS fully automated and HA on for the cluster nova will drive
  nova_vsphere.mixed_cloud.vcenter_cluster:
    datacenter: DC1
    cluster: Cluster-A
    drs:
      enabled: true
      default_vm_behavior: fullyAutomated
      migration_threshold: 3
    ha:
      enabled: true
      host_monitoring: true
    datastore_regex: "^nfs-"
    require_shared_datastore: true
  register: cluster

- name: Warn about VMs that would skew nova's usage figures
  ansible.builtin.debug:
    msg: "Not managed by nova: {{ cluster.cluster.vms.unmanaged | map(attribute='name') | join(', ') }}"
  when: cluster.cluster.vms.unmanaged | length > 0

- name: Only read the facts
  nova_vsphere.mixed_cloud.vcenter_cluster:
    cluster: Cluster-B
  register: facts
"""

RETURN = r"""
cluster:
  description: The cluster, its settings after this task (in check mode, as they would be) and its facts.
  returned: always, and with a failure on a missing shared datastore
  type: dict
  contains:
    name:
      description: The cluster's name.
      type: str
      sample: Cluster-A
    moid:
      description: The cluster's managed object id; nova's node name is C(<moid>.<vCenter instance uuid>).
      type: str
      sample: domain-c10
    datacenter:
      description: The datacenter that holds it.
      type: str
      sample: DC1
    datacenter_moid:
      description: The datacenter's managed object id.
      type: str
      sample: datacenter-2
    settings:
      description:
        - C(drs) (C(enabled), C(default_vm_behavior), C(migration_threshold)) and
          C(ha) (C(enabled), C(host_monitoring), C(admission_control)).
      type: dict
      sample: {"drs": {"enabled": true, "default_vm_behavior": "fullyAutomated", "migration_threshold": 3},
               "ha": {"enabled": true, "host_monitoring": true, "admission_control": true}}
    hosts:
      description: Each host with C(connection_state), C(maintenance_mode), C(cpu_threads), C(memory_mb), C(memory_used_mb).
      type: list
      elements: dict
    datastores:
      description:
        - Each datastore the cluster lists, with C(type), C(capacity_mb), C(free_mb), C(accessible),
          the C(hosts) that mount it, C(shared) (mounted on every connected host), C(missing_on)
          (connected hosts that lack it), C(matches_regex) and C(usable_by_nova).
      type: list
      elements: dict
    shared_datastores:
      description: Names of the datastores every connected host mounts.
      type: list
      elements: str
      sample: [nfs-a]
    datastore_regex:
      description: With O(datastore_regex), its C(pattern), the C(matching) datastores and those C(matching_shared); else null.
      type: dict
      sample: {"pattern": "^nfs-", "matching": ["nfs-a", "nfs-a-partial"], "matching_shared": ["nfs-a"]}
    capacity:
      description:
        - What nova's placement inventory will show, summed over the connected hosts not in
          maintenance. VCPU is C(cpu_threads) (max_unit C(largest_host_cpu_threads)), MEMORY_MB is
          C(memory_mb) (max_unit C(largest_host_memory_mb)), DISK_GB is C(disk_gb) over the datastores
          nova may use (max_unit C(largest_datastore_free_gb)).
        - C(memory_free_mb) and C(largest_host_memory_free_mb) show what is free in total and what one
          VM can really get on a single host; nova schedules on the totals.
      type: dict
    vms:
      description:
        - C(nova_managed), the number of VMs nova created (config.managedBy C(org.openstack.compute)
          or extra config C(nvp.vm-uuid)); C(agents), vSphere's own agent VMs (such as vCLS); and
          C(unmanaged), every other VM with C(name), C(power_state), C(host) and C(template).
          Unmanaged VMs take capacity nova counts as free.
      type: dict
"""

from ..module_utils._common.argspec import compose
from ..module_utils._common.errors import BackendError
from ..module_utils._common.runner import Outcome, run_module
from ..module_utils._vcenter.client import VCENTER_ARGUMENT_SPEC
from ..module_utils._vcenter.cluster import (
    compile_datastore_regex,
    drs_warnings,
    plan_settings,
    settings_from_config,
    shared_datastore_problem,
)
from ..module_utils._vcenter.cluster_reads import read_cluster
from ..module_utils._vcenter.cluster_scope import CLUSTER_SCOPE_SPEC, checked_session
from ..module_utils._vcenter.writes import reconfigure_cluster

ARGUMENT_SPEC = compose(
    VCENTER_ARGUMENT_SPEC,
    CLUSTER_SCOPE_SPEC,
    drs=dict(type="dict", options=dict(
        enabled=dict(type="bool"),
        default_vm_behavior=dict(type="str", choices=["fullyAutomated", "partiallyAutomated", "manual"]),
        migration_threshold=dict(type="int", choices=[1, 2, 3, 4, 5]),
    )),
    ha=dict(type="dict", options=dict(
        enabled=dict(type="bool"),
        host_monitoring=dict(type="bool"),
        admission_control=dict(type="bool"),
    )),
    datastore_regex=dict(type="str"),
    require_shared_datastore=dict(type="bool", default=False),
)


def check_options(params):
    compile_datastore_regex(params["datastore_regex"])


def work(module, client):
    """Read the cluster, compare its settings, check its storage, apply unless in check mode."""
    params = module.params
    desired = {"drs": params["drs"], "ha": params["ha"]}
    cluster, config, facts = read_cluster(client, params["cluster"], params["datacenter"],
                                          compile_datastore_regex(params["datastore_regex"]))
    current = settings_from_config(config)
    before, after, changes = plan_settings(current, desired)
    settings = {section: dict(values, **after.get(section, {})) for section, values in current.items()}
    result = dict(cluster, settings=settings, **facts)
    problem = params["require_shared_datastore"] and shared_datastore_problem(cluster["name"], facts)
    if problem:
        raise BackendError(problem, cluster=dict(result, settings=current))
    if changes and not module.check_mode:
        reconfigure_cluster(client, cluster, changes)
    return Outcome(changes, before, after, "cluster", result, warnings=drs_warnings(params["drs"]))


def main():
    run_module(ARGUMENT_SPEC, checked_session(check_options), work)


if __name__ == "__main__":
    main()
