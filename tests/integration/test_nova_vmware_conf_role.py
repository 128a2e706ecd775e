"""The nova_vmware_driver role against the lab's vCenter: CA installed, config validated and written, handler once."""

import grp
import json
import os
import pwd
import re
import stat
import subprocess
import textwrap

import pytest

from helpers.lab import VENV_BIN, clean_env

PLAY = """
- hosts: localhost
  gather_facts: false
  roles:
    - role: nova_vsphere.mixed_cloud.nova_vmware_driver
      vars:
        nova_vmware_driver_config_path: "{conf}"
        nova_vmware_driver_ca_bundle: "{{{{ lookup('ansible.builtin.file', '{ca_pem}') }}}}"
        nova_vmware_driver_ca_file: "{ca_file}"
        nova_vmware_driver_owner: {owner}
        nova_vmware_driver_group: {group}
        nova_vmware_driver_restart_command: [touch, "{marker}"]
        nova_vmware_driver_vmware:
          host_ip: "{host}"
          host_port: {port}
          host_username: "{user}"
          host_password: "{{{{ lookup('ansible.builtin.env', 'NOVA_VCENTER_PASSWORD') }}}}"
          cluster_name: {cluster}
          datastore_regex: "^nfs-a$"
"""


@pytest.fixture
def play(lab, tmp_path):
    env = lab["env"]
    paths = {"conf": tmp_path / "nova.conf", "ca_file": tmp_path / "vcenter-ca.pem", "marker": tmp_path / "restarted"}

    def run(cluster="Cluster-A", **variables):
        playbook = tmp_path / "play.yml"
        playbook.write_text(PLAY.format(
            ca_pem=lab["state"] / "pki" / "ca.pem", host=env["VMWARE_HOST"], port=env["VMWARE_PORT"], user=env["VMWARE_USER"],
            owner=pwd.getpwuid(os.getuid()).pw_name, group=grp.getgrgid(os.getgid()).gr_name, cluster=cluster, **paths))
        completed = subprocess.run([str(VENV_BIN / "ansible-playbook"), str(playbook), "-e", json.dumps(variables)],
                                   capture_output=True, text=True,
                                   env=clean_env(NOVA_VCENTER_PASSWORD=env["VMWARE_PASSWORD"]), timeout=600, check=False)
        return completed, completed.stdout + completed.stderr

    return run, paths, env


def recap(output):
    return {name: int(value) for name, value in re.findall(r"\b(ok|changed|failed)=(\d+)", output)}


def test_role_installs_the_ca_writes_validated_settings_and_restarts_once(play):
    run, paths, env = play
    completed, output = run()
    assert completed.returncode == 0, output
    assert recap(output)["changed"] == 3, output  # CA bundle, config file, restart handler
    assert paths["marker"].exists()
    assert paths["conf"].read_text() == textwrap.dedent("""\
        [DEFAULT]
        compute_driver = vmwareapi.VMwareVCDriver

        [vmware]
        host_ip = 127.0.0.1
        host_port = {VMWARE_PORT}
        host_username = {VMWARE_USER}
        host_password = {VMWARE_PASSWORD}
        ca_file = {ca_file}
        cluster_name = Cluster-A
        datastore_regex = ^nfs-a$$
        """).format(**env, **paths)
    assert stat.S_IMODE(paths["conf"].stat().st_mode) == 0o640
    assert env["VMWARE_PASSWORD"] not in output

    paths["marker"].unlink()
    completed, output = run()
    assert completed.returncode == 0 and recap(output)["changed"] == 0, output
    assert not paths["marker"].exists()


def test_role_stops_before_writing_when_vcenter_disagrees(play):
    run, paths = play[:2]
    completed, output = run(cluster="Cluster-Z")
    assert completed.returncode != 0
    assert "Cluster Cluster-Z not found in this vCenter" in output
    assert not paths["conf"].exists() and not paths["marker"].exists()


def test_role_refuses_a_world_readable_mode_unless_told_to_allow_it(play):
    run, paths = play[:2]
    completed, output = run(nova_vmware_driver_mode="0644")
    assert completed.returncode != 0
    assert "mode 0644 lets every user of this host read %s" % paths["conf"] in output
    assert not paths["conf"].exists() and not paths["marker"].exists()
    completed, output = run(nova_vmware_driver_mode="0644", nova_vmware_driver_allow_world_access=True)
    assert completed.returncode == 0, output
    assert stat.S_IMODE(paths["conf"].stat().st_mode) == 0o644
