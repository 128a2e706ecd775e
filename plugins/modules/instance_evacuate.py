#!/usr/bin/python
# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: instance_evacuate
short_description: Evacuate the instances of a failed KVM compute host, safely and in parallel
version_added: 0.1.0
description:
  - Brings the instances of a failed nova-compute host back up on other hosts with nova's
    evacuate API, as vSphere HA would, and reports one row per instance.
  - "Safety gates, each refusing with nothing changed: the host's nova-compute must be down,
    or the caller asserts with O(fenced=true) that the host is powered off, and the module then
    forces the service down; a vSphere proxy host is refused (nova's VMware driver cannot
    evacuate, vSphere HA restarts those VMs itself); another enabled, up host must exist,
    and O(target_host) must be one."
  - The source service is disabled with a reason naming this module, so a host that comes
    back takes no new instances until O(state=restored).
  - Keeps at most O(concurrency) evacuations in flight, follows each through its migration
    record (C(migration_type=evacuation)) and its instance, and submits a failed attempt
    again (the scheduler choosing) up to O(retries) times. The other instances still
    complete when one fails; the task then fails, listing the failures.
  - The reads of the instances whose evacuations ended are made in parallel, at most 10 at once;
    the evacuate calls go out one after the other, which lets nova's scheduler spread them over
    the hosts. The migrations are polled every second, every half second while 8 or more
    evacuations are in flight.
  - With O(opt_in), only the instances that opted in are evacuated, by their metadata or their
    flavor's extra spec O(opt_in_key); the others are reported as C(filtered_out) and left alone.
  - Running it again after an interruption resumes the work - instances already evacuated
    are reported and skipped, evacuations in flight are followed, the rest are evacuated.
  - O(state=restored) brings a repaired host back (un-forced, enabled), but only once its
    evacuations are complete - nova refuses while C(done) evacuation migrations remain,
    which its nova-compute marks C(completed) when it starts and destroys its stale copies.
  - Each call names its compute API microversion - 2.53 to read and to update the service,
    2.59 for migrations, 2.68 to evacuate under O(target_state=preserve) and 2.95 under
    O(target_state=stopped).
  - In check mode, returns the plan - what would happen to each instance and why - after
    the same gates.
  - O(timeout) is the time one evacuation attempt of one instance may take, and again the
    power-off that may follow it.
author:
  - nova_vsphere.mixed_cloud maintainers (@nova-vsphere)
options:
  host:
    description: The nova-compute host (service host name) that failed.
    type: str
    required: true
  state:
    description:
      - V(evacuated) evacuates the host's instances.
      - V(restored) brings the repaired host back - un-forces and enables its service.
    type: str
    choices: [evacuated, restored]
    default: evacuated
  fenced:
    description:
      - Asserts that the host is fenced (powered off, or cut from its storage and network),
        so none of its instances can still run there.
      - The module then forces the service down, and nova accepts the evacuations at once
        instead of after C(service_down_time) (60 s by default) without heartbeats.
      - Without it, the module refuses while nova still sees the service up.
    type: bool
    default: false
  target_host:
    description:
      - A host to evacuate to, checked by the scheduler. When it cannot take an instance, the
        next attempt for that instance lets the scheduler choose.
      - Omitted, the scheduler chooses for every instance.
    type: str
  target_state:
    description:
      - V(preserve) brings each instance back as it was - active stays active, stopped stays
        stopped. An instance in error (or reset to error from another state) comes back
        running if nova last saw it running, stopped otherwise.
      - V(stopped) leaves every evacuated instance stopped, as nova does from microversion 2.95
        (every nova-compute must support it).
    type: str
    choices: [preserve, stopped]
    default: preserve
  concurrency:
    description:
      - How many evacuations may be in flight at once.
      - The default lets a typical host's instances all go at once, so that nova's conductor,
        scheduler and computes work on them side by side; lower it for a small control plane.
    type: int
    default: 20
  retries:
    description: How many times a failed evacuation of one instance is submitted again.
    type: int
    default: 2
  opt_in:
    description:
      - Which instances of the host are evacuated; the others are reported as C(filtered_out), with
        the reason, and left untouched.
      - V(all) evacuates every instance.
      - V(metadata) only instances whose metadata O(opt_in_key) is true, as masakari's C(HA_Enabled).
      - V(flavor) only instances whose flavor has the extra spec O(opt_in_key) true, as Red Hat
        InstanceHA's C(evacuable). It is read from the flavor embedded in the server (microversion
        2.53; nova shows extra specs there from 2.47), so no extra call, and it is the flavor as the
        instance was booted or last resized with - changing the flavor's extra specs later does not
        reach existing instances.
      - V(any) instances that opt in either way.
      - C(true), C(yes) and C(1), in any case, opt in; any other value or none does not.
    type: str
    choices: [all, metadata, flavor, any]
    default: all
  opt_in_key:
    description:
      - The metadata key or flavor extra spec by which an instance opts in (O(opt_in)).
      - Where nova's C(AggregateInstanceExtraSpecsFilter) is enabled, it reads a flavor extra spec
        without a namespace, such as C(evacuable), as aggregate metadata the host must have, so the
        flavor would fit no host; name a key with a namespace no filter reads, such as C(ha:evacuable).
    type: str
    default: evacuable
  shared_storage:
    description:
      - Asserts that the computes share the instance directory (for example over NFS), so
        image-backed disks keep their data. Without it, each instance that would lose data
        carries a warning.
    type: bool
    default: false
  skip_local_disks:
    description:
      - Leaves on the failed host the instances that would lose data (an image-backed root disk,
        rebuilt from its image, or an ephemeral disk) unless O(shared_storage=true); they are
        reported as C(cannot).
    type: bool
    default: false
