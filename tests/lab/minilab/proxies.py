"""What the proxy_compute_node role needs to provision nova-compute proxies in the lab.

The lab does not start the proxies: the role is what is under test. It writes, under
``<state>/proxies/``, an inventory with one proxy per simulated cluster (``vmware-proxy-a``
for ``Cluster-A`` ...), each a host with a local connection on this machine, and the role
variables that point them at the lab: message queue, keystone, the vCenter simulator and its
CA, the services' venv (so provisioning takes seconds, not a pip install), a supervisord per
proxy (no systemd here), and the ``nova-manage cell_v2 discover_hosts`` a controller runs.

``lab down`` stops the proxies' supervisors too, so no nova-compute outlives the lab.
"""

from __future__ import annotations

import json
import os
import re
import signal
import sys
import time
from pathlib import Path

from . import openstack, vcenter
from .config import HOST, PORTS, REPO_ROOT, LabConfig

DEFAULT_INVENTORY = REPO_ROOT / "tests" / "lab" / "vcsim" / "default_inventory.json"


def base(cfg: LabConfig) -> Path:
    return cfg.state / "proxies"


def inventory_file(cfg: LabConfig) -> Path:
    return base(cfg) / "inventory.yml"


def vars_file(cfg: LabConfig) -> Path:
    return base(cfg) / "proxy-vars.yml"


def clusters(cfg: LabConfig) -> list[str]:
    """The simulated clusters, from the inventory the simulator was given."""
    source = cfg.vcenter_inventory or DEFAULT_INVENTORY
    data = json.loads(Path(source).read_text())
    return [cluster["name"] for dc in data["datacenters"] for cluster in dc.get("clusters", [])]


def proxy_host(cluster: str) -> str:
    """vmware-proxy-a for Cluster-A: a valid host name derived from the cluster's."""
    suffix = re.sub(r"^cluster[-_ ]*", "", cluster.lower())
    return "vmware-proxy-" + (re.sub(r"[^a-z0-9]+", "-", suffix).strip("-") or "x")


def proxies(cfg: LabConfig) -> dict[str, str]:
    """Proxy host name -> the cluster it drives."""
    return {proxy_host(cluster): cluster for cluster in clusters(cfg)}


def write(cfg: LabConfig) -> tuple[Path, Path]:
    """Write the proxies' inventory and the role's variables (0600: they hold the lab's secrets)."""
    base(cfg).mkdir(parents=True, exist_ok=True)
    python = REPO_ROOT / ".venv" / "bin" / "python"
    hosts = {
        host: {
            "proxy_compute_node_cluster": cluster,
            "ansible_connection": "local",
            "ansible_python_interpreter": str(python if python.exists() else Path(sys.executable)),
        }
        for host, cluster in proxies(cfg).items()
    }
    inventory = {"all": {"children": {"vmware_proxies": {"hosts": hosts}}}}
    auth = openstack._service_auth(cfg, "nova")
    here = str(base(cfg)) + "/{{ proxy_compute_node_host }}"
    variables = {
        # Everything of a proxy lives under <state>/proxies/<host>/.
        "proxy_compute_node_config_dir": f"{here}/etc",
        "proxy_compute_node_state_path": f"{here}/state",
        "proxy_compute_node_supervisor_dir": f"{here}/supervisor",
        # The lab's services venv already has nova and oslo.vmware; supervisord goes in a venv
        # of each proxy's own, since proxies provisioned in parallel must not share a pip run.
        "proxy_compute_node_install_method": "existing",
        "proxy_compute_node_venv": str(cfg.venv),
        "proxy_compute_node_service_manager": "supervisord",
        "proxy_compute_node_supervisor_venv": f"{here}/supervisor-venv",
        # The lab runs as the user who started it; nothing to become.
        "proxy_compute_become": False,
        "proxy_compute_node_pip_constraints": str(openstack.CONSTRAINTS),
        "proxy_compute_node_user": _user_name(),
        "proxy_compute_node_group": _group_name(),
        "proxy_compute_node_create_user": False,
        "proxy_compute_node_my_ip": HOST,
        "proxy_compute_node_transport_url": openstack._transport_url(cfg),
        "proxy_compute_node_keystone": {
            key: auth[key]
            for key in ("auth_url", "username", "password", "project_name", "user_domain_name",
                        "project_domain_name", "region_name")
        },
        "proxy_compute_node_vmware": {
            "host_ip": HOST,
            "host_port": PORTS["vcsim"],
            "host_username": cfg.vcenter_user,
            "host_password": cfg.secret("vcenter"),
            "ca_file": str(vcenter.ca_bundle(cfg)),
        },
        # Nova's calls to the simulator are quick; nothing in the lab is worth 180 s of shutdown.
        "proxy_compute_node_extra_options": {
            "DEFAULT": {"graceful_shutdown_timeout": 2, "manager_shutdown_timeout": 1},
        },
        # What a controller runs so that nova maps the new hosts into its cell.
        "proxy_compute_node_discover_command": [
            *openstack._nova_manage(cfg), "cell_v2", "discover_hosts", "--by-service", "--verbose",
        ],
        "proxy_compute_node_api_host": "localhost",
        "proxy_compute_node_api_vcenter": {
            "hostname": HOST,
            "port": PORTS["vcsim"],
            "username": cfg.vcenter_user,
            "password": cfg.secret("vcenter"),
            "validate_certs": True,
        },
        "proxy_compute_node_cloud": "lab-admin",
    }
    for path, content in ((inventory_file(cfg), inventory), (vars_file(cfg), variables)):
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        os.fchmod(fd, 0o600)
        with os.fdopen(fd, "w") as handle:
            # JSON is YAML; the lab's Python has no YAML writer.
            handle.write("# Generated by `lab proxy-vars`.\n" + json.dumps(content, indent=2) + "\n")
    return inventory_file(cfg), vars_file(cfg)


def _user_name() -> str:
    import pwd

    return pwd.getpwuid(os.getuid()).pw_name


def _group_name() -> str:
    import grp

    return grp.getgrgid(os.getgid()).gr_name


def supervisor_pids(cfg: LabConfig) -> dict[str, int]:
    """The running supervisord of each proxy the role started in this lab, by proxy host."""
    found = {}
    for pidfile in sorted(base(cfg).glob("*/supervisor/supervisord.pid")):
        try:
            pid = int(pidfile.read_text().split()[0])
            cmdline = Path(f"/proc/{pid}/cmdline").read_bytes().decode(errors="replace")
        except (OSError, ValueError, IndexError):
            continue
        if "supervisord" in cmdline and str(pidfile.parent) in cmdline:
            found[pidfile.parent.parent.name] = pid
    return found


def stop(cfg: LabConfig, timeout: float = 30) -> list[str]:
    """Stop every proxy's supervisord (which stops its nova-compute first). Returns the proxies stopped."""
    running = supervisor_pids(cfg)
    for pid in running.values():
        try:
            os.kill(pid, signal.SIGTERM)
        except ProcessLookupError:
            pass
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and any(Path(f"/proc/{pid}").exists() for pid in running.values()):
        time.sleep(0.2)
    return sorted(running)
