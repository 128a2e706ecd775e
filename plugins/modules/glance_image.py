#!/usr/bin/python
# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
module: glance_image
short_description: Upload a disk image to glance once, with its properties
version_added: 0.1.0
description:
  - Keeps one glance image of a name holding a local file's content, in the given disk
    and container formats, with the given properties (such as C(hypervisor_type),
    C(vmware_disktype), C(vmware_adaptertype)).
  - The content is compared by glance's own hash (C(os_hash_algo), C(os_hash_value)) with
    the local file's, so an unchanged file is never uploaded again.
  - An active image's content and formats cannot change in glance. When they differ the
    task fails, unless O(replace=true), which uploads a new image and deletes the old one
    (so its ID changes).
  - Properties not named in O(properties) are left alone.
  - When glance refuses the upload (such as data that is not of O(disk_format)), the image
    this run created is deleted again and the task fails with C(changed=false), so a run
    with a good file then succeeds. An image left queued (without data) by an earlier
    failure is replaced, since glance takes no second upload into it.
author:
  - nova_vsphere.mixed_cloud maintainers (@nova-vsphere)
options:
  name:
    description: The image's name. More than one image of that name is an error.
    type: str
    required: true
  state:
    description: V(absent) deletes the image of that name.
    type: str
    choices: [present, absent]
    default: present
  filename:
    description: The local file to upload, on the host the module runs on. Required when O(state=present).
    type: path
  disk_format:
    description: The image's disk format. Glance checks that the data is of that format.
    type: str
    choices: [qcow2, raw, vmdk, vdi, vhd, vhdx, iso, ami, ari, aki, ploop]
    default: qcow2
  container_format:
    description: The image's container format.
    type: str
    choices: [bare, ovf, ova, ami, ari, aki, docker, compressed]
    default: bare
  visibility:
    description: Who may use the image. Not managed when omitted (glance's default applies at creation).
    type: str
    choices: [public, private, shared, community]
  properties:
    description: Image properties to set; values are strings.
    type: dict
    default: {}
  replace:
    description: Replace an image whose content or formats differ, instead of failing.
    type: bool
    default: false
extends_documentation_fragment:
  - nova_vsphere.mixed_cloud.openstack
  - ansible.builtin.action_common_attributes
  - nova_vsphere.mixed_cloud.attributes.changes
"""

EXAMPLES = r"""
- name: A KVM image
  nova_vsphere.mixed_cloud.glance_image:
    name: debian-12-qemu
    filename: /srv/images/debian-12.qcow2
    disk_format: qcow2
    visibility: public
    properties:
      hypervisor_type: qemu

- name: The same image for the vSphere clusters (converted with qemu-img -O vmdk -o subformat=streamOptimized)
  nova_vsphere.mixed_cloud.glance_image:
    name: debian-12-vmware
    filename: /srv/images/debian-12.vmdk
    disk_format: vmdk
    visibility: public
    properties:
      hypervisor_type: vmware
      vmware_disktype: streamOptimized
      vmware_adaptertype: lsiLogic
"""

RETURN = r"""
image:
  description: The image after the task (as planned in check mode).
  returned: when O(state=present)
  type: dict
  sample:
    id: 2f8e1c52-3c7e-4a53-9d7a-1b8c5d3e0a11
    name: debian-12-vmware
    status: active
    disk_format: vmdk
    container_format: bare
    visibility: public
    os_hash_value: 3c9f...
    properties: {hypervisor_type: vmware, vmware_disktype: streamOptimized, vmware_adaptertype: lsiLogic}
changes:
  description:
    - What was (or would be) done, in order.
    - On a failure, what was done before it, unless it was undone.
  returned: always
  type: list
  elements: str
  sample: [create, upload]
"""

import os
import platform

from ..module_utils._common.argspec import compose
from ..module_utils._common.errors import BackendError
from ..module_utils._common.runner import Outcome, journal, run_module
from ..module_utils._openstack import glance
from ..module_utils._openstack.client import OPENSTACK_ARGUMENT_SPEC, OpenStackModule, openstack_session

DEFAULT_HASH = "sha512"  # glance's [DEFAULT] hashing_algorithm
ARGUMENT_SPEC = compose(
    OPENSTACK_ARGUMENT_SPEC,
    name=dict(type="str", required=True),
    state=dict(type="str", choices=["present", "absent"], default="present"),
    filename=dict(type="path"),
    disk_format=dict(type="str", default="qcow2",
                     choices=["qcow2", "raw", "vmdk", "vdi", "vhd", "vhdx", "iso", "ami", "ari", "aki", "ploop"]),
    container_format=dict(type="str", default="bare",
                          choices=["bare", "ovf", "ova", "ami", "ari", "aki", "docker", "compressed"]),
    visibility=dict(type="str", choices=["public", "private", "shared", "community"]),
    properties=dict(type="dict", default={}),
    replace=dict(type="bool", default=False),
)


def work(module, client):
    wanted = dict(module.params, properties={k: str(v) for k, v in module.params["properties"].items()})
    reserved = sorted(set(wanted["properties"]) & glance.CORE)
    if reserved:
        raise BackendError("These are image attributes, not properties: %s" % ", ".join(reserved))
    if wanted["state"] == "present" and not os.path.isfile(wanted["filename"]):
        raise BackendError("No image file at %s on %s." % (wanted["filename"], platform.node()))
    images = glance.find(client, wanted["name"])
    if len(images) > 1:
        raise BackendError("%d images are named %s (%s): delete the extra ones or use another name." % (
            len(images), wanted["name"], ", ".join(image["id"] for image in images)))
    existing = images[0] if images else None
    current = glance.view(existing)
    if wanted["state"] == "absent":
        if existing and not module.check_mode:
            glance.delete(client, existing)
        return Outcome(existing, current, {}, changes=["delete"] if existing else [])
    local_hash = glance.file_hash(wanted["filename"], (existing or {}).get("os_hash_algo") or DEFAULT_HASH)
    after, changes, ops = glance.plan(existing, wanted, local_hash)
    image = dict(after, id=None if "create" in changes else existing["id"])
    if changes and not module.check_mode:
        with journal() as record:
            target = glance.apply(client, existing, wanted, changes, ops, record)
        image = dict(glance.view(target), id=target["id"])
    return Outcome(changes, current, after, "image", image, changes=changes)


def main():
    run_module(ARGUMENT_SPEC, openstack_session, work, module_class=OpenStackModule,
               required_if=[("state", "present", ["filename"])])


if __name__ == "__main__":
    main()
