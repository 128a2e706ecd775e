"""Boot one server per (image, flavor) pair and report the hosts nova's scheduler chose.

Used by the site scenario's verify step after playbooks/site.yml:

    python placement_check.py <image>:<flavor>[:console] ... > result.json

An image name of ``-`` means a blank image with no hypervisor_type, uploaded here, so that
only the flavor's aggregate ties decide. With ``:console`` the server runs the lab's guest
image: once it is active, its serial console (os-getConsoleOutput) is read until the guest's
lines are there (``minilab.guest_image.parse_console``) and reported as ``console``. The chosen host is read from the server's
instance-action events (compute API 2.62 names each event's host), not from the server:
when the simulated vCenter cannot finish a spawn, nova reschedules, then clears the host,
but the events still say where the scheduler sent it. Every server and the blank image are
deleted before the script ends. Uses the cloud of OS_CLOUD / OS_CLIENT_CONFIG_FILE.
"""

from __future__ import annotations

import dataclasses
import io
import json
import sys
import time
from pathlib import Path

import openstack
from openstack.compute.v2.server import Server

# The lab's own reading of its guest's console (this scenario runs only against the lab).
sys.path.insert(0, str(Path(__file__).resolve().parents[3] / "tests" / "lab"))
from minilab.guest_image import parse_console  # noqa: E402  pylint: disable=wrong-import-position

EVENTS_MICROVERSION = "2.62"
SETTLED = ("ACTIVE", "ERROR")
TIMEOUT = 300
PREFIX = "site-verify-"


def call(conn, method, path, body=None, microversion="2.62"):
    response = conn.compute.request(path, method, json=body, raise_exc=True,
                                    headers={"OpenStack-API-Version": "compute " + microversion})
    return response.json() if response.content else None


def scheduled_hosts(conn, server_id):
    """The compute hosts that ran a build of the server, in order."""
    hosts = []
    for action in call(conn, "GET", "/servers/%s/os-instance-actions" % server_id)["instanceActions"]:
        detail = call(conn, "GET", "/servers/%s/os-instance-actions/%s" % (server_id, action["request_id"]),
                      microversion=EVENTS_MICROVERSION)["instanceAction"]
        hosts += [event["host"] for event in detail.get("events", [])
                  if event["event"] == "compute__do_build_and_run_instance" and event.get("host")]
    return hosts


def console(conn, server_id, deadline):
    """The guest's last boot as its console shows it, once complete or at the deadline."""
    while True:
        text = call(conn, "POST", "/servers/%s/action" % server_id, {"os-getConsoleOutput": {}})["output"]
        lines = parse_console(text)
        if lines.complete or time.monotonic() > deadline:
            return dataclasses.asdict(lines)
        time.sleep(2)


def main(pairs):
    conn = openstack.connect()
    blank = None
    servers = []
    try:
        for number, pair in enumerate(pairs):
            image_name, flavor_name = pair.split(":")[:2]
            if image_name == "-" and blank is None:
                blank = conn.image.create_image(name=PREFIX + "no-hypervisor-type", disk_format="raw",
                                                container_format="bare", data=io.BytesIO(b"\0" * 1024 * 1024))
            image = blank if image_name == "-" else conn.image.find_image(image_name, ignore_missing=False)
            flavor = conn.compute.find_flavor(flavor_name, ignore_missing=False)
            server = call(conn, "POST", "/servers", {"server": {
                "name": "%s%d" % (PREFIX, number), "imageRef": image.id, "flavorRef": flavor.id, "networks": "none"}})
            servers.append((pair, server["server"]["id"]))
        deadline = time.monotonic() + TIMEOUT
        results = []
        for pair, server_id in servers:
            while True:
                server = call(conn, "GET", "/servers/%s" % server_id)["server"]
                if server["status"] in SETTLED or time.monotonic() > deadline:
                    break
                time.sleep(2)
            result = {"pair": pair, "id": server_id, "status": server["status"],
                      "hosts": scheduled_hosts(conn, server_id), "fault": (server.get("fault") or {}).get("message")}
            if pair.endswith(":console") and server["status"] == "ACTIVE":
                result["console"] = console(conn, server_id, deadline)
            results.append(result)
        json.dump(results, sys.stdout, indent=2)
    finally:
        for _pair, server_id in servers:
            conn.compute.delete_server(server_id, ignore_missing=True)
        for _pair, server_id in servers:
            conn.compute.wait_for_delete(Server(id=server_id), wait=TIMEOUT)
        if blank is not None:
            conn.image.delete_image(blank, ignore_missing=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
