"""The capacity_scheduling role against the lab's real nova-scheduler: the package installed into the lab's
OpenStack venv, nova.conf's lists keeping the lab's (the operator's) entries and gaining ours, the scheduler
restarted by the lab's supervisorctl and loading the filter (its log), the feed as a program of the lab's
supervisord; check mode changes nothing and a second run changes nothing. Then the real scheduler, with
figures in real aggregates (on the lab's KVM nodes, posing as vSphere nodes: the filter reads only the
metadata), sends a boot to the node one of whose hosts fits, and refuses every node when none does.

Afterwards the lab is put back: nova.conf as it was, the package uninstalled, the feed program removed, the
scheduler restarted on the old configuration.
"""

import datetime
import json
import re
import shutil
import subprocess
import tempfile
import time
from pathlib import Path

import pytest

from helpers.cloud import Cloud
from helpers.lab import ROOT, VENV_BIN, clean_env

FILTER = "nova_vsphere_capacity.filters.VsphereHostFitFilter"
WEIGHER = "nova_vsphere_capacity.weights.RealFreeRAMWeigher"
RAM = "nova.scheduler.weights.ram.RAMWeigher"
FEED = "capacity-feed-test"
# What the lab's nova.conf enables (tests/lab/minilab/openstack/compute.py SCHEDULER_FILTERS): the operator's list.
LAB_FILTERS = ["ComputeFilter", "ComputeCapabilitiesFilter", "ImagePropertiesFilter", "ServerGroupAntiAffinityFilter",
               "ServerGroupAffinityFilter", "AggregateInstanceExtraSpecsFilter"]
PLAY = """
- hosts: localhost
  gather_facts: false
  roles:
    - role: nova_vsphere.mixed_cloud.capacity_scheduling
"""
READ_BACK = r"""
import json, sys, warnings
warnings.simplefilter("ignore")
import nova.conf
from nova.scheduler import weights
CONF = nova.conf.CONF
CONF(sys.argv[1:], project="nova", default_config_files=[], default_config_dirs=[], use_env=False)
fs = CONF.filter_scheduler
print(json.dumps({"available_filters": fs.available_filters, "enabled_filters": fs.enabled_filters,
                  "weight_classes": fs.weight_classes,
                  "all_weighers": [c.__module__ + "." + c.__name__ for c in weights.all_weighers()]}))
"""


class Lab:
    def __init__(self, state, tmp_path):
        self.state = state
        self.nova_conf = state / "etc" / "nova" / "nova.conf"
        self.python = state / "venv" / "bin" / "python"
        self.scheduler_log = state / "logs" / "nova-scheduler.log"
        self.programs = state / "etc" / "supervisor" / "programs"
        self.supervisorctl = [str(VENV_BIN / "supervisorctl"), "-c", str(state / "etc" / "supervisor" / "supervisord.conf")]
        self.work = tmp_path

    def ctl(self, *args):
        return subprocess.run(self.supervisorctl + list(args), capture_output=True, text=True, timeout=120, check=False)

    def pid(self, name="nova-scheduler"):
        match = re.search(r"RUNNING\s+pid (\d+)", self.ctl("status", name).stdout)
        return int(match.group(1)) if match else None

    def package_version(self):
        completed = subprocess.run([str(self.python), "-c", "import importlib.metadata as m; print(m.version('nova_vsphere_capacity'))"],
                                   capture_output=True, text=True, check=False)
        return completed.stdout.strip() if completed.returncode == 0 else None

    def read_back(self):
        completed = subprocess.run([str(self.python), "-c", READ_BACK, "--config-file", str(self.nova_conf)],
                                   capture_output=True, text=True, timeout=300, check=False)
        assert completed.returncode == 0, completed.stderr
        return json.loads(completed.stdout)

    def variables(self, env):
        return {
            "capacity_scheduling_venv": str(self.state / "venv"),
            "capacity_scheduling_package_dir": str(self.work / "package"),
            "capacity_scheduling_nova_conf": str(self.nova_conf),
            "capacity_scheduling_max_age_seconds": 600,
            "capacity_scheduling_restart_command": self.supervisorctl + ["restart", "nova-scheduler"],
            "capacity_scheduling_feed": "supervisor",
            "capacity_scheduling_feed_name": FEED,
            "capacity_scheduling_feed_interval": 30,
            "capacity_scheduling_feed_dir": str(self.work / "feed"),
            "capacity_scheduling_feed_log": str(self.state / "logs" / (FEED + ".log")),
            "capacity_scheduling_feed_command": [str(VENV_BIN / "ansible-playbook"),
                                                 str(ROOT / "playbooks" / "capacity_feed.yml")],
            "capacity_scheduling_feed_environment": {
                **{key: value for key, value in env.items() if key.startswith(("VMWARE_", "SSL_CERT"))},
                "OS_CLIENT_CONFIG_FILE": str(self.state / "clouds.yaml"),
                "OS_CLOUD": "lab-admin",
                "ANSIBLE_CONFIG": str(ROOT / "tests" / "ansible.cfg"),
                "ANSIBLE_COLLECTIONS_PATH": str(ROOT / "build" / "collections"),
                "PATH": "%s:/usr/bin:/bin" % VENV_BIN,
            },
            "capacity_scheduling_supervisor_programs_dir": str(self.programs),
            "capacity_scheduling_supervisorctl": self.supervisorctl,
        }


