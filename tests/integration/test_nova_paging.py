"""Every nova listing the collection reads, past nova's ``[api] max_limit`` (the lab sets 5).

For each listing a test makes more objects than one page holds and checks that the
collection's function (through the real client) and a module that relies on it find them
all. It also records how the lab's nova answers: flavors, hypervisors, servers and
migrations come in pages with a next link; os-services and os-aggregates are not paged
at all (nova returns every item in one answer, whatever max_limit says).

Computes beyond the lab's (its KVM hosts) are extra fake-driver nova-computes this file
starts itself, as many as make more than a page, and deletes at the end; the evacuation
source is one of them, so the lab's own computes only receive the evacuated instances.
"""

import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import pytest
import yaml

from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._openstack import nova
from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._openstack.client import openstack_session
from helpers.cloud import Cloud
from helpers.lab import ROOT
from helpers.playbook import run_module

sys.path.insert(0, str(ROOT / "tests" / "lab"))
from minilab import openstack as lab_openstack  # noqa: E402  pylint: disable=wrong-import-position
from minilab.config import LabConfig  # noqa: E402  pylint: disable=wrong-import-position
from minilab.supervisor import Supervisor  # noqa: E402  pylint: disable=wrong-import-position

MAX_LIMIT = int(lab_openstack.NOVA_API_OPTIONS["max_limit"])
MORE = MAX_LIMIT + 2
# Enough extra computes that the lab's plus them fill more than one page (at least three: the evacuation
# source and two targets).
EXTRA_COUNT = max(3, MAX_LIMIT + 1 - len(lab_openstack.compute_hosts(LabConfig.from_env())))
EXTRA_HOSTS = ["paging-compute-%d" % index for index in range(1, EXTRA_COUNT + 1)]
SOURCE = EXTRA_HOSTS[0]
SERVER = "paging-server"


@pytest.fixture(scope="module")
def cloud(lab):
    return Cloud(lab["env"])


@pytest.fixture(scope="module")
def client(lab):
    """The collection's own OpenStack client, as the modules make it."""
    admin = yaml.safe_load((lab["state"] / "clouds.yaml").read_text())["clouds"]["lab-admin"]
    with openstack_session({"cloud": admin, "interface": "public", "timeout": 180}) as session:
        yield session


def first_page(cloud, path, key, microversion):
    """nova's first answer to a listing: (its items, whether it links to a next page)."""
    body = cloud.call("GET", path, microversion=microversion)
    return body[key], any(link["rel"] == "next" for link in body.get(key + "_links", ()))


def test_flavors_past_the_first_page(cloud, client, admin_env):
    # Ids sort after the lab's UUIDs (nova orders flavors by id), so the last is on the last page.
    names = ["paging-flavor-%d" % index for index in range(MORE)]
    try:
        for name in names:
            cloud.call("POST", "/flavors", {"flavor": {"name": name, "id": name, "ram": 64, "vcpus": 1, "disk": 0}})
        items, paged = first_page(cloud, "/flavors/detail?is_public=None", "flavors", "2.61")
        assert (len(items), paged) == (MAX_LIMIT, True)
        assert set(names) <= {flavor["name"] for flavor in nova.list_flavors(client)}
        run = run_module("flavor", {"name": names[-1], "vcpus": 1, "ram": 64, "disk": 0}, env=admin_env)
        assert not run.failed and not run.result["changed"], run.output
    finally:
        for flavor in nova.list_flavors(client):
            if flavor["name"] in names:
                nova.delete_flavor(client, flavor)


def test_aggregates_are_all_found_and_nova_does_not_page_them(cloud, client, admin_env):
    names = ["paging-aggregate-%d" % index for index in range(MORE)]
    try:
        for name in names:
            nova.create_aggregate(client, name)
        items, paged = first_page(cloud, "/os-aggregates", "aggregates", "2.41")
        assert len(items) >= MORE and not paged  # one answer, past max_limit
        assert set(names) <= {aggregate["name"] for aggregate in nova.list_aggregates(client)}
        run = run_module("host_aggregate", {"name": names[-1]}, env=admin_env)
        assert not run.failed and not run.result["changed"], run.output
    finally:
        for aggregate in nova.list_aggregates(client):
            if aggregate["name"] in names:
                nova.delete_aggregate(client, aggregate)


class ExtraComputes:
    """Fake-driver nova-computes beyond the lab's, under the lab's supervisor (so `lab down` stops them too)."""

    def __init__(self, lab, cloud):
        self.cfg, self.cloud = LabConfig.from_env(), cloud
        self.sup = Supervisor(self.cfg)
        self.services = {host: lab_openstack.extra_compute(self.cfg, host) for host in EXTRA_HOSTS}

    def start(self):
        with ThreadPoolExecutor(max_workers=len(self.services)) as pool:
            for future in [pool.submit(self.sup.start, service.name, service.argv, ready=service.ready)
                           for service in self.services.values()]:
                future.result()
        lab_openstack.discover_hosts(self.cfg, self.sup)
        deadline = time.monotonic() + 120
        while not set(EXTRA_HOSTS) <= {(h.get("service") or {}).get("host") for h in self.cloud.hypervisors()}:
            assert time.monotonic() < deadline, "the extra computes' hypervisors did not register"
            time.sleep(1)

    def stop(self, host):
        self.sup.stop(self.services[host].name)

    def remove(self):
        for host in EXTRA_HOSTS:
            self.stop(host)
        services = self.cloud.services()
        for host in EXTRA_HOSTS:
            if host in services:
                self.cloud.delete_service(services[host])
            lab_openstack.remove_extra_compute(self.cfg, host)


