"""compute_proxy against the lab, without starting any proxy: the mapping checks and what a missing proxy looks like.

The tests that run proxies (the role, idempotence, service state, aggregates, a second
service claiming a cluster) are in test_proxy_compute.py.
"""

import json

from helpers.lab import clean_env
from helpers.playbook import run_module

CLUSTERS = {"Cluster-A": 294912, "Cluster-B": 147456}  # the default inventory: 64+128+96 GiB, 32+48+64 GiB


def env_of(lab, **overrides):
    return clean_env(**{**lab["env"], **overrides})


def test_a_cluster_mapped_to_two_proxies_is_refused_before_any_call(lab):
    run = run_module("compute_proxy", {"proxies": [
        {"host": "vmware-proxy-a", "cluster": "Cluster-A"},
        {"host": "vmware-proxy-b", "cluster": "Cluster-A"},
    ]}, env=env_of(lab, VMWARE_PASSWORD="not-even-tried"))
    assert run.failed
    assert "Cluster-A is mapped to vmware-proxy-a and vmware-proxy-b" in run.msg
    assert run.result["problems"]


def test_every_missing_cluster_is_named_at_once(lab):
    run = run_module("compute_proxy", {"proxies": [
        {"host": "vmware-proxy-a", "cluster": "Cluster-Z"},
        {"host": "vmware-proxy-b", "cluster": "Cluster-Y"},
    ]}, env=env_of(lab))
    assert run.failed
    assert "vmware-proxy-a: Cluster Cluster-Z not found" in run.msg
    assert "vmware-proxy-b: Cluster Cluster-Y not found" in run.msg
    assert "DC1/Cluster-A" in run.msg


def test_proxies_that_never_started_are_flagged_not_failed(lab):
    run = run_module("compute_proxy", {"proxies": [
        {"host": "vmware-proxy-never-a", "cluster": "Cluster-A"},
        {"host": "vmware-proxy-never-b", "cluster": "Cluster-B"},
    ], "aggregate": "vmware-never"}, env=env_of(lab), check_mode=True)
    assert not run.failed, run.msg
    assert not run.result["changed"] and run.result["actions"] == []
    assert run.result["missing_hypervisors"] == ["vmware-proxy-never-a", "vmware-proxy-never-b"]
    rows = {row["host"]: row for row in run.result["proxies"]}
    assert rows["vmware-proxy-never-a"]["status"] == "no_service"
    uuid = run.result["vcenters"][0]["instance_uuid"]
    assert run.result["vcenters"][0]["proxies"] == ["vmware-proxy-never-a", "vmware-proxy-never-b"]
    assert rows["vmware-proxy-never-a"]["nodename"] == "%s.%s" % (rows["vmware-proxy-never-a"]["cluster_moid"], uuid)
    # What nova will have to show: the cluster as vCenter counts it.
    for row in rows.values():
        assert row["vcenter_capacity"]["memory_mb"] == CLUSTERS[row["cluster"]]


def test_waiting_for_a_proxy_that_never_starts_times_out_saying_why(lab):
    run = run_module("compute_proxy", {"proxies": [{"host": "vmware-proxy-never-a", "cluster": "Cluster-A"}],
                                       "wait": True, "timeout": 6}, env=env_of(lab))
    assert run.failed
    assert "Waited 6 s for the proxies; not ready: vmware-proxy-never-a (no_service)" in run.msg
    assert run.result["missing_hypervisors"] == ["vmware-proxy-never-a"]


def test_vcenter_comes_from_the_vcenter_option_too(lab):
    env = lab["env"]
    vcenter = {"hostname": env["VMWARE_HOST"], "port": int(env["VMWARE_PORT"]), "username": env["VMWARE_USER"],
               "password": "wrong-password"}
    run = run_module("compute_proxy", {"proxies": [{"host": "vmware-proxy-a", "cluster": "Cluster-A"}],
                                       "vcenter": vcenter}, env=env_of(lab))
    assert run.failed
    assert "rejected the login of user %s" % env["VMWARE_USER"] in run.msg
    assert "wrong-password" not in json.dumps(run.result)