extends_documentation_fragment:
  - nova_vsphere.mixed_cloud.openstack
  - ansible.builtin.action_common_attributes
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - Needs admin credentials - evacuate, reset-state, services and migrations are admin APIs.
  - Nova sets a new admin password on each rebuilt instance and, since microversion 2.14,
    returns it to no one; it reaches the guest only where password injection is configured.
  - An instance nova rebuilt from error and this module then had to stop, and whose run was
    interrupted between the two, is left running; the next run reports it as already evacuated.
seealso:
  - name: Evacuation in this collection
    description: How the module is safe, its gates, and its measured speed (docs/evacuation.md).
    link: https://github.com/nova-vsphere/mixed_cloud/blob/main/docs/evacuation.md
"""

EXAMPLES = r"""
- name: Evacuate kvm-07, which the IPMI fence agent just powered off
  nova_vsphere.mixed_cloud.instance_evacuate:
    host: kvm-07
    fenced: true
  register: evacuation

- name: Only instances that asked for HA (metadata HA_Enabled=True), to a spare host, left stopped
  nova_vsphere.mixed_cloud.instance_evacuate:
    host: kvm-07
    opt_in: metadata
    opt_in_key: HA_Enabled
    target_host: kvm-spare-1
    target_state: stopped

- name: Bring kvm-07 back once repaired and its nova-compute runs again
  nova_vsphere.mixed_cloud.instance_evacuate:
    host: kvm-07
    state: restored
"""

RETURN = r"""
instances:
  description:
    - One row per instance of the host, and per instance an earlier run evacuated from it.
    - C(action) is what the plan does - V(evacuate), V(reset_and_evacuate) (its state is reset
      to error first, as nova evacuates only active, stopped or error instances with no task),
      V(follow) (an evacuation an earlier run started), V(already_evacuated), V(filtered_out)
      (not opted in under O(opt_in), left untouched) or V(cannot) (C(reason) says why).
    - C(status) is V(planned) (check mode), V(done), V(failed) or V(skipped).
    - C(vm_state) is the instance's state at the end; C(expected_vm_state) the one it must reach.
    - C(attempts) counts evacuate calls, C(seconds) the time from the first to the end,
      C(earlier_errors) the failed attempts that were retried.
    - C(data_loss) names the local data the evacuation loses (an image-backed root disk, rebuilt
      from its image, or an ephemeral disk) unless the instance storage is shared.
  returned: state=evacuated
  type: list
  elements: dict
  sample:
    - id: 0f9958c7-5d1a-4c29-852d-8c7f992e7875
      name: web-1
      action: evacuate
      reason: null
      status: done
      from: kvm-07
      to: kvm-03
      migration_id: 41
      vm_state: active
      expected_vm_state: active
      attempts: 2
      seconds: 9.4
      error: null
      data_loss: image-backed root disk (rebuilt from image 07ea1205-cde1-4c7f-b5b8-a85aac16b57a)
      earlier_errors: ["attempt 1: evacuation failed (migration 40 error): No valid host was found."]
summary:
  description:
    - How many rows ended in each status, and the seconds the whole task took (from its first read
      of nova, after the login, to its end).
    - C(filtered_out) counts the instances that did not opt in (O(opt_in)), also counted in C(skipped).
  returned: state=evacuated
  type: dict
  sample: {"done": 9, "failed": 1, "skipped": 2, "planned": 0, "filtered_out": 1, "seconds": 31.2}
service:
  description: The host's nova-compute service after the task (in check mode, as it would be).
  returned: success
  type: dict
  sample: {"host": "kvm-07", "id": "98d2756c-9f4a-4f43-93a8-033e035593e2", "status": "disabled", "state": "down",
           "forced_down": true, "disabled_reason": "instance_evacuate: host failed and was evacuated; ..."}
