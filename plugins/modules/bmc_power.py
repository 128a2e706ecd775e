#!/usr/bin/python
# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: bmc_power
short_description: Power a host on or off through its BMC with the real fence agents
version_added: 0.1.0
description:
  - Reads a host's power state through its BMC, powers it on or off only when it is not in
    O(state) already, and reads the state back. This is how a failed KVM host is fenced
    before its instances are evacuated (P(nova_vsphere.mixed_cloud.instance_evacuate#module)
    with C(fenced=true)). V(off) is a hard power off (Redfish C(ForceOff), IPMI
    C(chassis power off)), not a shutdown the host's OS could delay or refuse.
  - Runs Debian's fence agents, the ones pacemaker fences with, C(fence_redfish) or
    C(fence_ipmilan) (package C(fence-agents)) on the host the module runs on, which must
    reach the BMC. Every option goes to the agent on its standard input, so the password is
    never on a command line. C(fence_ipmilan) itself passes the password to C(ipmitool) on
    its command line, which C(ipmitool) overwrites at its start; prefer V(redfish).
  - The agent waits for the BMC to read the new state (up to O(timeout)); the module then
    reads it once more and fails unless it is O(state).
  - Failures are one line naming the BMC's URL and the cause (wrong credentials, connection
    refused, no answer, an untrusted certificate, an unknown system), the password masked.
author:
  - nova_vsphere.mixed_cloud maintainers (@nova-vsphere)
options:
  agent:
    description: The fence agent, after the BMC's protocol.
    type: str
    choices: [redfish, ipmilan]
    default: redfish
  address:
    description: The BMC's host name or IP address.
    type: str
    required: true
  port:
    description: The BMC's port. The agent's default when omitted (443 for Redfish, 623 for IPMI).
    type: int
  username:
    description: The BMC user; it needs the right to reset the system (Redfish C(ConfigureComponents)).
    type: str
    required: true
  password:
    description: The BMC user's password; for V(ipmilan) at most 20 bytes (IPMI 2.0).
    type: str
    required: true
  system:
    description:
      - The Redfish system, as a path (C(/redfish/v1/Systems/System.Embedded.1)) or an Id
        under C(/redfish/v1/Systems/). When omitted, C(fence_redfish) takes the BMC's last
        listed system, which is the right one only on a BMC that manages a single system.
      - V(redfish) only.
    type: str
  validate_certs:
    description:
      - Verify the BMC's TLS certificate. V(false) passes C(ssl_insecure) to the agent; a
        fence through a BMC that cannot be authenticated could power off the wrong machine.
      - V(redfish) only (IPMI has no TLS).
    type: bool
    default: true
  ca_path:
    description:
      - A file of CA certificates (PEM) to verify the BMC's certificate with, instead of the
        system's trust store; for BMCs whose certificates a site's own CA signed.
      - V(redfish) only. C(fence_redfish) has no option for it; the module hands it to the
        agent's HTTP library (C(requests)) as C(REQUESTS_CA_BUNDLE).
    type: path
  state:
    description:
      - The power state the host must be in. Quote it, V("off"), since YAML reads a bare C(off) as false.
    type: str
    choices: ["on", "off"]
    required: true
  timeout:
    description:
      - Seconds the BMC gets to reach O(state) after the request (the agent's
        C(power_timeout)). Each agent run is killed 15 s after that.
    type: int
    default: 60
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - nova_vsphere.mixed_cloud.attributes.changes
notes:
  - Check mode reads the power state and reports what the module would do, changing nothing.
"""

EXAMPLES = r"""
- name: Fence a failed KVM host through its BMC (hostvar bmc, see docs/lab.md)
  nova_vsphere.mixed_cloud.bmc_power:
    agent: "{{ bmc.agent }}"
    address: "{{ bmc.address }}"
    port: "{{ bmc.port }}"
    username: "{{ bmc.username }}"
    password: "{{ bmc.password }}"
    system: "{{ bmc.system | default(omit) }}"
    validate_certs: "{{ bmc.validate_certs }}"
    ca_path: "{{ bmc.ca_path | default(omit) }}"
    state: "off"
  register: fenced

- name: Power a host on again through IPMI
  nova_vsphere.mixed_cloud.bmc_power:
    agent: ipmilan
    address: 192.0.2.21
    username: admin
    password: "{{ vault_bmc_password }}"
    state: "on"
"""

RETURN = r"""
power:
  description: The power state before the task and after it (in check mode, what it would be).
  returned: success
  type: dict
  contains:
    before:
      description: The state read before any change.
      type: str
      sample: "on"
    after:
      description: The state read back after the change.
      type: str
      sample: "off"
bmc:
  description: The BMC as messages name it (no credentials).
  returned: success
  type: str
  sample: https://192.0.2.21:443/redfish/v1/Systems/System.Embedded.1
"""

from ..module_utils._common.errors import BackendError
from ..module_utils._common.argspec import compose
from ..module_utils._common.runner import Outcome, run_module
from ..module_utils._fence.client import FENCE_ARGUMENT_SPEC, fence_session

ARGUMENT_SPEC = compose(FENCE_ARGUMENT_SPEC, state=dict(type="str", choices=["on", "off"], required=True))


def work(module, bmc):
    wanted = module.params["state"]
    before = bmc.status()
    changed = before != wanted
    after = before
    if changed and module.check_mode:
        after = wanted
    elif changed:
        bmc.power(wanted)
        after = bmc.status()
        if after != wanted:
            raise BackendError("BMC %s: %s powered the host %s, and the BMC reads it %s." % (
                bmc.url, bmc.name, wanted, after), changed=True)
    return Outcome(changed, {"power": before}, {"power": after}, name="power",
                   result={"before": before, "after": after}, bmc=bmc.url)


def main():
    run_module(ARGUMENT_SPEC, fence_session, work)


if __name__ == "__main__":
    main()
