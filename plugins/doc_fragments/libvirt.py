# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    # Mirrors LIBVIRT_ARGUMENT_SPEC in plugins/module_utils/_libvirt.py.
    DOCUMENTATION = r"""
options:
  uri:
    description:
      - The libvirt connection URI of the KVM host, opened read-only.
      - For a remote host use a URI such as V(qemu+ssh://root@kvm1/system).
    type: str
    default: qemu:///system
requirements:
  - libvirt-python
notes:
  - Connection failures (libvirtd not running, unknown URI scheme, authentication refused,
    missing libvirt-python) fail the task with a one-line message that says what to fix.
"""
