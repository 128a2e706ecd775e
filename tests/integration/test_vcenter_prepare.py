"""playbooks/vcenter_prepare.yml (the vcenter_prepare role) against the lab.

Cluster-A can be made fully fit. Cluster-B cannot: esx-b3 lacks the VNC ruleset (no VIB)
and two legacy VMs nova does not manage run there; the report must say so, and the play
fail, after everything that can be fixed was fixed.
"""

import json
import re
import subprocess

from helpers.lab import ROOT, VENV_BIN, clean_env
from helpers.playbook import recap_changed
from helpers.vsphere import lab_state

CLUSTER_A = ["esx-a1.lab.local", "esx-a2.lab.local", "esx-a3.lab.local"]
CLUSTER_B = ["esx-b1.lab.local", "esx-b2.lab.local", "esx-b3.lab.local"]
NFS = {"name": "nfs-nova", "server": "nfs.lab.local", "path": "/exports/nova"}
BOTH = {
    "vcenter_prepare_clusters": [
        {"name": "Cluster-A", "datacenter": "DC1", "datastore_regex": "^nfs-a$",
         "portgroups": [{"name": "br100", "vlan_id": 100, "switch_type": "distributed", "switch": "dvs-lab",
                         "port_binding": "ephemeral"}]},
        {"name": "Cluster-B", "datastore_regex": "^nfs-nova", "nfs": NFS, "portgroups": [{"name": "br100", "vlan_id": 100}]},
    ],
}


class PlaybookRun:
    def __init__(self, completed):
        self.rc = completed.returncode
        self.output = completed.stdout + completed.stderr
        match = re.search(r"Report each prerequisite per cluster\] \*+\nok: \[localhost\] => (\{.*?\n\})\n", completed.stdout, re.S)
        self.report = json.loads(match.group(1))["msg"] if match else None
        # Each cluster is prepared on a host of its own: the changes are those of every host.
        counts = recap_changed(completed.stdout)
        self.changed = sum(counts.values()) if counts else None

    def lines(self, cluster):
        """The report's lines for one cluster, as (status, prerequisite, detail)."""
        start = self.report.index(cluster + ":") + 1
        lines = []
        for line in self.report[start:]:
            if not line.startswith("  "):
                break
            status, rest = line[2:12].strip(), line[13:]
            prerequisite, detail = rest.split(": ", 1)
            lines.append((status, prerequisite, detail))
        return lines


def play(vcenter, tmp_path, extra, *options):
    (tmp_path / "vars.json").write_text(json.dumps(extra))
    env = clean_env(**vcenter, ANSIBLE_CALLBACK_RESULT_FORMAT="json")
    completed = subprocess.run([str(VENV_BIN / "ansible-playbook"), str(ROOT / "playbooks" / "vcenter_prepare.yml"),
                                "-e", "@%s" % (tmp_path / "vars.json"), *options],
                               env=env, capture_output=True, text=True, timeout=900, check=False)
    return PlaybookRun(completed)


def statuses(run, cluster):
    return {line[1]: line[0] for line in run.lines(cluster)}


def test_check_mode_reports_what_it_would_fix_and_changes_nothing(vcenter, vsphere, tmp_path):
    before = lab_state(vsphere)
    run = play(vcenter, tmp_path, BOTH, "--check", "--diff")
    assert run.rc == 2, run.output
    assert statuses(run, "Cluster-A") == {
        "DRS": "met", "vSphere HA": "met", "shared storage": "met", "port group br100": "would fix",
        "VNC firewall": "would fix", "dedicated to OpenStack": "met", "hosts": "met"}
    assert statuses(run, "Cluster-B") == {
        "DRS": "would fix", "vSphere HA": "would fix", "NFS datastore nfs-nova": "would fix", "shared storage": "would fix",
        "port group br100": "would fix", "VNC firewall": "failing", "dedicated to OpenStack": "failing", "hosts": "met"}
    assert lab_state(vsphere) == before


