# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""An Event-Driven Ansible source: KVM compute hosts of a nova cloud that stopped reporting.

    sources:
      - nova_vsphere.mixed_cloud.nova_compute_down:
          cloud: lab-admin          # or auth: {...}; the collection's OpenStack connection options
          interval: 2               # seconds between two reads of nova
          stale_after: 25           # seconds a heartbeat may lag the newest before its host is down
          samples: 3                # reads in a row that must find it down (debounce)

Every ``interval`` it reads nova's compute services and hypervisors (two listings, every page,
compute API microversion 2.53) and measures each KVM host's heartbeat against the newest of all
compute services (see module_utils/_openstack/host_health.py). It puts on the queue:

- ``{"type": "host_down", "host", "service_id", "down_for", "last_heartbeat", "forced_down",
  "status", "samples", "other_hosts_down", "hosts_down", "hosts_total", "down_fraction"}`` once
  per outage, after ``samples`` reads in a row found the host down;
- ``{"type": "host_up", ...}`` (the same fields) when the heartbeat of a host it reported moves
  again;
- ``{"type": "watch_error", "error"}`` when a read fails (once per run of failures); it keeps
  reading. A connection that cannot be made at the start (wrong credentials) ends the source
  with its one-line error.

The connection's secrets never appear in an event or an error.
"""

from __future__ import annotations

import asyncio
import os
import sys
from typing import Any


def _import_collection():
    """The collection's own code, from the collections path this file was found in."""
    path = os.path.abspath(__file__)
    while os.path.basename(path) not in ("ansible_collections", ""):
        parent = os.path.dirname(path)
        if parent == path:
            break
        path = parent
    if os.path.basename(path) == "ansible_collections" and os.path.dirname(path) not in sys.path:
        sys.path.insert(0, os.path.dirname(path))
    # pylint: disable-next=import-outside-toplevel
    from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._openstack import client, host_health
    return client, host_health


CONNECTION_ARGS = ("cloud", "auth", "auth_type", "region_name", "validate_certs", "ca_cert", "client_cert",
                   "client_key", "api_timeout", "interface")


async def main(queue: asyncio.Queue, args: dict[str, Any]) -> None:
    client_module, host_health = _import_collection()
    interval = float(args.get("interval", 2))
    watch = host_health.Watch(stale_after=float(args.get("stale_after", host_health.DEFAULT_STALE_AFTER)),
                              samples=int(args.get("samples", 3)))
    params = {name: args.get(name) for name in CONNECTION_ARGS}
    params["interface"] = params["interface"] or "public"
    client = await asyncio.to_thread(client_module.OpenStackClient, params)
    failing = False
    loop = asyncio.get_running_loop()
    try:
        while True:
            started = loop.time()
            try:
                rows, newest = await asyncio.to_thread(host_health.read_heartbeats, client)
            except client_module.OpenStackError as error:
                if not failing:
                    await queue.put({"type": "watch_error", "error": str(error)})
                failing = True
            else:
                failing = False
                for event in watch.read(rows, newest):
                    await queue.put(event)
            await asyncio.sleep(max(0.0, started + interval - loop.time()))
    finally:
        client.conn.close()


if __name__ == "__main__":
    # Try it by hand: python nova_compute_down.py, with OS_CLOUD set; prints the events.
    class _Printer:
        async def put(self, event):
            print(event, flush=True)

    asyncio.run(main(_Printer(), {"cloud": os.environ.get("OS_CLOUD"), "interval": 2}))
