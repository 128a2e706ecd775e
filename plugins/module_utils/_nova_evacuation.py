# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""Nova's calls for an evacuation, each at the microversion whose behaviour it relies on.

- 2.53: services by UUID (``PUT /os-services/{id}`` with status, disabled_reason and
  forced_down together); servers with their flavor embedded, extra specs included (2.47+).
- 2.59: os-migrations with paging, changes-since and each record's uuid.
- 2.68: evacuate without the force flag (removed there, so a named host still goes through
  the scheduler's checks) and without onSharedStorage (gone since 2.14: nova finds out);
  nova brings active instances back active and stopped ones stopped.
- 2.95: the same, except that nova leaves every evacuated instance stopped.
"""

from __future__ import annotations

from urllib.parse import parse_qsl, quote, urlencode, urlsplit

SERVER_MICROVERSION = "2.53"
MIGRATION_MICROVERSION = "2.59"
EVACUATE_MICROVERSIONS = {"preserve": "2.68", "stopped": "2.95"}


def read_servers_on(client, host):
    return _paged(client, "/servers/detail", {"all_tenants": 1, "host": host}, "servers", SERVER_MICROVERSION,
                  "list the instances on %s" % host)


def read_evacuations_from(client, host, since=None):
    query = {"migration_type": "evacuation", "source_compute": host}
    if since:
        query["changes-since"] = since
    return _paged(client, "/os-migrations", query, "migrations", MIGRATION_MICROVERSION,
                  "list the evacuations from %s" % host)


def read_server(client, server_id):
    return client.request("compute", "GET", "/servers/%s" % quote(server_id), microversion=SERVER_MICROVERSION,
                          doing="read instance %s" % server_id)["server"]


def find_server(client, server_id):
    """The instance, or None if it was deleted (a filtered list answers that without a 404)."""
    found = client.request("compute", "GET", "/servers/detail?%s" % urlencode({"all_tenants": 1, "uuid": server_id}),
                           microversion=SERVER_MICROVERSION, doing="look up instance %s" % server_id)["servers"]
    return found[0] if found else None


def update_service(client, service, update):
    client.request("compute", "PUT", "/os-services/%s" % quote(service["id"]), microversion=SERVER_MICROVERSION,
                   json=update, doing="update the nova-compute service of %s" % service["host"])


class NovaEvacuation:
    """What the evacuation loop asks of nova, for one source host."""

    def __init__(self, client, host, target_state, since):
        self.client, self.host, self.since = client, host, since
        self.microversion = EVACUATE_MICROVERSIONS[target_state]

    def evacuate(self, server_id, target_host=None):
        # No adminPass: since 2.14 nova makes one up, returns it to no one, and injects it only where
        # password injection is configured (off by default).
        body = {"evacuate": {"host": target_host} if target_host else {}}
        self._action(server_id, body, self.microversion, "evacuate instance %s" % server_id)

    def reset_to_error(self, server_id):
        self._action(server_id, {"os-resetState": {"state": "error"}}, SERVER_MICROVERSION,
                     "reset the state of instance %s" % server_id)

    def stop(self, server_id):
        self._action(server_id, {"os-stop": None}, SERVER_MICROVERSION, "stop instance %s" % server_id)

    def server(self, server_id):
        return read_server(self.client, server_id)

    def migrations(self):
        return read_evacuations_from(self.client, self.host, self.since)

    def _action(self, server_id, body, microversion, doing):
        self.client.request("compute", "POST", "/servers/%s/action" % quote(server_id), microversion=microversion,
                            json=body, doing=doing)


def _paged(client, path, query, key, microversion, doing):
    """Every item of a list API, following nova's next links (it returns at most [api] max_limit at once)."""
    items = []
    while True:
        body = client.request("compute", "GET", "%s?%s" % (path, urlencode(query)), microversion=microversion,
                              doing=doing)
        items.extend(body[key])
        following = [link["href"] for link in body.get(key + "_links", []) if link.get("rel") == "next"]
        if not following:
            return items
        query = parse_qsl(urlsplit(following[0]).query)