def test_fixes_what_it_can_reports_what_it_cannot_then_is_idempotent(vcenter, vsphere, tmp_path):
    run = play(vcenter, tmp_path, BOTH)
    assert run.rc == 2, run.output
    b = {prerequisite: (status, detail) for status, prerequisite, detail in run.lines("Cluster-B")}
    assert b["DRS"] == ("fixed", "on, fullyAutomated, migration threshold 3")
    assert b["vSphere HA"] == ("fixed", "on, host monitoring on, admission control on")
    assert b["shared storage"] == ("fixed", "every connected host now mounts nfs-nova")
    assert b["VNC firewall"][0] == "failing"
    assert b["VNC firewall"][1].startswith("Firewall ruleset vnc is not defined on esx-b3.lab.local.")
    assert b["dedicated to OpenStack"] == ("failing", "2 VMs nova does not manage: legacy-app01, legacy-db01; nova counts "
                                                      "their capacity as free (move them to another cluster)")
    assert "Prerequisites not met: Cluster-B VNC firewall: Firewall ruleset vnc is not defined on esx-b3.lab.local" in run.output
    assert all(line[0] in ("met", "fixed") for line in run.lines("Cluster-A"))

    state = lab_state(vsphere)
    assert state["settings"]["Cluster-B"] == {
        "drs": {"enabled": True, "defaultVmBehavior": "fullyAutomated", "vmotionRate": 3},
        "das": {"enabled": True, "hostMonitoring": "enabled", "admissionControlEnabled": True}}
    assert state["vnc"] == {**dict.fromkeys(CLUSTER_A, True), "esx-b1.lab.local": False, "esx-b2.lab.local": False,
                            "esx-b3.lab.local": None}
    assert state["br100"] == dict.fromkeys(CLUSTER_B, (100, "vSwitch0"))
    assert state["dvpg"] == ("ephemeral", 100)
    assert state["nfs-nova"] == CLUSTER_B

    again = play(vcenter, tmp_path, BOTH)
    assert again.rc == 2, again.output
    assert again.changed == 0, again.output
    assert statuses(again, "Cluster-B") == {
        "DRS": "met", "vSphere HA": "met", "NFS datastore nfs-nova": "met", "shared storage": "met",
        "port group br100": "met", "VNC firewall": "failing", "dedicated to OpenStack": "failing", "hosts": "met"}
    assert lab_state(vsphere) == state


def test_a_fit_cluster_passes(vcenter, vsphere, tmp_path):
    only_a = {"vcenter_prepare_clusters": BOTH["vcenter_prepare_clusters"][:1]}
    run = play(vcenter, tmp_path, only_a)
    assert run.rc == 0, run.output
    assert [line[0] for line in run.lines("Cluster-A")] == ["met", "met", "met", "fixed", "fixed", "met", "met"]
    assert play(vcenter, tmp_path, only_a).changed == 0


def test_allowing_unmanaged_vms_and_another_ruleset(vcenter, vsphere, tmp_path):
    extra = {"vcenter_prepare_clusters": [{"name": "Cluster-B", "vnc_ruleset": "gdbserver"}],
             "vcenter_prepare_allow_unmanaged_vms": True, "vcenter_prepare_drs": {"enabled": True}, "vcenter_prepare_ha": {}}
    run = play(vcenter, tmp_path, extra, "--check")
    assert run.rc == 0, run.output
    b = {prerequisite: (status, detail) for status, prerequisite, detail in run.lines("Cluster-B")}
    assert b["VNC firewall"] == ("would fix", "ruleset gdbserver enabled on 3 hosts, opening 1000-9999/tcp, 50000-50999/tcp")
    assert b["dedicated to OpenStack"][0] == "met"
    assert b["dedicated to OpenStack"][1].endswith("(allowed by vcenter_prepare_allow_unmanaged_vms)")
    # Without datastore_regex nova would use every datastore, and nfs-b is shared by all three hosts.
    assert b["shared storage"] == ("met", "every connected host mounts nfs-b")


def test_a_missing_cluster_is_reported_and_fails_the_play(vcenter, vsphere, tmp_path):
    run = play(vcenter, tmp_path, {"vcenter_prepare_clusters": [{"name": "Cluster-Z"}]}, "--check")
    assert run.rc == 2, run.output
    assert run.lines("Cluster-Z") == [
        ("failing", "cluster", "Cluster Cluster-Z not found in this vCenter; it has: DC1/Cluster-A, DC1/Cluster-B.")]


def test_the_role_checks_its_arguments(vcenter, tmp_path):
    run = play(vcenter, tmp_path, {"vcenter_prepare_clusters": [{"datacenter": "DC1"}]}, "--check")
    assert run.rc != 0
    assert "missing required arguments: name" in run.output


def test_a_limit_leaving_the_clusters_out_fails_naming_them(vcenter, tmp_path):
    """Each cluster is prepared on a host of the group vcenter_prepare_targets: a limit without it prepares
    nothing, and says so instead of passing with an empty report."""
    only_b = {"vcenter_prepare_clusters": [{"name": "Cluster-B", "vnc_ruleset": ""}], "vcenter_prepare_allow_unmanaged_vms": True}
    run = play(vcenter, tmp_path, only_b, "--check", "--limit", "localhost")
    assert run.rc == 2, run.output
    assert "Not prepared: vcenter/Cluster-B. Their hosts were left out by a limit" in run.output
    run = play(vcenter, tmp_path, only_b, "--check", "--limit", "localhost,vcenter_prepare_targets")
    assert run.rc == 0, run.output
    assert statuses(run, "Cluster-B")["DRS"] == "would fix"
