"""The mixed_cloud role in the lab: aggregates, images, flavors, the scheduler check, and a
server from the qcow2 image landing in the KVM aggregate.

The lab's KVM hosts are real libvirt computes (hypervisor type QEMU, docs/lab.md): the server
from the qcow2 image (a blank disk: nova needs only the domain running) boots on one of them.
No vSphere proxy is required here: the VMware aggregate is created empty unless the lab has one.
"""

import json
import re
import subprocess
from dataclasses import dataclass

import pytest

from helpers.cloud import Cloud
from helpers.lab import VENV_BIN
from helpers.playbook import keeping_results

PLAYBOOK = """
- hosts: localhost
  gather_facts: false
  roles:
    - role: nova_vsphere.mixed_cloud.mixed_cloud
  post_tasks:
    - name: Keep the report for the test (the keep_results callback writes it)
      ansible.builtin.set_fact:
        mixed_cloud_test_report:
          aggregates: "{{ mixed_cloud_aggregates.results | map(attribute='aggregate') }}"
          images: "{{ mixed_cloud_image_report }}"
"""

PREFIX = "test-mixed-"


@pytest.fixture(scope="module")
def cloud(lab, admin_env):
    env = admin_env
    conn = Cloud(lab["env"]).conn
    yield env, conn
    # Each listing read whole before deleting: the lab's nova pages every 5 items, after a deleted marker.
    for server in list(conn.compute.servers(all_projects=True)):
        if server.name.startswith(PREFIX):
            conn.compute.delete_server(server)
            conn.compute.wait_for_delete(server, interval=1)
    for image in list(conn.image.images()):
        if image.name.startswith(PREFIX):
            conn.image.delete_image(image)
    for flavor in list(conn.compute.flavors()):
        if flavor.name.startswith(PREFIX):
            conn.compute.delete_flavor(flavor)
    for aggregate in list(conn.compute.aggregates()):
        if aggregate.name.startswith(PREFIX):
            for host in aggregate.hosts or []:
                conn.compute.remove_host_from_aggregate(aggregate, host)
            conn.compute.delete_aggregate(aggregate)
    conn.close()


@pytest.fixture(scope="module")
def images(tmp_path_factory):
    """One source and conversion directory for every run, as on a real deploy host: a VMDK is
    converted once per source (qemu-img's random CID makes each conversion a new file)."""
    workdir = tmp_path_factory.mktemp("images")
    subprocess.run(["qemu-img", "create", "-q", "-f", "qcow2", str(workdir / "cirros.qcow2"), "32M"], check=True)
    return workdir


def role_vars(lab, images, kvm_hosts, conf=None):
    return {
        "mixed_cloud_kvm_hosts": kvm_hosts,
        "mixed_cloud_kvm_aggregate": {"name": PREFIX + "kvm", "availability_zone": PREFIX + "kvm-az"},
        "mixed_cloud_vmware_aggregates": [{"name": PREFIX + "vmware-a", "hosts": []}],
        "mixed_cloud_images": [{"name": PREFIX + "image", "qcow2": str(images / "cirros.qcow2")}],
        "mixed_cloud_image_dir": str(images / "converted"),
        "mixed_cloud_flavors": [
            {"name": PREFIX + "kvm", "vcpus": 1, "ram": 64, "disk": 1, "hypervisor": "kvm"},
            {"name": PREFIX + "vmware", "vcpus": 1, "ram": 64, "disk": 1, "hypervisor": "vmware"},
        ],
        "mixed_cloud_scheduler_conf": [str(conf or lab["state"] / "etc" / "nova" / "nova.conf")],
    }


@dataclass
class RoleRun:
    stdout: str
    changed: int
    failed: int
    report: dict | None


def run_role(env, tmp_path, variables, check_mode=False):
    result = tmp_path / "result.json"
    result.unlink(missing_ok=True)
    playbook = tmp_path / "play.yml"
    playbook.write_text(PLAYBOOK)
    (tmp_path / "vars.json").write_text(json.dumps(variables))
    command = [str(VENV_BIN / "ansible-playbook"), str(playbook), "-e", "@%s" % (tmp_path / "vars.json")]
    completed = subprocess.run(command + (["--check"] if check_mode else []), env=keeping_results(env, result),
                               capture_output=True, text=True, timeout=900, check=False)
    recap = re.search(r"localhost\s*: ok=\d+\s+changed=(\d+)\s+unreachable=\d+\s+failed=(\d+)", completed.stdout)
    kept = json.loads(result.read_text()) if result.exists() else []
    report = kept[-1].get("ansible_facts", {}).get("mixed_cloud_test_report") if kept else None
    return RoleRun(completed.stdout, int(recap.group(1)), int(recap.group(2)), report)