@pytest.fixture(scope="module")
def computes(lab, cloud):
    extra = ExtraComputes(lab, cloud)
    try:
        extra.start()
        # Only the evacuation source takes instances, and only while the test boots them.
        for host in EXTRA_HOSTS[1:]:
            cloud.call("PUT", "/os-services/%s" % cloud.services()[host]["id"], {"status": "disabled"})
        yield extra
    finally:
        delete_servers(cloud)
        extra.remove()


def servers(cloud):
    return cloud.listing("/servers/detail?all_tenants=1&name=^%s" % SERVER, "servers")


def delete_servers(cloud):
    for server in servers(cloud):
        cloud.call("DELETE", "/servers/%s" % server["id"])
    deadline = time.monotonic() + 120
    while servers(cloud) and time.monotonic() < deadline:
        time.sleep(1)


def test_hypervisors_past_the_first_page_and_every_service(computes, cloud, client, admin_env):
    items, paged = first_page(cloud, "/os-hypervisors/detail", "hypervisors", "2.53")
    assert (len(items), paged) == (MAX_LIMIT, True)
    services, paged = first_page(cloud, "/os-services?binary=nova-compute", "services", "2.53")
    assert len(services) > MAX_LIMIT and not paged  # nova does not page os-services
    hosts = {(h.get("service") or {}).get("host") for h in nova.list_hypervisors(client)}
    assert set(EXTRA_HOSTS) | set(lab_openstack.compute_hosts(computes.cfg)) <= hosts
    assert set(EXTRA_HOSTS) <= {service["host"] for service in nova.list_compute_services(client)}
    run = run_module("hypervisor_info", env=admin_env)
    assert not run.failed, run.output
    assert hosts <= {row["host"] for row in run.result["hypervisors"]}


def test_servers_and_evacuations_of_one_host_past_the_first_page(computes, cloud, client, admin_env):
    image, flavor = tiny_image(cloud), cloud.call("POST", "/flavors", {"flavor": {
        "name": SERVER, "ram": 64, "vcpus": 1, "disk": 0}})["flavor"]
    try:
        server = {"name": SERVER, "imageRef": image, "flavorRef": flavor["id"], "networks": "none", "host": SOURCE,
                  "min_count": MORE, "max_count": MORE}
        cloud.call("POST", "/servers", {"server": server}, microversion="2.74")
        wait(cloud, lambda found: len(found) == MORE and all(s["status"] == "ACTIVE" for s in found))
        cloud.call("PUT", "/os-services/%s" % cloud.services()[SOURCE]["id"], {"status": "disabled"})
        items, paged = first_page(cloud, "/servers/detail?all_tenants=1&host=%s" % SOURCE, "servers", "2.53")
        assert (len(items), paged) == (MAX_LIMIT, True)
        assert len(nova.list_servers_on(client, SOURCE)) == MORE
        computes.stop(SOURCE)

        run = run_module("instance_evacuate", {"host": SOURCE, "fenced": True}, env=admin_env)

        assert not run.failed, run.output
        assert run.result["summary"]["done"] == MORE
        query = "/os-migrations?migration_type=evacuation&source_compute=%s" % SOURCE
        items, paged = first_page(cloud, query, "migrations", "2.59")
        assert (len(items), paged) == (MAX_LIMIT, True)
        assert len(nova.list_evacuations_from(client, SOURCE)) == MORE
        again = run_module("instance_evacuate", {"host": SOURCE, "fenced": True}, env=admin_env)
        assert not again.failed and not again.result["changed"], again.output
        assert [row["action"] for row in again.result["instances"]] == ["already_evacuated"] * MORE
    finally:
        delete_servers(cloud)
        cloud.call("DELETE", "/flavors/%s" % flavor["id"])
        cloud.conn.image.delete_image(image, ignore_missing=True)


def tiny_image(cloud):
    with tempfile.TemporaryDirectory() as workdir:
        path = Path(workdir) / "tiny.raw"
        path.write_bytes(b"\0" * 65536)
        return cloud.conn.create_image(SERVER, filename=str(path), disk_format="raw", container_format="bare",
                                       wait=True).id


def wait(cloud, done, timeout=180):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        found = servers(cloud)
        assert not [s for s in found if s["status"] == "ERROR"], found
        if done(found):
            return found
        time.sleep(1)
    raise AssertionError("servers %s not ready in %s s: %s" % (SERVER, timeout, servers(cloud)))