@pytest.fixture
def lab_scheduler(lab, tmp_path):
    state = lab["state"]
    here = Lab(state, tmp_path)
    if not here.python.exists() or here.pid() is None:
        pytest.skip("the lab's nova-scheduler does not run under its supervisord (%s)" % state)
    if here.package_version() is not None:
        pytest.fail("nova_vsphere_capacity is already installed in %s: a previous run did not clean up" % here.python)
    saved = here.nova_conf.read_bytes()
    yield here
    here.nova_conf.write_bytes(saved)
    (here.programs / (FEED + ".conf")).unlink(missing_ok=True)
    here.ctl("stop", FEED)
    here.ctl("update", FEED)
    subprocess.run([str(state / "venv" / "bin" / "pip"), "uninstall", "-y", "nova_vsphere_capacity"],
                   capture_output=True, check=False)
    here.ctl("restart", "nova-scheduler")


def run_role(here, env, check=False):
    playbook = here.work / "play.yml"
    playbook.write_text(PLAY)
    command = [str(VENV_BIN / "ansible-playbook"), str(playbook), "-e", json.dumps(here.variables(env)), "--diff"]
    completed = subprocess.run(command + (["--check"] if check else []), capture_output=True, text=True,
                               env=clean_env(), timeout=900, check=False)
    output = completed.stdout + completed.stderr
    assert completed.returncode == 0, output
    return {name: int(value) for name, value in re.findall(r"\b(ok|changed|failed)=(\d+)", output)}, output


def wait_for(predicate, timeout=120):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(1)
    return predicate()


def test_role_installs_configures_restarts_and_schedules_the_feed(lab, lab_scheduler):
    here, env = lab_scheduler, lab["env"]
    before_conf, before_pid = here.nova_conf.read_bytes(), here.pid()
    lab_view = here.read_back()
    assert lab_view["enabled_filters"] == LAB_FILTERS

    # Check mode: says it would change, changes nothing.
    counts, output = run_role(here, env, check=True)
    assert counts["changed"] > 0, output
    assert here.nova_conf.read_bytes() == before_conf
    assert here.package_version() is None
    assert here.pid() == before_pid
    assert not (here.programs / (FEED + ".conf")).exists()

    log_from = here.scheduler_log.stat().st_size
    feed_log = here.state / "logs" / (FEED + ".log")
    feed_from = feed_log.stat().st_size if feed_log.exists() else 0
    counts, output = run_role(here, env)
    assert counts["changed"] > 0, output
    assert here.package_version() == "0.1.0"

    seen = here.read_back()
    assert seen["enabled_filters"] == LAB_FILTERS + ["VsphereHostFitFilter"]
    assert seen["available_filters"] == ["nova.scheduler.filters.all_filters", FILTER]
    assert sorted(seen["weight_classes"]) == sorted([w for w in lab_view["all_weighers"] if w != RAM] + [WEIGHER])
    assert "[vsphere_capacity]\nmax_age_seconds = 600\n" in here.nova_conf.read_text()

    # Restarted (a new process) on the new configuration, which loaded our filter.
    new_pid = wait_for(here.pid)
    assert new_pid and new_pid != before_pid

    def loaded():
        with open(here.scheduler_log, "rb") as log:
            log.seek(log_from)
            return log.read().decode(errors="replace")
    started = wait_for(lambda: "VsphereHostFitFilter loaded" in loaded() and loaded())
    assert "figures older than 600 s are ignored" in started, started[-3000:]
    assert "RealFreeRAMWeigher loaded" in started, started[-3000:]
    assert "SchedulerHostFilterNotFound" not in started and "ImportError" not in started
    time.sleep(3)
    assert here.pid() == new_pid, loaded()[-3000:]

    # The feed runs under the lab's supervisord, with the feed playbook.
    def feed_output():
        return feed_log.read_text()[feed_from:] if feed_log.exists() else ""
    assert wait_for(lambda: here.pid(FEED)), here.ctl("status", FEED).stdout
    assert wait_for(lambda: "PLAY RECAP" in feed_output(), timeout=180), feed_output() or "no feed log"
    # Started once: the new program was not restarted for its new loop script as well.
    assert "PLAY [" in feed_output().split(" capacity feed\n")[1], feed_output()
    feed_pid = here.pid(FEED)

    # A second run, and check mode then, change nothing: no restart either.
    after_conf = here.nova_conf.read_bytes()
    counts, output = run_role(here, env)
    assert counts["changed"] == 0, output
    counts, output = run_role(here, env, check=True)
    assert counts["changed"] == 0, output
    assert here.nova_conf.read_bytes() == after_conf
    assert here.pid() == new_pid
    assert here.pid(FEED) == feed_pid


