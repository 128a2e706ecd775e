"""The proxy_compute_node role's systemd unit and its distribution-package install path, as far
as a machine without systemd as PID 1 and without nova from Debian can take them.

The unit is rendered by the role's own task (tasks/systemd_unit.yml, through ansible-playbook)
and checked with `systemd-analyze verify`, which needs no running systemd. The package path
is checked against Debian's archive: the role's package names resolve, and the packages,
downloaded and listed but never installed, hold what the role expects where it expects it.
"""

import json
import shutil
import subprocess
from pathlib import Path

import pytest
import yaml

from helpers.lab import ROOT, VENV_BIN, clean_env

ROLE = ROOT / "roles" / "proxy_compute_node"
DEFAULTS = yaml.safe_load((ROLE / "defaults" / "main.yml").read_text())
DEBIAN_PACKAGES = DEFAULTS["proxy_compute_node_distro_packages"]["Debian"]
# As vCenter names a cluster called "Prod/Rack 50%": '/' and '%' escaped, which systemd reads as specifiers.
CLUSTER = "Prod%2fRack 50%25"
PLAY = [{"hosts": "localhost", "gather_facts": False, "tasks": [{"ansible.builtin.include_role": {
    "name": "nova_vsphere.mixed_cloud.proxy_compute_node", "tasks_from": "systemd_unit.yml"}}]}]


def render_unit(tmp_path, unit, **variables):
    """The unit file the role writes, rendered by its own task at ``unit``."""
    (tmp_path / "play.yml").write_text(json.dumps(PLAY))
    # A new unit: the restart handler has nothing to restart (and no systemd to ask).
    extra = dict(proxy_compute_node_cluster=CLUSTER, proxy_compute_node_systemd_unit=str(unit),
                 proxy_compute_node_fresh_start=True, **variables)
    completed = subprocess.run([str(VENV_BIN / "ansible-playbook"), str(tmp_path / "play.yml"), "-e", json.dumps(extra)],
                               capture_output=True, text=True, env=clean_env(), timeout=300, check=False)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    return unit.read_text()


def verify(*args):
    """What systemd-analyze verify says (nothing, for a good unit) and its exit status."""
    if not shutil.which("systemd-analyze"):
        pytest.fail("systemd-analyze is missing: tests/setup.sh installs it (bindep.txt, profile test)")
    completed = subprocess.run(["systemd-analyze", "verify", "--man=no", *args], capture_output=True, text=True,
                               timeout=120, check=False)
    return completed.returncode, completed.stdout + completed.stderr


def test_the_venv_unit_verifies(lab, tmp_path):
    venv = lab["state"] / "venv"
    if not (venv / "bin" / "nova-compute").exists():
        pytest.skip("the lab's OpenStack venv (%s) is not there: bring the lab's OpenStack half up" % venv)
    text = render_unit(tmp_path, tmp_path / "nova-compute.service", proxy_compute_node_install_method="existing",
                       proxy_compute_node_venv=str(venv))
    assert "\nExecStart=%s/bin/nova-compute --config-file /etc/nova/vmware-proxy/nova.conf " \
           "--config-file /etc/nova/vmware-proxy/vmware.conf\n" % venv in text
    assert "\nUser=nova\nGroup=nova\n" in text
    assert verify(str(tmp_path / "nova-compute.service")) == (0, "")


@pytest.fixture(scope="module")
def debian_packages(tmp_path_factory):
    """{name: .deb path} of the role's Debian packages and python3-nova, downloaded, not installed."""
    if not shutil.which("apt-get") or not list(Path("/var/lib/apt/lists").glob("*_Packages*")):
        pytest.skip("needs Debian's apt with package lists (apt-get update)")
    directory = tmp_path_factory.mktemp("debs")
    names = DEBIAN_PACKAGES + ["nova-common", "python3-nova"]
    completed = subprocess.run(["apt-get", "download", *names], cwd=directory, capture_output=True, text=True,
                               timeout=600, check=False)
    assert completed.returncode == 0, completed.stderr
    return {name: next(directory.glob("%s_*.deb" % name)) for name in names}


def contents(deb):
    listing = subprocess.run(["dpkg-deb", "--contents", str(deb)], capture_output=True, text=True, check=True).stdout
    return {line.split()[5].removeprefix(".") for line in listing.splitlines()}


@pytest.mark.parametrize("name", DEBIAN_PACKAGES)
def test_the_role_debian_package_names_have_a_candidate(name):
    if not shutil.which("apt-cache"):
        pytest.skip("needs Debian's apt")
    policy = subprocess.run(["apt-cache", "policy", name], capture_output=True, text=True, check=True).stdout
    assert "Candidate:" in policy and "Candidate: (none)" not in policy, policy or "%s: no such package" % name


def test_the_packages_put_nova_compute_and_the_driver_where_the_role_looks(debian_packages):
    binary = "%s/nova-compute" % DEFAULTS["proxy_compute_node_distro_bin_dir"]
    assert binary in contents(debian_packages["nova-compute"])
    # The VMware driver and the library it drives vCenter with, for the distribution's python3.
    assert "/usr/lib/python3/dist-packages/nova/virt/vmwareapi/driver.py" in contents(debian_packages["python3-nova"])
    assert "/usr/lib/python3/dist-packages/oslo_vmware/vim.py" in contents(debian_packages["python3-oslo.vmware"])


def test_the_packages_create_the_user_and_group_the_role_leaves_to_them(debian_packages, tmp_path):
    # On the packages path the role creates neither (tasks/install.yml): nova-common's postinst must.
    assert DEFAULTS["proxy_compute_node_user"] == DEFAULTS["proxy_compute_node_group"] == "nova"
    subprocess.run(["dpkg-deb", "--control", str(debian_packages["nova-common"]), str(tmp_path)], check=True)
    assert "\tpkgos_var_user_group nova " in (tmp_path / "postinst").read_text()
    fields = subprocess.run(["dpkg-deb", "--field", str(debian_packages["nova-compute"]), "Depends"],
                            capture_output=True, text=True, check=True).stdout
    assert "nova-common (=" in fields


def test_the_packages_unit_verifies_against_the_packages_files(debian_packages, tmp_path):
    # A root holding nova-compute's files and systemd's own units: what the host has once the role installed it.
    root = tmp_path / "root"
    subprocess.run(["dpkg-deb", "--extract", str(debian_packages["nova-compute"]), str(root)], check=True)
    shutil.copytree("/usr/lib/systemd/system", root / "usr" / "lib" / "systemd" / "system", symlinks=True)
    unit = root / "etc" / "systemd" / "system" / "nova-compute.service"
    unit.parent.mkdir(parents=True)
    text = render_unit(tmp_path, unit, proxy_compute_node_install_method="packages")
    assert "\nExecStart=/usr/bin/nova-compute --config-file " in text
    assert verify("--root=%s" % root, "/etc/systemd/system/nova-compute.service") == (0, "")
