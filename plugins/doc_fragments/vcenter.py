# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Mirrors VCENTER_ARGUMENT_SPEC in plugins/module_utils/_vcenter/client.py.
    DOCUMENTATION = r"""
options:
  hostname:
    description:
      - The vCenter Server host name or IP address.
      - If not set, the value of the E(VMWARE_HOST) environment variable is used.
    type: str
  username:
    description:
      - The vCenter user to log in as.
      - If not set, the value of the E(VMWARE_USER) environment variable is used.
    type: str
    aliases: [user, admin]
  password:
    description:
      - The password of O(username).
      - If not set, the value of the E(VMWARE_PASSWORD) environment variable is used.
      - Never logged nor returned.
    type: str
    aliases: [pass, pwd]
  port:
    description:
      - The HTTPS port of the vCenter API, from V(1) to V(65535); any other value is
        refused before connecting.
      - If not set, the value of the E(VMWARE_PORT) environment variable is used.
    type: int
    default: 443
  validate_certs:
    description:
      - Whether to verify vCenter's TLS certificate against this host's trust store
        (or the bundle E(SSL_CERT_FILE) names).
      - Set to V(false) only where that risk is accepted, such as a lab.
      - If not set, the value of the E(VMWARE_VALIDATE_CERTS) environment variable is used.
    type: bool
    default: true
requirements:
  - pyvmomi >= 8.0.1
notes:
  - These options and their environment variables are those of C(vmware.vmware), so the
    AWX/AAP "VMware vCenter" credential works unchanged.
  - Every connection failure (unknown host, refused port, untrusted certificate, wrong
    password, missing pyVmomi) fails the task with a one-line message that says what to fix.
"""

    # Mirrors CLUSTER_SCOPE_SPEC in plugins/module_utils/_vcenter/cluster_scope.py.
    CLUSTER_SCOPE = r"""
options:
  datacenter:
    description:
      - The datacenter of the cluster. Needed only when clusters of that name exist in
        several datacenters.
    type: str
  cluster:
    description:
      - The cluster's name, as nova's C([vmware] cluster_name) gives it.
    type: str
    required: true
"""