PREFIX = "capacity-test-"


def capacity_aggregate(cloud, host, node, pairs):
    """A real aggregate as the capacity feed writes it, for host's node, fresh figures."""
    stamp = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
    metadata = {"vsphere_capacity_version": "1", "vsphere_capacity_node": node, "vsphere_capacity_updated_at": stamp,
                "vsphere_capacity_hosts": " ".join("%d:%d" % pair for pair in pairs),
                "vsphere_capacity_largest_free_ram_mb": str(max(ram for ram, _cpus in pairs))}
    created = cloud.call("POST", "/os-aggregates", {"aggregate": {"name": PREFIX + host}})["aggregate"]
    cloud.call("POST", "/os-aggregates/%s/action" % created["id"], {"add_host": {"host": host}})
    cloud.call("POST", "/os-aggregates/%s/action" % created["id"], {"set_metadata": {"metadata": metadata}})
    return created["id"]


def boot(cloud, image, flavor, name):
    server = {"name": PREFIX + name, "imageRef": image, "flavorRef": flavor, "networks": "none"}
    created = cloud.call("POST", "/servers", {"server": server}, microversion="2.74")["server"]
    deadline = time.monotonic() + 240
    while time.monotonic() < deadline:
        found = cloud.call("GET", "/servers/%s" % created["id"], microversion="2.74")["server"]
        if found["status"] in ("ACTIVE", "ERROR"):
            return found
        time.sleep(1)
    raise AssertionError("server %s neither ACTIVE nor ERROR in 240 s" % created["id"])


@pytest.fixture
def test_cloud(lab):
    cloud = Cloud({"OS_CLIENT_CONFIG_FILE": str(lab["state"] / "clouds.yaml"), "OS_CLOUD": "lab-admin"})
    found = list(cloud.conn.image.images(name=PREFIX + "blank"))
    if found:
        image = found[0].id
    else:
        with tempfile.TemporaryDirectory() as workdir:
            path = str(Path(workdir) / "blank.qcow2")
            subprocess.run(["qemu-img", "create", "-f", "qcow2", path, "32M"], check=True, capture_output=True)
            image = cloud.conn.create_image(PREFIX + "blank", filename=path, disk_format="qcow2",
                                            container_format="bare", wait=True).id
    flavor = cloud.call("POST", "/flavors", {"flavor": {"name": PREFIX + "1g", "ram": 1024, "vcpus": 2, "disk": 1}})
    yield cloud, image, flavor["flavor"]["id"]
    for server in cloud.listing("/servers/detail?all_tenants=1&name=^%s" % PREFIX, "servers"):
        cloud.call("DELETE", "/servers/%s" % server["id"])
    deadline = time.monotonic() + 120
    while cloud.listing("/servers/detail?all_tenants=1&name=^%s" % PREFIX, "servers") and time.monotonic() < deadline:
        time.sleep(1)
    cloud.call("DELETE", "/flavors/%s" % flavor["flavor"]["id"])
    for aggregate in cloud.call("GET", "/os-aggregates")["aggregates"]:
        if aggregate["name"].startswith(PREFIX):
            cloud.delete_aggregate(aggregate["name"])


