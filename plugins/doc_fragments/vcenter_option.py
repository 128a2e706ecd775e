# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # The vCenter connection as one dict option, for modules whose top-level connection
    # options are the cloud's (both backends have a validate_certs). Mirrors
    # dict(vcenter=dict(type="dict", apply_defaults=True, options=VCENTER_ARGUMENT_SPEC)).
    DOCUMENTATION = r"""
options:
  vcenter:
    description:
      - How to reach the vCenter. Each setting falls back to the C(VMWARE_*) environment
        variable that vmware.vmware and AWX's VMware vCenter credential use, so the dict
        can be left out.
    type: dict
    suboptions:
      hostname:
        description: The vCenter Server host name or IP address (E(VMWARE_HOST)).
        type: str
      username:
        description: The vCenter user (E(VMWARE_USER)).
        type: str
        aliases: [user, admin]
      password:
        description: Its password (E(VMWARE_PASSWORD)). Never logged nor returned.
        type: str
        aliases: [pass, pwd]
      port:
        description: The HTTPS port of the vCenter API (E(VMWARE_PORT)).
        type: int
        default: 443
      validate_certs:
        description: Whether to verify vCenter's certificate (E(VMWARE_VALIDATE_CERTS)).
        type: bool
        default: true
requirements:
  - pyvmomi >= 8.0.1
notes:
  - The top-level connection options are the cloud's; vCenter's connection goes in
    O(vcenter), since both backends have a C(validate_certs).
"""
