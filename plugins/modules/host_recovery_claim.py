#!/usr/bin/python
# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: host_recovery_claim
short_description: Claim a failed host's recovery, so that one run fences and evacuates it
version_added: 0.2.0
description:
  - Two events for one host failure (a duplicate, a second rulebook or AWX schedule watching the
    same cloud) must lead to one recovery. The claim is a nova host aggregate named
    C(mixed-cloud-ha-recovery:<host>), with no hosts, whose name nova keeps unique - of two
    runs claiming at once exactly one gets it, whichever controller they run on.
  - The claim stays after the recovery for O(cooldown) seconds (from its creation), during which
    other runs are refused; an older claim is replaced. Release it when nothing was done (a fence
    that failed), so that the next event tries again.
  - O(outcome) records how the recovery went in the claim's metadata.
  - Compute API microversion 2.41. Needs admin credentials.
  - In check mode, says whether the claim would be taken, without writing.
author:
  - nova_vsphere.mixed_cloud maintainers (@nova-vsphere)
options:
  host:
    description: The nova-compute service host being recovered.
    type: str
    required: true
  owner:
    description: Who claims - a run's unique id (an EDA event's C(meta.uuid), an AWX job id). The claim is held by it.
    type: str
    required: true
  state:
    description:
      - V(claimed) takes the claim, or keeps it when O(owner) holds it; refused (C(claim.held) false,
        not a failure) while another owner's claim is younger than O(cooldown).
      - V(released) deletes the claim O(owner) holds; another owner's claim is left alone.
    type: str
    choices: [claimed, released]
    default: claimed
  outcome:
    description: The recovery's state to record in the claim.
    type: str
    choices: [recovering, recovered, not_recovered]
    default: recovering
  detail:
    description: A line on the outcome (at most 255 characters are kept).
    type: str
  cooldown:
    description: Seconds after a claim was taken during which no other run may claim the host.
    type: int
    default: 900
extends_documentation_fragment:
  - nova_vsphere.mixed_cloud.openstack
  - ansible.builtin.action_common_attributes
  - nova_vsphere.mixed_cloud.attributes.changes
"""

EXAMPLES = r"""
- name: Claim kvm-compute-3's recovery for this EDA event
  nova_vsphere.mixed_cloud.host_recovery_claim:
    host: kvm-compute-3
    owner: "{{ ansible_eda.event.meta.uuid }}"
  register: claim

- name: Recover only when this run holds it
  ansible.builtin.debug:
    msg: "{{ claim.claim.reason }}"
  when: not claim.claim.held
"""

RETURN = r"""
claim:
  description: The claim after the task, and whether this owner holds it.
  returned: always
  type: dict
  sample:
    host: kvm-compute-3
    held: true
    action: take
    reason: no recovery of this host is under way or cooling down
    id: 17
    claimed_at: "2026-12-01T15:00:03.000000"
    owner: 6f0c2b7e-...
    outcome: recovering
    detail: null
"""

import time

from ..module_utils._common.runner import Outcome, run_module
from ..module_utils._openstack import nova, recovery_claim
from ..module_utils._openstack.client import OpenStackModule, openstack_argument_spec, openstack_session

ARGUMENT_SPEC = openstack_argument_spec(
    host=dict(type="str", required=True),
    owner=dict(type="str", required=True),
    state=dict(type="str", default="claimed", choices=["claimed", "released"]),
    outcome=dict(type="str", default="recovering", choices=list(recovery_claim.OUTCOMES)),
    detail=dict(type="str"),
    cooldown=dict(type="int", default=900),
)


def _shown(claim):
    return {key: claim[key] for key in ("owner", "outcome", "detail", "claimed_at")} if claim else {}


def work(module, client):
    params = module.params
    host, owner = params["host"], params["owner"]
    existing = recovery_claim.find_claim(nova.list_aggregates(client), host)
    if params["state"] == "released":
        mine = existing is not None and existing["owner"] == owner
        if mine and not module.check_mode:
            recovery_claim.release(client, existing)
        reason = "released" if mine else ("held by %s, left alone" % existing["owner"] if existing else "no claim")
        return Outcome(mine, _shown(existing), {} if mine else _shown(existing), name="claim",
                       result=dict(existing or {"host": host}, held=False, action="release" if mine else "none",
                                   reason=reason))
    action, reason = recovery_claim.plan_claim(existing, owner, time.time(), params["cooldown"])
    if action == "refuse":
        return Outcome(False, _shown(existing), _shown(existing), name="claim",
                       result=dict(existing, held=False, action=action, reason=reason))
    wanted = {"owner": owner, "outcome": params["outcome"], "detail": params["detail"]}
    unchanged = action == "keep" and all(existing[key] == value for key, value in wanted.items())
    claim = existing
    if module.check_mode or unchanged:
        claim = dict(existing or {"host": host, "id": None, "claimed_at": None}, **wanted)
    elif action == "keep":
        claim = recovery_claim.record(client, existing, owner, params["outcome"], params["detail"])
    else:
        if action == "replace":
            recovery_claim.release(client, existing)
        claim = recovery_claim.take(client, host, owner, params["outcome"], params["detail"])
        if claim is None:  # another run created it between the read and the write
            claim = recovery_claim.find_claim(nova.list_aggregates(client), host) or {"host": host, "owner": None}
            return Outcome(action == "replace", _shown(existing), _shown(claim), name="claim",
                           result=dict(claim, held=False, action="refuse",
                                       reason="another run claimed %s first (%s)" % (host, claim["owner"] or "unknown")))
    after = dict(_shown(claim), claimed_at=claim["claimed_at"])
    return Outcome(not unchanged, _shown(existing), after, name="claim",
                   result=dict(claim, held=True, action=action, reason=reason))


def main():
    run_module(ARGUMENT_SPEC, openstack_session, work, module_class=OpenStackModule)


if __name__ == "__main__":
    main()
