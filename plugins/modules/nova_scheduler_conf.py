#!/usr/bin/python
# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: nova_scheduler_conf
short_description: Add filters and weighers to nova-scheduler's lists, keeping the operator's own
version_added: 0.1.0
description:
  - Edits C([filter_scheduler] available_filters), C(enabled_filters) and C(weight_classes) in
    one of nova-scheduler's configuration files so that the scheduler ends up with the given
    entries added (or, with O(state=absent), taken out again), every other entry kept in its
    place. What the scheduler runs now is read from all its configuration files, as
    oslo.config reads them, with nova's defaults where none sets an option.
  - C(available_filters) is multi-valued (one line per entry; oslo.config joins the lines of
    every file); when no file sets it, nova's default C(nova.scheduler.filters.all_filters)
    is written beside the new entries, so nova's own filters stay available.
  - C(weight_classes) defaults to C(nova.scheduler.weights.all_weighers), a function that
    stands for all of nova's weighers. Taking one weigher out of it
    (O(remove_weight_classes), such as V(nova.scheduler.weights.ram.RAMWeigher) when another
    weigher replaces it) needs the classes it stands for on the scheduler's host, in
    O(all_weighers); the entry is then replaced by those classes but the removed ones.
  - Only the three keys change; comments, other keys and sections stay byte for byte. The
    file is replaced atomically and keeps its owner, group and mode unless they are given.
  - Does not restart nova-scheduler, which reads its configuration at start only.
author:
  - nova_vsphere.mixed_cloud maintainers (@nova-vsphere)
