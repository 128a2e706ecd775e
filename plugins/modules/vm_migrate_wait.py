#!/usr/bin/python
# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: vm_migrate_wait
short_description: Follow a vm_migrate job run with async, showing the copy's progress while it runs
version_added: 0.2.0
description:
  - An action that runs on the controller. It polls the job with C(async_status) every O(poll)
    seconds until it ends, and prints the migration's progress (the disk, percent done, MiB copied
    of the disk's stream, rate, time left) whenever it changed, from the progress file the running
    migration keeps on the host that runs it.
  - Returns what the vm_migrate task returned, and fails when it failed.
author:
  - nova_vsphere.mixed_cloud maintainers (@nova-vsphere)
options:
  jid:
    description: The C(ansible_job_id) the vm_migrate task registered (run with C(async) and C(poll=0)).
    type: str
    required: true
  progress_file:
    description:
      - C(<staging_dir>/<migration id>/progress.json) of the migration, on the host that runs it;
        the migration ID is C(migration.id) of a check-mode run (the plan).
      - Omitted, the job is followed without progress.
    type: path
  poll:
    description: Seconds between two polls.
    type: int
    default: 10
  timeout:
    description: Seconds to follow the job before failing (the job itself goes on).
    type: int
    default: 14400
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.action_common_attributes.flow
attributes:
  action:
    support: full
  async:
    support: none
  bypass_host_loop:
    support: none
  check_mode:
    support: none
  diff_mode:
    support: none
  platform:
    platforms: posix
notes:
  - The vm_migration role runs vm_migrate and this action together.
seealso:
  - module: nova_vsphere.mixed_cloud.vm_migrate
"""

EXAMPLES = r"""
- name: Follow the migration until it ends
  nova_vsphere.mixed_cloud.vm_migrate_wait:
    jid: "{{ db01_migration.ansible_job_id }}"
    progress_file: "/var/tmp/mixed-cloud-migration/{{ db01_plan.migration.id }}/progress.json"
  register: db01_result
"""

RETURN = r"""
migration:
  description: The result vm_migrate returned (see its documentation).
  returned: when the job ended
  type: dict
"""