def test_role_places_kvm_servers_in_the_kvm_aggregate(lab, cloud, images, tmp_path):
    env, conn = cloud
    variables = role_vars(lab, images, ["kvm-compute-1", "kvm-compute-2"])

    run = run_role(env, tmp_path, variables)
    assert run.failed == 0 and run.changed > 0, run.stdout
    assert "nova-scheduler runs every required filter" in run.stdout
    kvm, vmware = run.report["aggregates"]
    assert kvm["hosts"] == ["kvm-compute-1", "kvm-compute-2"]
    assert kvm["metadata"] == {"hypervisor_type": "qemu"} and kvm["availability_zone"] == PREFIX + "kvm-az"
    assert vmware["metadata"] == {"hypervisor_type": "vmware"}

    qcow2 = conn.image.find_image(PREFIX + "image")
    vmdk = conn.image.find_image(PREFIX + "image-vmware")
    assert (qcow2.disk_format, qcow2.hypervisor_type) == ("qcow2", "qemu")
    assert (vmdk.disk_format, vmdk.hypervisor_type) == ("vmdk", "vmware")
    assert (vmdk.properties["vmware_disktype"], vmdk.vmware_adaptertype) == ("streamOptimized", "lsiLogic")
    flavor = conn.compute.find_flavor(PREFIX + "kvm")
    assert conn.compute.fetch_flavor_extra_specs(flavor).extra_specs == {
        "aggregate_instance_extra_specs:hypervisor_type": "qemu"}

    # The server boots while the role runs again (it reads no server): idempotent, in check mode too.
    server = conn.compute.create_server(name=PREFIX + "kvm-server", image_id=qcow2.id, flavor_id=flavor.id,
                                        networks="none")
    run = run_role(env, tmp_path, variables)
    assert (run.changed, run.failed) == (0, 0), run.stdout
    run = run_role(env, tmp_path, variables, check_mode=True)
    assert (run.changed, run.failed) == (0, 0), run.stdout

    server = conn.compute.wait_for_server(server, interval=1, wait=120)
    assert server.compute_host in ("kvm-compute-1", "kvm-compute-2")
    # nova refuses to take a host with instances out of its aggregate's zone (409).
    conn.compute.delete_server(server)
    conn.compute.wait_for_delete(server, interval=1)

    # kvm-compute-1 leaves: purged from the aggregate; a check run says so first.
    variables["mixed_cloud_kvm_hosts"] = ["kvm-compute-2"]
    run = run_role(env, tmp_path, variables, check_mode=True)
    assert run.changed == 1 and "remove_host kvm-compute-1" in run.stdout
    run = run_role(env, tmp_path, variables)
    assert (run.changed, run.failed) == (1, 0), run.stdout
    assert run.report["aggregates"][0]["hosts"] == ["kvm-compute-2"]


def test_vmware_image_never_lands_on_a_kvm_host(lab, cloud, images, tmp_path):
    env, conn = cloud
    run = run_role(env, tmp_path, role_vars(lab, images, ["kvm-compute-1"]))
    assert run.failed == 0, run.stdout
    image = conn.image.find_image(PREFIX + "image-vmware")
    flavor = conn.compute.find_flavor(PREFIX + "vmware")
    server = conn.compute.create_server(name=PREFIX + "vmware-server", image_id=image.id, flavor_id=flavor.id,
                                        networks="none")
    server = conn.compute.wait_for_server(server, status="ERROR", failures=["ACTIVE"], interval=1, wait=120)
    assert "No valid host" in server.fault["message"]


def test_missing_filter_is_reported_then_fails(lab, cloud, images, tmp_path):
    env = cloud[0]
    conf = tmp_path / "nova.conf"
    conf.write_text("[filter_scheduler]\nenabled_filters = ComputeFilter,ImagePropertiesFilter\n")
    run = run_role(env, tmp_path, role_vars(lab, images, ["kvm-compute-1"], conf=conf))
    assert run.failed == 1
    assert "nova-scheduler does not run AggregateInstanceExtraSpecsFilter (enabled_filters from %s)" % conf \
        in run.stdout
    assert "aggregate test-mixed-kvm (hypervisor_type=qemu" in run.stdout
