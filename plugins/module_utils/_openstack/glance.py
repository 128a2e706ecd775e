# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Glance images: one image per name, its content compared by glance's own hash (multihash).

Glance v2 has no microversions. An active image's data and formats are immutable, so new
content means a new image; properties are patched in place. An image whose upload failed
stays queued, and glance refuses (HTTP 500) a second upload into it: a run deletes the
image it created when its upload fails, and a queued image found is replaced.
"""

from __future__ import annotations

import hashlib

from .._common.errors import BackendError

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


def content_changes(existing, wanted, local_hash):
    """The steps that bring the wanted content into glance; BackendError when they cannot."""
    if existing is None:
        return ["create", "upload"]
    if existing["status"] == "queued":
        return ["create", "upload", "delete old"]  # no data, and no second upload into it
    if content_matches(view(existing), wanted, local_hash):
        return []
    if existing["status"] != "active":
        raise BackendError("Image %s (%s) is %s; fix or delete it first." % (
            wanted["name"], existing["id"], existing["status"]))
    if not wanted["replace"]:
        raise BackendError("Image %s (%s) holds other content or formats than %s (%s, %s): glance cannot change "
                           "an active image; set replace: true to upload a new one and delete it." % (
                               wanted["name"], existing["id"], wanted["filename"], wanted["disk_format"],
                               wanted["container_format"]))
    return ["create", "upload", "delete old"]


def plan(existing, wanted, local_hash):
    """(after, changes, ops) from ``existing`` (glance's image, or None) to ``wanted``.

    ``ops`` are the JSON-patch operations for the properties of an image that is kept.
    """
    current = view(existing)
    changes = content_changes(existing, wanted, local_hash)
    new = "create" in changes  # a new image has only what is asked; glance's defaults for the rest
    ops = [] if new else property_patch(current, wanted)
    changes += [_describe(op) for op in ops]
    after = dict({} if new else current, name=wanted["name"], disk_format=wanted["disk_format"],
                 container_format=wanted["container_format"], os_hash_value=local_hash, status="active",
                 properties=dict({} if new else current["properties"], **wanted["properties"]))
    after["visibility"] = wanted["visibility"] or (None if new else current["visibility"])
    return after, changes, ops


def _describe(op):
    return "set %s" % op["path"][1:]


def apply(client, existing, wanted, changes, ops, journal):
    """Carry out ``changes`` (and the property ``ops``), each recorded in ``journal``; the image."""
    image = existing

    def undo():
        delete(client, image)

    if "create" in changes:
        image = create(client, wanted)
        journal.created("create", "image %s (%s)" % (image["name"], image["id"]), undo)
    if "upload" in changes:
        image = upload(client, image, wanted["filename"])
        journal.done("upload")
    if ops:
        image = patch(client, image, ops)
        for op in ops:
            journal.done(_describe(op))
    if "delete old" in changes:
        delete(client, existing)
        journal.done("delete old")
    return image


def call(client, method, path, doing, **options):
    """One glance API call through the client (its errors masked like every call's); its JSON body, or None.

    A keep-alive connection the API server closed meanwhile (uwsgi does, after a version
    discovery or a large body) fails before the request reaches it: such connection
    failures are retried on a new connection, unless the caller says otherwise.
    """
    options.setdefault("connect_retries", 2)
    return client.request("image", method, path, doing=doing, **options)


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
