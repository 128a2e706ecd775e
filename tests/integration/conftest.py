"""Integration tests run the collection's modules through ansible against the real lab.

The session fixture brings the lab up itself (tests/lab/lab up, idempotent) unless
LAB_EXTERNAL=1 says someone else manages it. This file holds the fixtures several test
files use; what tests import lives in helpers/.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from pyVim.task import WaitForTask
from pyVmomi import vim

from helpers.lab import LAB, ROOT, clean_env, lab_env
from helpers.vsphere import LAB_CLUSTERS, VSphere, lab_vcenter


@pytest.fixture(scope="session")
def lab():
    if os.environ.get("LAB_EXTERNAL") != "1":
        subprocess.run(LAB + ["up"], check=True, stdout=subprocess.DEVNULL)
    env = lab_env()
    state = Path(os.environ.get("LAB_DIR", ROOT / ".lab"))
    return {"env": env, "state": state, "secrets": json.loads((state / "secrets.json").read_text())}


@pytest.fixture(scope="session")
def admin_env(lab):
    """An environment in which the modules find the lab's admin cloud, as OS_CLOUD names it."""
    return clean_env(OS_CLIENT_CONFIG_FILE=str(lab["state"] / "clouds.yaml"), OS_CLOUD="lab-admin")


@pytest.fixture(scope="session")
def site_inventory_file(lab):
    """The site inventory `lab site-vars` writes (<lab>/site/inventory.yml), written once a session."""
    subprocess.run(LAB + ["site-vars"], check=True, capture_output=True, env={**os.environ, "LAB_DIR": str(lab["state"])})
    return lab["state"] / "site" / "inventory.yml"


@pytest.fixture(scope="session")
def bare_python(tmp_path_factory):
    """A Python with none of the modules' libraries, for the missing-library errors."""
    venv = tmp_path_factory.mktemp("bare-venv")
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    return str(venv / "bin" / "python")


@pytest.fixture(scope="module")
def vcenter(lab):
    """The lab vCenter's environment for a module run (VMWARE_*, SSL_CERT_FILE)."""
    return lab_vcenter(lab)


@pytest.fixture
def vsphere(vcenter):
    """A session of the test's own; afterwards the lab is put back as the inventory describes it:
    the clusters' DRS/HA settings, the vnc ruleset disabled, no br100 port group, no test NFS datastore."""
    session = VSphere(vcenter)
    saved = {name: session.cluster_settings(name) for name in LAB_CLUSTERS}
    yield session
    for name, settings in saved.items():
        session.set_cluster(name, settings)
    for host in session.all(vim.HostSystem):
        if any(rs.key == "vnc" and rs.enabled for rs in host.config.firewall.ruleset):
            host.configManager.firewallSystem.DisableRuleset("vnc")
        if any(pg.spec.name == "br100" for pg in host.config.network.portgroup):
            host.configManager.networkSystem.RemovePortGroup("br100")
    for portgroup in session.all(vim.dvs.DistributedVirtualPortgroup):
        if portgroup.name == "br100":
            WaitForTask(portgroup.Destroy_Task())
    for datastore in session.all(vim.Datastore):
        if datastore.name in ("nfs-nova", "nfs41-ro"):
            for mount in datastore.host:
                mount.key.configManager.datastoreSystem.RemoveDatastore(datastore)
    session.close()
