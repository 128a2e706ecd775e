from urllib.parse import parse_qsl, urlencode, urlsplit

import pytest

from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._openstack.nova import (
    hypervisor_kind,
    join_hypervisors,
    list_aggregates,
    list_all,
    list_compute_services,
    list_evacuations_from,
    list_flavors,
    list_hypervisors,
    list_servers_on,
    services_without_hypervisor,
)

SERVICES = [
    {"id": "s1", "host": "proxy-a", "state": "up", "status": "enabled", "forced_down": False, "zone": "vmware"},
    {"id": "s2", "host": "kvm-1", "state": "down", "status": "disabled", "forced_down": True,
     "disabled_reason": "evacuating", "zone": "nova"},
    {"id": "s3", "host": "proxy-b", "state": "up", "status": "enabled", "forced_down": False, "zone": "vmware"},
]
HYPERVISORS = [
    {"id": "h2", "hypervisor_hostname": "kvm-1.lab", "hypervisor_type": "QEMU", "service": {"host": "kvm-1"},
     "vcpus": 8, "memory_mb": 32768},
    {"id": "h1", "hypervisor_hostname": "domain-c7.uuid", "hypervisor_type": "VMware vCenter Server",
     "service": {"host": "proxy-a"}, "vcpus": 96, "memory_mb": 294912},
]


def test_rows_carry_their_service_state_and_kind():
    rows = join_hypervisors(HYPERVISORS, SERVICES)
    assert [row["host"] for row in rows] == ["kvm-1", "proxy-a"]
    assert rows[0]["kind"] == "libvirt"
    assert rows[0]["service"]["forced_down"] is True
    assert rows[0]["service"]["disabled_reason"] == "evacuating"
    assert rows[1]["kind"] == "vsphere"
    assert rows[1]["memory_mb"] == 294912


def test_a_proxy_whose_hypervisor_never_registered_is_reported():
    assert services_without_hypervisor(HYPERVISORS, SERVICES) == ["proxy-b"]


def test_unknown_types_keep_their_name():
    assert hypervisor_kind("fake") == "fake"
    assert hypervisor_kind(None) == "unknown"


class PagingNova:
    """Nova's listings as nova pages them: at most ``page`` items, then a next link that keeps the
    query and adds the last item's id as marker (nova's _get_next_link)."""

    def __init__(self, key, count, page=2):
        self.key, self.page = key, page
        self.items = [{"id": "%s-%d" % (key, index), "name": "%s-%d" % (key, index)} for index in range(count)]
        self.paths = []

    def request(self, service, method, path, microversion=None, json=None, doing=None):
        assert (service, method) == ("compute", "GET")
        self.paths.append(path)
        target = urlsplit(path)
        params = dict(parse_qsl(target.query))
        start = 0
        if "marker" in params:
            start = [item["id"] for item in self.items].index(params["marker"]) + 1
        body = {self.key: self.items[start:start + self.page]}
        if start + self.page < len(self.items):
            following = dict(params, marker=self.items[start + self.page - 1]["id"])
            body[self.key + "_links"] = [{"rel": "next", "href": "http://nova:8774/v2.1%s?%s" % (
                target.path, urlencode(following))}]
        return body


def test_list_all_reads_every_page_and_keeps_the_query():
    nova = PagingNova("servers", 5)
    items = list_all(nova, "/servers/detail", "servers", "2.53", {"all_tenants": 1, "host": "kvm-1"})
    assert [item["id"] for item in items] == ["servers-%d" % index for index in range(5)]
    assert nova.paths == ["/servers/detail?all_tenants=1&host=kvm-1",
                          "/servers/detail?all_tenants=1&host=kvm-1&marker=servers-1",
                          "/servers/detail?all_tenants=1&host=kvm-1&marker=servers-3"]


def test_a_listing_nova_does_not_page_is_read_once():
    nova = PagingNova("aggregates", 3, page=1000)
    assert len(list_aggregates(nova)) == 3
    assert nova.paths == ["/os-aggregates"]


@pytest.mark.parametrize("listing, key", [
    (list_compute_services, "services"),
    (list_hypervisors, "hypervisors"),
    (list_aggregates, "aggregates"),
    (list_flavors, "flavors"),
    (lambda client: list_servers_on(client, "kvm-1"), "servers"),
    (lambda client: list_evacuations_from(client, "kvm-1"), "migrations"),
])
def test_every_listing_reads_past_the_first_page(listing, key):
    nova = PagingNova(key, 7)
    assert len(listing(nova)) == 7
    assert len(nova.paths) == 4
