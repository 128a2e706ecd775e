#!/usr/bin/python
# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: nova_scheduler_info
short_description: Say which filters nova-scheduler runs, and which needed ones it does not
version_added: 0.1.0
description:
  - Reads C([filter_scheduler] enabled_filters) from nova-scheduler's configuration files on
    the host the module runs on (the controller), falling back to nova's default list, and
    compares it with the filters a deployment relies on.
  - No API shows the scheduler's filters, so the configuration is the source. A scheduler
    started before the file changed runs the filters of its start.
author:
  - nova_vsphere.mixed_cloud maintainers (@nova-vsphere)
options:
  nova_conf:
    description:
      - nova-scheduler's configuration files, in the order it reads them; the last that sets
        C(enabled_filters) wins. Files that do not exist are skipped.
    type: list
    elements: path
    default: [/etc/nova/nova.conf]
  required_filters:
    description: Filters that must be enabled, such as V(AggregateInstanceExtraSpecsFilter).
    type: list
    elements: str
    default: [ImagePropertiesFilter]
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - nova_vsphere.mixed_cloud.attributes.read_only
"""

EXAMPLES = r"""
- name: Check the controller runs the filters a mixed cloud needs
  nova_vsphere.mixed_cloud.nova_scheduler_info:
    required_filters: [ImagePropertiesFilter, AggregateInstanceExtraSpecsFilter]
  delegate_to: controller1
  register: scheduler

- name: Say what is missing
  ansible.builtin.assert:
    that: scheduler.missing_filters | length == 0
    fail_msg: "{{ scheduler.msg }}"
"""

RETURN = r"""
enabled_filters:
  description: The filters nova-scheduler runs, in order.
  returned: always
  type: list
  elements: str
  sample: [ComputeFilter, ComputeCapabilitiesFilter, ImagePropertiesFilter, AggregateInstanceExtraSpecsFilter]
source:
  description: The file that set them, or V(nova's default).
  returned: always
  type: str
  sample: /etc/nova/nova.conf
missing_filters:
  description: The required filters not enabled.
  returned: always
  type: list
  elements: str
msg:
  description: The verdict in words, with the fix when filters are missing.
  returned: always
  type: str
"""

from ansible.module_utils.basic import AnsibleModule

from ..module_utils._nova_conf.conf_files import read_existing
from ..module_utils._common.errors import failing_cleanly
from ..module_utils._nova_conf.scheduler import enabled_filters, missing_filters


def main():
    module = AnsibleModule(
        argument_spec=dict(
            nova_conf=dict(type="list", elements="path", default=["/etc/nova/nova.conf"]),
            required_filters=dict(type="list", elements="str", default=["ImagePropertiesFilter"]),
        ),
        supports_check_mode=True,
    )
    with failing_cleanly(module):
        enabled, source = enabled_filters(read_existing(module.params["nova_conf"]))
    missing = missing_filters(enabled, module.params["required_filters"])
    if missing:
        msg = ("nova-scheduler does not run %s (enabled_filters from %s): add them to [filter_scheduler] "
               "enabled_filters and restart nova-scheduler" % (", ".join(missing), source))
    else:
        msg = "nova-scheduler runs every required filter (enabled_filters from %s)" % source
    module.exit_json(changed=False, enabled_filters=enabled, source=source, missing_filters=missing, msg=msg)


if __name__ == "__main__":
    main()
