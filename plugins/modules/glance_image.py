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
  description: What was (or would be) done, in order.
  returned: always
  type: list
  elements: str
  sample: [create, upload]
"""

import os
import platform

from ansible.module_utils.basic import AnsibleModule

from ..module_utils import _glance as glance
from ..module_utils._errors import failing_cleanly
from ..module_utils._openstack import openstack_argument_spec, openstack_session

DEFAULT_HASH = "sha512"  # glance's [DEFAULT] hashing_algorithm


def content_changes(module, existing, current, wanted, local_hash):
    """The steps that bring the wanted content into glance, or a failure saying why it cannot."""
    if existing is None:
        return ["create", "upload"]
    if existing["status"] == "queued":
        return ["upload"]  # an earlier upload never happened: the image waits for data
    if glance.content_matches(current, wanted, local_hash):
        return []
    if existing["status"] != "active":
        module.fail_json(msg="Image %s (%s) is %s; fix or delete it first." % (
            wanted["name"], existing["id"], existing["status"]))
    if not wanted["replace"]:
        module.fail_json(msg="Image %s (%s) holds other content or formats than %s (%s, %s): glance cannot change "
                             "an active image; set replace: true to upload a new one and delete it." % (
                                 wanted["name"], existing["id"], wanted["filename"], wanted["disk_format"],
                                 wanted["container_format"]))
    return ["create", "upload", "delete old"]


def run(module, client, wanted):
    images = glance.find(client, wanted["name"])
    if len(images) > 1:
        module.fail_json(msg="%d images are named %s (%s): delete the extra ones or use another name." % (
            len(images), wanted["name"], ", ".join(image["id"] for image in images)))
    existing = images[0] if images else None
    current = glance.view(existing)
    if wanted["state"] == "absent":
        if existing and not module.check_mode:
            glance.delete(client, existing)
        return dict(changed=bool(existing), changes=["delete"] if existing else [],
                    diff=dict(before=current or {}, after={}))

    local_hash = glance.file_hash(wanted["filename"], (existing or {}).get("os_hash_algo") or DEFAULT_HASH)
    changes = content_changes(module, existing, current, wanted, local_hash)
    ops = [] if "create" in changes else glance.property_patch(current, wanted)
    changes += ["set %s" % op["path"][1:] for op in ops]

    new = "create" in changes  # a new image has only what is asked; glance's defaults for the rest
    kept = {} if new else current["properties"]
    after = dict({} if new else current, name=wanted["name"], disk_format=wanted["disk_format"],
                 container_format=wanted["container_format"], os_hash_value=local_hash, status="active",
                 properties=dict(kept, **wanted["properties"]))
    after["visibility"] = wanted["visibility"] or (None if new else current["visibility"])
    image = dict(after, id=None if new else existing["id"])
    if changes and not module.check_mode:
        target = existing
        if "create" in changes:
            target = glance.create(client, wanted)
        if "upload" in changes:
            target = glance.upload(client, target, wanted["filename"])
        if ops:
            target = glance.patch(client, target, ops)
        if "delete old" in changes:
            glance.delete(client, existing)
        image = dict(glance.view(target), id=target["id"])
    return dict(changed=bool(changes), changes=changes, image=image, diff=dict(before=current or {}, after=after))


def main():
    module = AnsibleModule(
        argument_spec=openstack_argument_spec(
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
        ),
        required_if=[("state", "present", ["filename"])],
        supports_check_mode=True,
    )
    wanted = dict(module.params, properties={k: str(v) for k, v in module.params["properties"].items()})
    reserved = sorted(set(wanted["properties"]) & glance.CORE)
    if reserved:
        module.fail_json(msg="These are image attributes, not properties: %s" % ", ".join(reserved))
    if wanted["state"] == "present" and not os.path.isfile(wanted["filename"]):
        module.fail_json(msg="No image file at %s on %s." % (wanted["filename"], platform.node()))
    with failing_cleanly(module), openstack_session(module.params) as client:
        module.exit_json(**run(module, client, wanted))


if __name__ == "__main__":
    main()