options:
  path:
    description:
      - The configuration file to edit, one of O(config_files). Its directory must exist.
    type: path
    default: /etc/nova/nova.conf
  config_files:
    description:
      - Every configuration file nova-scheduler reads, in the order it reads them (its
        C(--config-file) options, then the C(*.conf) files of its C(--config-dir)), to know
        what it runs now. Files that do not exist are skipped. Defaults to O(path) alone.
      - The task fails when a file after O(path) sets C(enabled_filters) or
        C(weight_classes) that must change, since the scheduler would not see the change.
    type: list
    elements: path
  state:
    description:
      - V(present) adds the entries (and removes O(remove_weight_classes)); V(absent) takes
        the entries out again and puts O(remove_weight_classes) back.
    type: str
    choices: [present, absent]
    default: present
  available_filters:
    description: Import paths of filter classes (or of functions returning a list of them) the scheduler may load.
    type: list
    elements: str
    default: []
  enabled_filters:
    description: Filter class names the scheduler runs, appended after the enabled ones.
    type: list
    elements: str
    default: []
  weight_classes:
    description: Import paths of weigher classes the scheduler uses, appended after the others.
    type: list
    elements: str
    default: []
  remove_weight_classes:
    description: Import paths of weigher classes the scheduler must not use (with O(state=present)).
    type: list
    elements: str
    default: []
  all_weighers:
    description:
      - The classes C(nova.scheduler.weights.all_weighers) stands for on the scheduler's host,
        as C(python -c 'from nova.scheduler import weights; print(weights.all_weighers())')
        lists them. Needed only when O(remove_weight_classes) must come out of it.
    type: list
    elements: str
    default: []
  max_age_seconds:
    description:
      - C([vsphere_capacity] max_age_seconds) of the C(nova_vsphere_capacity) package (the age
        after which its filter and weigher ignore a vSphere node's capacity figures). Not
        changed when not given; the package's default is 900.
    type: int
  owner:
    description: Owner of the file; by default it keeps its owner.
    type: str
  group:
    description: Group of the file; by default it keeps its group.
    type: str
  mode:
    description:
      - Permissions of the file; by default it keeps its mode (V('0600') for a new file).
      - nova.conf holds secrets (database, message queue, keystone), so a mode that lets
        others read or write it is refused unless O(allow_world_access=true).
    type: raw
  allow_world_access:
    description: Accept a file that every user of the host may read or write.
    type: bool
    default: false
  backup:
    description: Keep a timestamped copy of the file before changing it, no more open than V('0640').
    type: bool
    default: false
notes:
  - The diff shows the three lists only, not the file, whose other sections hold secrets.
extends_documentation_fragment:
  - ansible.builtin.action_common_attributes
  - ansible.builtin.files
  - nova_vsphere.mixed_cloud.attributes.changes
seealso:
  - module: nova_vsphere.mixed_cloud.nova_scheduler_info
"""

EXAMPLES = r"""
- name: Let nova-scheduler use the vSphere capacity filter and weigher
  nova_vsphere.mixed_cloud.nova_scheduler_conf:
    path: /etc/nova/nova.conf
    available_filters: [nova_vsphere_capacity.filters.VsphereHostFitFilter]
    enabled_filters: [VsphereHostFitFilter]
    weight_classes: [nova_vsphere_capacity.weights.RealFreeRAMWeigher]
    remove_weight_classes: [nova.scheduler.weights.ram.RAMWeigher]
    all_weighers: "{{ nova_weighers.stdout_lines }}"
  notify: Restart nova-scheduler

- name: Take them out again
  nova_vsphere.mixed_cloud.nova_scheduler_conf:
    state: absent
    available_filters: [nova_vsphere_capacity.filters.VsphereHostFitFilter]
    enabled_filters: [VsphereHostFitFilter]
    weight_classes: [nova_vsphere_capacity.weights.RealFreeRAMWeigher]
    remove_weight_classes: [nova.scheduler.weights.ram.RAMWeigher]
"""

RETURN = r"""
path:
  description: The file edited.
  returned: always
  type: str
  sample: /etc/nova/nova.conf
scheduler:
  description: The lists nova-scheduler reads from its files after the task (in check mode, would read).
  returned: always
  type: dict
  contains:
    available_filters:
      description: C([filter_scheduler] available_filters), all files joined.
      type: list
      elements: str
      sample: [nova.scheduler.filters.all_filters, nova_vsphere_capacity.filters.VsphereHostFitFilter]
    enabled_filters:
      description: C([filter_scheduler] enabled_filters).
      type: list
      elements: str
      sample: [ComputeFilter, ImagePropertiesFilter, VsphereHostFitFilter]
    weight_classes:
      description: C([filter_scheduler] weight_classes).
      type: list
      elements: str
      sample: [nova.scheduler.weights.cpu.CPUWeigher, nova_vsphere_capacity.weights.RealFreeRAMWeigher]
    max_age_seconds:
      description: C([vsphere_capacity] max_age_seconds), null when no file sets it.
      type: int
      sample: 900
backup_file:
  description: The copy made of the file before it changed.
  returned: when O(backup=true) and the file changed
  type: str
"""

import os

from ansible.module_utils.basic import AnsibleModule

from ..module_utils._common.argspec import compose
from ..module_utils._common.errors import failing_cleanly
from ..module_utils._common.files import FileUpdate, secret_file_options
from ..module_utils._nova_conf.conf_files import last_value, read_existing, read_one
from ..module_utils._nova_conf.ini import edit
from ..module_utils._nova_conf.scheduler_conf import effective, plan, wanted

LISTS = ("available_filters", "enabled_filters", "weight_classes", "remove_weight_classes", "all_weighers")


def argument_spec():
    return compose(
        secret_file_options(group=None, owner=None, mode=None),
        {name: dict(type="list", elements="str", default=[]) for name in LISTS},
        path=dict(type="path", default="/etc/nova/nova.conf"),
        config_files=dict(type="list", elements="path"),
        state=dict(type="str", choices=["present", "absent"], default="present"),
        max_age_seconds=dict(type="int"),
    )


def scheduler_view(texts):
    """The lists, and the package's max_age_seconds, as nova-scheduler reads them from the (name, text) pairs."""
    view = effective(texts)
    age = last_value(texts, "vsphere_capacity", "max_age_seconds")[0]
    view["max_age_seconds"] = int(age) if age is not None and age.strip().isdigit() else age
    return view


def main():
    module = AnsibleModule(argument_spec=argument_spec(), supports_check_mode=True, add_file_common_args=True)
    params = module.params
    path = os.path.realpath(params["path"])
    files = [os.path.realpath(name) for name in params["config_files"] or [path]]
    if path not in files:
        module.fail_json(msg="path %s is not one of config_files (%s): nova-scheduler would not read it" % (path, ", ".join(files)))
    with failing_cleanly(module):
        old, info = read_one(path)
        texts = []
        for name in files:
            texts.extend([(path, old)] if name == path else read_existing([name]))
        before = scheduler_view(texts)
        target = wanted(before, {name: params[name] for name in LISTS}, params["state"] == "present")
        new = plan(texts, path, target)
        if params["max_age_seconds"] is not None:
            if params["max_age_seconds"] < 0:
                module.fail_json(msg="max_age_seconds must be 0 or more, not %d" % params["max_age_seconds"])
            new = edit(new, "vsphere_capacity", {"max_age_seconds": str(params["max_age_seconds"])})
        if info is None and not new:
            module.exit_json(changed=False, path=path, scheduler=before, diff=dict(before=before, after=before))
        after = scheduler_view([(name, new if name == path else text) for name, text in texts])
        update = FileUpdate(module, path, info, old.encode("utf-8"), new.encode("utf-8"))
        backup = update.apply()
    result = dict(changed=update.changed, path=path, scheduler=after,
                  diff=dict(before_header="%s: [filter_scheduler]" % path, after_header=path, before=before, after=after))
    if backup:
        result["backup_file"] = backup
    module.exit_json(**result)


if __name__ == "__main__":
    main()