def test_the_real_scheduler_places_by_the_published_figures(lab, lab_scheduler, test_cloud):
    here, (cloud, image, flavor) = lab_scheduler, test_cloud
    counts, output = run_role(here, lab["env"])
    assert counts["changed"] > 0, output
    assert wait_for(here.pid)
    nodes = {h["service"]["host"]: h["hypervisor_hostname"] for h in cloud.hypervisors()
             if h["service"]["host"].startswith("kvm-compute-")}
    assert len(nodes) >= 2, nodes
    small, roomy = sorted(nodes)[:2]
    # Both "clusters" have more free RAM in sum than the flavor; only roomy's has a host with 1 GB and 2 vCPUs.
    capacity_aggregate(cloud, small, nodes[small], [(4096, 1), (512, 8)])
    aggregate = capacity_aggregate(cloud, roomy, nodes[roomy], [(2048, 2), (512, 8)])
    # nova-api pushes aggregates to the scheduler asynchronously.
    time.sleep(3)
    placed = boot(cloud, image, flavor, "fits")
    assert placed["status"] == "ACTIVE", placed.get("fault")
    assert placed["OS-EXT-SRV-ATTR:host"] == roomy

    cloud.call("POST", "/os-aggregates/%s/action" % aggregate, {"set_metadata": {"metadata": {
        "vsphere_capacity_hosts": "4096:1 512:8", "vsphere_capacity_largest_free_ram_mb": "4096"}}})
    log_from = here.scheduler_log.stat().st_size
    time.sleep(3)
    refused = boot(cloud, image, flavor, "fits-nowhere")
    assert refused["status"] == "ERROR"
    assert "No valid host" in refused["fault"]["message"], refused["fault"]
    with open(here.scheduler_log, "rb") as log:
        log.seek(log_from)
        text = log.read().decode(errors="replace")
    assert re.search(r"VsphereHostFitFilter: \(start: \d+, end: 0\)", text), text[-3000:]


UNITS_PLAY = [{"hosts": "localhost", "gather_facts": False, "tasks": [{"ansible.builtin.include_role": {
    "name": "nova_vsphere.mixed_cloud.capacity_scheduling", "tasks_from": "feed_systemd_units.yml"}}]}]


def test_the_feeds_systemd_units_verify(tmp_path):
    """The timer and service the role writes for real sites, rendered by its own task and checked by systemd-analyze
    verify (no running systemd needed), with an environment and a command that systemd would mangle if written naively."""
    if not shutil.which("systemd-analyze"):
        pytest.fail("systemd-analyze is missing: tests/setup.sh installs it (bindep.txt, profile test)")
    (tmp_path / "play.yml").write_text(json.dumps(UNITS_PLAY))
    password = 'pa$s "word" \\ 100%'
    variables = {
        # Rendering only: with feed=none no handler asks systemd for the timer.
        "capacity_scheduling_feed": "none",
        "capacity_scheduling_feed_name": "capacity-feed",
        "capacity_scheduling_systemd_dir": str(tmp_path),
        "capacity_scheduling_feed_dir": str(tmp_path),
        "capacity_scheduling_feed_interval": 90,
        "capacity_scheduling_feed_command": [str(VENV_BIN / "ansible-playbook"), "nova_vsphere.mixed_cloud.capacity_feed",
                                             "-e", "capacity_feed_clusters=Cluster A,$HOME%"],
        "capacity_scheduling_feed_environment": {"VMWARE_PASSWORD": password, "OS_CLOUD": "prod"},
    }
    completed = subprocess.run([str(VENV_BIN / "ansible-playbook"), str(tmp_path / "play.yml"), "-e", json.dumps(variables)],
                               capture_output=True, text=True, env=clean_env(), timeout=300, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    service = (tmp_path / "capacity-feed.service").read_text()
    assert "\nExecStart=" + str(VENV_BIN) + "/ansible-playbook nova_vsphere.mixed_cloud.capacity_feed -e " \
           "'capacity_feed_clusters=Cluster A,$$HOME%%'\n" in service
    assert "\nOnUnitActiveSec=90\n" in (tmp_path / "capacity-feed.timer").read_text()
    env_file = tmp_path / "capacity-feed.env"
    assert oct(env_file.stat().st_mode & 0o777) == "0o600"
    # systemd's double quotes: \\ and \" stand for \ and "; $ and % are literal in an EnvironmentFile.
    assert 'VMWARE_PASSWORD="pa$s \\"word\\" \\\\ 100%"\n' in env_file.read_text()
    verified = subprocess.run(["systemd-analyze", "verify", "--man=no", str(tmp_path / "capacity-feed.service"),
                               str(tmp_path / "capacity-feed.timer")], capture_output=True, text=True, timeout=120,
                              check=False)
    assert (verified.returncode, verified.stdout + verified.stderr) == (0, "")
