"""The role's default install path: a virtualenv with nova and oslo.vmware from PyPI.

Opt-in (LAB_PROXY_PYPI=1): it downloads and installs nova, which takes minutes, so the
other tests use the lab's venv (install method ``existing``). One proxy, of Cluster-A,
installed with the lab's pinned constraints; the distribution's packages are not touched
(the lab's Python has venv). The proxy is removed at the end.
"""

import json
import os
import shutil
import subprocess
import time

import pytest

from helpers.cloud import Cloud, remove_proxies
from helpers.lab import ROOT, VENV_BIN, clean_env

pytestmark = pytest.mark.skipif(os.environ.get("LAB_PROXY_PYPI") != "1",
                                reason="installs nova from PyPI (minutes): set LAB_PROXY_PYPI=1")


def test_the_default_install_from_pypi_gives_a_working_proxy(lab, tmp_path):
    subprocess.run([str(VENV_BIN / "python"), str(ROOT / "tests" / "lab" / "lab"), "proxy-vars"], check=True,
                   capture_output=True, env={**os.environ, "LAB_DIR": str(lab["state"])})
    variables = json.loads((lab["state"] / "proxies" / "proxy-vars.yml").read_text().split("\n", 1)[1])
    venv = tmp_path / "venv"
    variables.update(proxy_compute_node_install_method="venv", proxy_compute_node_venv=str(venv),
                     proxy_compute_node_supervisor_venv=str(venv), proxy_compute_node_install_os_packages=False)
    (tmp_path / "vars.yml").write_text(json.dumps(variables))
    (tmp_path / "inventory.yml").write_text(json.dumps({"all": {"children": {"vmware_proxies": {"hosts": {
        "vmware-proxy-a": {"proxy_compute_node_cluster": "Cluster-A", "ansible_connection": "local",
                           "ansible_python_interpreter": str(VENV_BIN / "python")}}}}}}))
    cloud = Cloud(lab["env"])
    remove_proxies(lab, cloud, ["vmware-proxy-a"])
    try:
        started = time.monotonic()
        completed = subprocess.run(
            [str(VENV_BIN / "ansible-playbook"), "-i", str(tmp_path / "inventory.yml"), "-e", "@%s" % (tmp_path / "vars.yml"),
             str(ROOT / "playbooks" / "proxy_compute.yml")],
            env=clean_env(**lab["env"]), capture_output=True, text=True, timeout=3600, check=False)
        print("play with nova installed from PyPI: %.0f s" % (time.monotonic() - started))
        assert completed.returncode == 0, completed.stdout[-4000:] + completed.stderr[-2000:]
        assert (venv / "bin" / "nova-compute").exists() and (venv / "bin" / "supervisord").exists()
        frozen = subprocess.run([str(venv / "bin" / "pip"), "freeze"], capture_output=True, text=True, check=True).stdout
        assert "nova==34.0.0" in frozen and "oslo.vmware==" in frozen
        hypervisor = next(h for h in cloud.hypervisors() if h["service"]["host"] == "vmware-proxy-a")
        assert hypervisor["hypervisor_type"] == "VMware vCenter Server" and hypervisor["memory_mb"] == 294912
    finally:
        remove_proxies(lab, cloud, ["vmware-proxy-a"])
        shutil.rmtree(venv, ignore_errors=True)