"""

import time


from ..module_utils._common.errors import failing_cleanly
from ..module_utils._openstack.evacuation import Evacuation
from ..module_utils._openstack.evacuation_plan import (
    changes_since,
    check_restore,
    check_source,
    check_targets,
    moving_or_moved,
    plan_instances,
)
from ..module_utils._openstack.nova import (
    NovaEvacuation,
    find_server,
    list_compute_services,
    list_evacuations_from,
    list_hypervisors,
    list_servers_on,
    update_service,
)
from ..module_utils._openstack.client import OpenStackModule, openstack_argument_spec, openstack_session

ARGUMENT_SPEC = dict(
    host=dict(type="str", required=True),
    state=dict(type="str", choices=["evacuated", "restored"], default="evacuated"),
    fenced=dict(type="bool", default=False),
    target_host=dict(type="str"),
    target_state=dict(type="str", choices=["preserve", "stopped"], default="preserve"),
    concurrency=dict(type="int", default=20),
    retries=dict(type="int", default=2),
    opt_in=dict(type="str", choices=["all", "metadata", "flavor", "any"], default="all"),
    opt_in_key=dict(type="str", default="evacuable", no_log=False),
    shared_storage=dict(type="bool", default=False),
    skip_local_disks=dict(type="bool", default=False),
)
SERVICE_FIELDS = ("host", "id", "status", "state", "forced_down", "disabled_reason")


def evacuate(module, client, services):
    params, host, started = module.params, module.params["host"], time.monotonic()
    hypervisors = list_hypervisors(client)
    service, update = check_source(host, services, hypervisors, params["fenced"])
    check_targets(host, services, hypervisors, params["target_host"])
    # Servers first: an evacuation that ends between the two reads then shows in the migrations.
    servers = list_servers_on(client, host)
    migrations = list_evacuations_from(client, host)
    reread = [server for server in (find_server(client, uuid) for uuid in moving_or_moved(servers, migrations))
              if server]
    rows = plan_instances(host, servers, migrations, reread, params)
    changed = bool(update)
    if not module.check_mode:
        if update:
            update_service(client, service, update)
        nova = NovaEvacuation(client, host, params["target_state"], changes_since(services))
        changed = Evacuation(nova, rows, migrations, params["target_host"], params["concurrency"], params["retries"],
                             params["timeout"]).run() or changed
    else:
        changed = changed or any(row["action"] in ("evacuate", "reset_and_evacuate") for row in rows)
    _warn(module, host, rows)
    summary = dict((status, sum(row["status"] == status for row in rows))
                   for status in ("done", "failed", "skipped", "planned"))
    summary["filtered_out"] = sum(row["action"] == "filtered_out" for row in rows)
    summary["seconds"] = round(time.monotonic() - started, 1)
    result = dict(changed=changed, instances=rows, summary=summary, service=_service(dict(service, **update)))
    failed = [row for row in rows if row["status"] == "failed"]
    if failed:
        module.fail_json(msg="%d of %d instances were not evacuated from %s: %s" % (
            len(failed), len(rows), host, "; ".join("%s (%s): %s" % (row["name"], row["id"], row["error"])
                                                    for row in failed[:3])), **result)
    module.exit_json(**result)


def restore(module, client, services):
    host = module.params["host"]
    service, update = check_restore(host, services, list_evacuations_from(client, host))
    if update and not module.check_mode:
        update_service(client, service, update)
        service = next(row for row in list_compute_services(client) if row["id"] == service["id"])
        if service["state"] != "up":
            module.warn("nova-compute on %s is not reporting: nova counts it down until it runs." % host)
    module.exit_json(changed=bool(update), service=_service(dict(service, **update)))


def _warn(module, host, rows):
    losing = [row["name"] for row in rows if row["data_loss"]]
    if losing:
        module.warn("%d instance(s) lose local data unless the instance storage is shared (set shared_storage if it "
                    "is, or skip_local_disks to leave them): %s." % (len(losing), ", ".join(losing)))
    stuck = [row for row in rows if row["action"] == "cannot"]
    if stuck:
        module.warn("%d instance(s) stay on %s: %s." % (len(stuck), host, "; ".join(
            "%s: %s" % (row["name"], row["reason"]) for row in stuck)))


def _service(service):
    row = dict((field, service.get(field)) for field in SERVICE_FIELDS)
    if row["forced_down"]:
        row["state"] = "down"
    return row


def main():
    module = OpenStackModule(argument_spec=openstack_argument_spec(**ARGUMENT_SPEC), supports_check_mode=True)
    low = [name for name, least in (("concurrency", 1), ("retries", 0), ("timeout", 1)) if module.params[name] < least]
    if low:
        module.fail_json(msg="concurrency and timeout must be at least 1, retries at least 0: check %s." % ", ".join(low))
    with failing_cleanly(module), openstack_session(module.params) as client:
        services = list_compute_services(client)
        if module.params["state"] == "restored":
            restore(module, client, services)
        else:
            evacuate(module, client, services)


if __name__ == "__main__":
    main()
