"""Nova's evacuation calls: the microversion each names, the bodies it sends, paging."""

from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._openstack.nova import (
    NovaEvacuation,
    find_server,
    list_evacuations_from,
    list_servers_on,
    update_service,
)


class Client:
    def __init__(self, *answers):
        self.answers = list(answers)
        self.calls = []

    def request(self, service, method, path, microversion=None, json=None, doing=None):
        self.calls.append((method, path, microversion, json))
        return self.answers.pop(0) if self.answers else None


def test_evacuate_pins_268_to_preserve_and_295_to_stop():
    client = Client()
    NovaEvacuation(client, "kvm-1", "preserve", None).evacuate("i-1", "kvm-2")
    NovaEvacuation(client, "kvm-1", "stopped", None).evacuate("i-1")
    assert client.calls == [
        ("POST", "/servers/i-1/action", "2.68", {"evacuate": {"host": "kvm-2"}}),
        ("POST", "/servers/i-1/action", "2.95", {"evacuate": {}}),
    ]


def test_reset_stop_and_service_update_bodies():
    client = Client()
    nova = NovaEvacuation(client, "kvm-1", "preserve", None)
    nova.reset_to_error("i-1")
    nova.stop("i-1")
    update_service(client, {"id": "s-1", "host": "kvm-1"}, {"forced_down": True})
    assert client.calls == [
        ("POST", "/servers/i-1/action", "2.53", {"os-resetState": {"state": "error"}}),
        ("POST", "/servers/i-1/action", "2.53", {"os-stop": None}),
        ("PUT", "/os-services/s-1", "2.53", {"forced_down": True}),
    ]


def test_lists_follow_novas_next_links():
    client = Client(
        {"servers": [{"id": "a"}], "servers_links": [
            {"rel": "next", "href": "http://nova/v2.1/servers/detail?all_tenants=1&host=kvm-1&marker=a"}]},
        {"servers": [{"id": "b"}]},
    )
    assert [s["id"] for s in list_servers_on(client, "kvm-1")] == ["a", "b"]
    assert [call[1] for call in client.calls] == ["/servers/detail?all_tenants=1&host=kvm-1",
                                                  "/servers/detail?all_tenants=1&host=kvm-1&marker=a"]


def test_migrations_are_read_at_259_with_changes_since_when_polling():
    client = Client({"migrations": []}, {"migrations": []})
    list_evacuations_from(client, "kvm-1")
    NovaEvacuation(client, "kvm-1", "preserve", "2026-11-21T06:50:25Z").migrations()
    assert client.calls[0][1:3] == ("/os-migrations?migration_type=evacuation&source_compute=kvm-1", "2.59")
    assert client.calls[1][1] == ("/os-migrations?migration_type=evacuation&source_compute=kvm-1"
                                  "&changes-since=2026-11-21T06%3A50%3A25Z")


def test_a_deleted_instance_is_none_not_an_error():
    assert find_server(Client({"servers": []}), "gone") is None
