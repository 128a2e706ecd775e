"""Files nova_vmware_conf writes, read back by nova itself: nova.conf's option definitions under oslo.config.

Runs the lab's OpenStack venv (<LAB_DIR>/venv, where the lab installs nova), so the values
are checked against nova's real option types, not against this collection's idea of them.
"""

import json
import subprocess

import pytest

from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._nova_conf.vmware_options import OPTIONS
from helpers.playbook import run_module

# Loads the files the way nova-compute does and prints what nova sees, with Python types.
READ_BACK = r"""
import json, sys
import nova.conf
from nova.conf import vmware
CONF = nova.conf.CONF
args = sys.argv[1:]
CONF(args, project="nova", default_config_files=[], default_config_dirs=[], use_env=False)
seen = {opt.dest: [type(CONF.vmware[opt.dest]).__name__, CONF.vmware[opt.dest]] for opt in vmware.ALL_VMWARE_OPTS}
schema = {opt.dest: [type(opt.type).__name__, opt.default, getattr(opt.type, "min", None), getattr(opt.type, "max", None),
                     bool(opt.secret)] for opt in vmware.ALL_VMWARE_OPTS}
print(json.dumps({"vmware": seen, "schema": schema, "compute_driver": CONF.compute_driver, "my_ip": CONF.my_ip}))
"""
KINDS = {"String": "str", "HostAddress": "str", "URI": "str", "Integer": "int", "Port": "int", "Float": "float", "Boolean": "bool"}

# Every option, with values that oslo.config would mangle if written naively.
INTENDED = {
    "host_ip": "vcenter.example.com",
    "host_port": 8443,
    "host_username": "nova@vsphere.local",
    "host_password": " pa$word;#'\"$${x} ",
    "ca_file": "/etc/nova/vcenter ca.pem",
    "insecure": False,
    "api_retry_count": 0,
    "connection_pool_size": 25,
    "task_poll_interval": 1.25,
    "cluster_name": "'Cluster A' (prod)",
    "datastore_regex": "^nfs-(a|b)$",
    "use_linked_clone": False,
    "cache_prefix": "'$cache'",
    "maximum_objects": 250,
    "pbm_enabled": True,
    "pbm_wsdl_location": "file:///opt/SDK/spbm/wsdl/pbmService.wsdl",
    "pbm_default_policy": "gold # not a comment",
    "vnc_port": 6000,
    "vnc_port_total": 500,
    "vnc_keymap": "de-ch",
    "console_delay_seconds": 3,
    "serial_port_service_uri": "vspc.example.com:13370",
    "serial_port_proxy_uri": "telnets://proxy.example.com:13371",
    "serial_log_dir": "/var/log/vspc",
    "integration_bridge": "br-int",
}
EXISTING = """\
[DEFAULT]\r
my_ip = 10.1.2.3\r
compute_driver = libvirt.LibvirtDriver\r
\r
[VMware]\r
cluster_name = Old-A\r
cluster_name = Old-B\r
  (continued)\r
vnc_port = 5901\r
"""


@pytest.fixture(scope="module")
def nova_python(lab):
    python = lab["state"] / "venv" / "bin" / "python"
    if not python.exists():
        pytest.skip("the lab's OpenStack venv (%s) is not there: bring the lab's OpenStack half up" % python)
    return str(python)


def read_back(nova_python, *args):
    completed = subprocess.run([nova_python, "-c", READ_BACK, *args], capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def write(path, **options):
    run = run_module("nova_vmware_conf", dict(path=str(path), owner="root", group="root", **options))
    assert not run.failed, run.output
    return run


def test_the_option_schema_is_novas(nova_python, tmp_path):
    (tmp_path / "empty.conf").write_text("")
    schema = read_back(nova_python, "--config-file", str(tmp_path / "empty.conf"))["schema"]
    assert sorted(schema) == sorted(OPTIONS)
    for name, (kind, default, low, high, secret) in schema.items():
        option = OPTIONS[name]
        assert (KINDS[kind], default, secret) == (option.kind, option.default, option.secret), name
        assert (low, high) == (option.low, option.high) or kind == "Port" and (low, high) == (0, 65535), name


def test_every_value_reaches_nova_with_its_type(nova_python, tmp_path):
    path = tmp_path / "nova.conf"
    path.write_bytes(EXISTING.encode())
    write(path, **INTENDED)
    seen = read_back(nova_python, "--config-file", str(path))
    assert seen["compute_driver"] == "vmwareapi.VMwareVCDriver"
    assert seen["my_ip"] == "10.1.2.3"
    assert seen["vmware"] == {name: [type(value).__name__, value] for name, value in INTENDED.items()}


def test_a_config_dir_snippet_overrides_nova_conf(nova_python, tmp_path):
    main = tmp_path / "nova.conf"
    main.write_bytes(EXISTING.encode())
    snippets = tmp_path / "nova.conf.d"
    snippets.mkdir()
    write(snippets / "50-vmware.conf", host_ip="192.0.2.10", host_username="nova", host_password="secret", cluster_name="Cluster-A")
    seen = read_back(nova_python, "--config-file", str(main), "--config-dir", str(snippets))
    assert seen["compute_driver"] == "vmwareapi.VMwareVCDriver"
    assert seen["vmware"]["cluster_name"] == ["str", "Cluster-A"]
    assert seen["vmware"]["vnc_port"] == ["int", 5901]
    assert main.read_bytes() == EXISTING.encode()
