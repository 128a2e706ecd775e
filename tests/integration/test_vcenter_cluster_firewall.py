"""vcenter_host_firewall against the lab: the VNC ruleset on every host of a cluster.

The lab's hosts carry the ruleset ``vnc`` (TCP 5900-9999, disabled) of the OpenStack VNC
VIB, except esx-b3, where "the VIB is not installed".
"""

import pytest

from helpers.lab import clean_env
from helpers.playbook import run_module

VNC_PORTS = {"begin": 5900, "end": 6105}
CLUSTER_A = ["esx-a1.lab.local", "esx-a2.lab.local", "esx-a3.lab.local"]


def firewall(vcenter, check_mode=False, **args):
    return run_module("vcenter_host_firewall", args, env=clean_env(**vcenter), check_mode=check_mode)


def test_check_mode_shows_the_diff_and_enables_nothing(vcenter, vsphere):
    run = firewall(vcenter, check_mode=True, cluster="Cluster-A", ruleset="vnc", required_ports=VNC_PORTS)
    assert not run.failed, run.output
    assert run.result["changed"]
    assert run.result["diff"] == {"before": dict.fromkeys(CLUSTER_A, False), "after": dict.fromkeys(CLUSTER_A, True)}
    assert vsphere.rulesets("Cluster-A", "vnc") == dict.fromkeys(CLUSTER_A, False)


def test_enables_on_every_host_of_the_cluster_only_then_is_idempotent(vcenter, vsphere):
    run = firewall(vcenter, cluster="Cluster-A", ruleset="vnc", required_ports=VNC_PORTS)
    assert not run.failed, run.output
    assert run.result["changed"]
    assert run.result["firewall"]["hosts"][0] == {"name": "esx-a1.lab.local", "enabled": True,
                                                  "inbound": ["5900-9999/tcp"], "allowed_ip": "all"}
    assert vsphere.rulesets("Cluster-A", "vnc") == dict.fromkeys(CLUSTER_A, True)
    # Each host has its own firewall: the other cluster is untouched.
    assert vsphere.rulesets("Cluster-B", "vnc") == {"esx-b1.lab.local": False, "esx-b2.lab.local": False, "esx-b3.lab.local": None}
    again = firewall(vcenter, cluster="Cluster-A", ruleset="vnc", required_ports=VNC_PORTS)
    assert not again.failed, again.output
    assert not again.result["changed"]


def test_disables(vcenter, vsphere):
    vsphere.hosts("Cluster-A")[1].configManager.firewallSystem.EnableRuleset("vnc")
    run = firewall(vcenter, cluster="Cluster-A", ruleset="vnc", enabled=False)
    assert not run.failed, run.output
    assert run.result["diff"]["before"] == {"esx-a1.lab.local": False, "esx-a2.lab.local": True, "esx-a3.lab.local": False}
    assert vsphere.rulesets("Cluster-A", "vnc") == dict.fromkeys(CLUSTER_A, False)


def test_a_host_without_the_ruleset_fails_the_task_and_nothing_changes(vcenter, vsphere):
    run = firewall(vcenter, cluster="Cluster-B", ruleset="vnc")
    assert run.failed
    assert run.msg.startswith("Firewall ruleset vnc is not defined on esx-b3.lab.local. The vSphere API can only enable "
                              "or disable a ruleset: install the VIB that defines it")
    assert vsphere.rulesets("Cluster-B", "vnc")["esx-b1.lab.local"] is False
    # Disabling is another matter: a host without the ruleset is already closed.
    disable = firewall(vcenter, cluster="Cluster-B", ruleset="vnc", enabled=False)
    assert not disable.failed, disable.output
    assert not disable.result["changed"]


def test_a_ruleset_that_does_not_open_the_ports_fails(vcenter, vsphere):
    run = firewall(vcenter, cluster="Cluster-A", ruleset="sshServer", required_ports=VNC_PORTS)
    assert run.failed
    assert run.msg == ("Firewall ruleset sshServer opens 22/tcp inbound on esx-a1.lab.local, esx-a2.lab.local, "
                       "esx-a3.lab.local, not all of 5900-6105/tcp.")


def test_a_builtin_ruleset_that_covers_the_ports(vcenter, vsphere):
    # gdbserver opens 1000-9999: it would do for VNC, as old guides suggest, but opens far more.
    run = firewall(vcenter, check_mode=True, cluster="Cluster-B", ruleset="gdbserver", required_ports=VNC_PORTS)
    assert not run.failed, run.output
    assert run.result["firewall"]["hosts"][2]["inbound"] == ["1000-9999/tcp", "50000-50999/tcp"]


@pytest.mark.parametrize("ports, message", [
    ({"begin": 6105, "end": 5900}, "required_ports begin 6105 is after end 5900: begin is the first port of the range, "
                                   "end the last."),
    ({"begin": 5900, "end": 70000}, "required_ports end 70000 is not a port: give ports from 1 to 65535."),
])
def test_required_ports_that_are_no_range_are_refused_and_nothing_changes(vcenter, vsphere, ports, message):
    # A reversed range once passed as covered on every host.
    run = firewall(vcenter, cluster="Cluster-A", ruleset="vnc", required_ports=ports)
    assert run.failed
    assert run.msg == message
    assert vsphere.rulesets("Cluster-A", "vnc") == dict.fromkeys(CLUSTER_A, False)


def test_unknown_cluster(vcenter):
    run = firewall(vcenter, cluster="Cluster-Z", ruleset="vnc")
    assert run.failed
    assert run.msg == "Cluster Cluster-Z not found in this vCenter; it has: DC1/Cluster-A, DC1/Cluster-B."
