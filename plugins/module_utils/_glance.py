# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Glance images: one image per name, its content compared by glance's own hash (multihash).

Glance v2 has no microversions. An active image's data and formats are immutable, so new
content means a new image; properties are patched in place.
"""

from __future__ import annotations

import hashlib

from ._errors import one_line
from ._openstack import OpenStackError, _fault_message

PATCH_TYPE = "application/openstack-images-v2.1-json-patch"
# Attributes glance shows beside the properties; a property of the same name is refused.
CORE = {"id", "name", "status", "visibility", "protected", "checksum", "os_hash_algo", "os_hash_value", "owner",
        "size", "virtual_size", "min_ram", "min_disk", "disk_format", "container_format", "created_at",
        "updated_at", "tags", "self", "file", "schema", "direct_url", "locations", "stores", "os_hidden"}


def file_hash(path, algorithm):
    """The hex digest of a file, as glance computes os_hash_value (sha512 unless configured)."""
    digest = hashlib.new(algorithm)
    with open(path, "rb") as data:
        for block in iter(lambda: data.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def view(image):
    if image is None:
        return None
    return {
        "name": image["name"], "status": image["status"], "disk_format": image.get("disk_format"),
        "container_format": image.get("container_format"), "visibility": image.get("visibility"),
        "os_hash_value": image.get("os_hash_value"),
        "properties": {k: v for k, v in image.items() if k not in CORE and not k.startswith("os_glance")},
    }


def content_matches(current, wanted, local_hash):
    """Whether an existing image already holds the wanted data in the wanted formats."""
    return (current["status"] == "active" and current["os_hash_value"] == local_hash
            and current["disk_format"] == wanted["disk_format"]
            and current["container_format"] == wanted["container_format"])


def property_patch(current, wanted):
    """JSON-patch operations that set the wanted properties (and visibility) others untouched."""
    ops = []
    for key, value in sorted(wanted["properties"].items()):
        if current["properties"].get(key) != value:
            ops.append({"op": "replace" if key in current["properties"] else "add", "path": "/" + key, "value": value})
    if wanted["visibility"] and wanted["visibility"] != current["visibility"]:
        ops.append({"op": "replace", "path": "/visibility", "value": wanted["visibility"]})
    return ops


def call(client, method, path, doing, **kwargs):
    """One glance API call; its JSON body, or None.

    A keep-alive connection the API server closed meanwhile (uwsgi does, after a version
    discovery or a large body) fails before the request reaches it: such connection
    failures are retried on a new connection, unless the caller says otherwise.
    """
    kwargs.setdefault("connect_retries", 2)
    try:
        response = client.conn.image.request(path, method, raise_exc=False, **kwargs)
    except Exception as error:  # keystoneauth's transport errors, translated like every client's
        raise client.explain(error, doing)
    if response.status_code >= 400:
        raise OpenStackError(one_line("Glance refused to %s (HTTP %s): %s" % (
            doing, response.status_code, _fault_message(response))))
    return response.json() if response.content else None


def find(client, name):
    return call(client, "GET", "/images", "list images named %s" % name, params={"name": name})["images"]


def create(client, wanted):
    body = dict(wanted["properties"], name=wanted["name"], disk_format=wanted["disk_format"],
                container_format=wanted["container_format"])
    if wanted["visibility"]:
        body["visibility"] = wanted["visibility"]
    return call(client, "POST", "/images", "create image %s" % wanted["name"], json=body)


def upload(client, image, path):
    # Connection: close, so the next call opens a new connection rather than one the server
    # may drop after a large body (and a file object cannot be sent again on a retry).
    with open(path, "rb") as data:
        call(client, "PUT", "/images/%s/file" % image["id"], "upload %s to image %s" % (path, image["name"]),
             data=data, headers={"Content-Type": "application/octet-stream", "Connection": "close"},
             connect_retries=0)
    return call(client, "GET", "/images/%s" % image["id"], "read image %s" % image["name"])


def patch(client, image, ops):
    return call(client, "PATCH", "/images/%s" % image["id"], "update the properties of image %s" % image["name"],
                json=ops, headers={"Content-Type": PATCH_TYPE})


def delete(client, image):
    call(client, "DELETE", "/images/%s" % image["id"], "delete image %s (%s)" % (image["name"], image["id"]))
