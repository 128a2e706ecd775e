"""The playbooks run from AWX unchanged: under ansible-runner, with only what AWX's
"VMware vCenter" and "OpenStack" credentials inject, the job template's extra vars, and
no secret in the job's events or artifacts.

A playbook added later gets one JOBS line: its file, the extra vars its job template sets
(see extensions/awx/job_templates.yml), whether it runs in check mode, a check of its
result, and a reading of what it may change, the same before and after the job. Playbooks
that change the lab run in check mode here; their own tests cover the changes.
"""

from __future__ import annotations

import json

import pytest

from helpers.awx import Job, awx_credentials, run_job
from helpers.cloud import Cloud, remove_proxies
from helpers.vsphere import lab_state


def _prepare(job: Job):
    report = job.task_results("Report each prerequisite per cluster")
    assert report and "Cluster-A:" in report[0]["msg"], report


def _evacuate_plan(job: Job):
    """The job template's default job type is check: it shows the plan for a host that is up
    (fenced asserted), the service as it would be."""
    summary = job.task_results("Summary")
    assert summary and summary[0]["msg"].startswith("kvm-compute-1: "), summary
    assert "(check mode)" in summary[0]["msg"], summary
    assert job.changed() <= 1, job.stdout  # the plan itself; check mode changes nothing
    evacuate = [e["event_data"]["res"] for e in job.events if e.get("event") == "runner_on_ok"
                and e["event_data"].get("task_action") == "nova_vsphere.mixed_cloud.instance_evacuate"]
    assert evacuate and evacuate[0]["service"]["forced_down"] is True, evacuate  # as it would be


def _evacuate_source(lab, _vsphere):
    """kvm-compute-1's nova-compute service, which a check-mode evacuation leaves exactly as it was."""
    found = Cloud(lab["env"]).services()["kvm-compute-1"]
    return (found["status"], found["forced_down"], found["disabled_reason"])


def _prepare_lab(_lab, vsphere):
    return lab_state(vsphere)


PREPARE_A = {"vcenter_prepare_clusters": [{"name": "Cluster-A", "datacenter": "DC1", "datastore_regex": "^nfs-a$"}]}

# The survey's answers as AWX sends them: multiple choices as strings, integers as numbers.
EVACUATE_PLAN = {"evacuate_host": "kvm-compute-1", "evacuate_state": "evacuated", "evacuate_fenced": "true",
                 "evacuate_target_host": "", "evacuate_target_state": "preserve", "evacuate_concurrency": 20,
                 "evacuate_retries": 2, "evacuate_timeout": 180, "evacuate_opt_in": "all",
                 "evacuate_opt_in_key": "evacuable", "evacuate_shared_storage": "false", "evacuate_skip_local_disks": "false"}

# playbook, job template extra vars (beyond the vCenter port), check mode, result check, what it may change
JOBS = [
    pytest.param("vcenter_prepare.yml", PREPARE_A, True, _prepare, _prepare_lab, id="vcenter_prepare-check"),
    pytest.param("evacuate_host.yml", EVACUATE_PLAN, True, _evacuate_plan, _evacuate_source, id="evacuate_host-check"),
]


@pytest.fixture
def private_data_dir(tmp_path):
    path = tmp_path / "awx-job"
    path.mkdir(mode=0o700)
    return path


@pytest.mark.parametrize("playbook, extravars, check, verify, state", JOBS)
def test_job_runs_with_awx_credentials_only_and_leaks_nothing(lab, private_data_dir, vsphere, playbook, extravars,
                                                              check, verify, state):
    """The job also leaves what it may change as it was (check mode, read before and after it)."""
    credentials = awx_credentials(lab, private_data_dir)
    before = state(lab, vsphere)
    job = run_job(private_data_dir, playbook, credentials, extravars=extravars, check=check)
    assert job.ok(), job.stdout
    environment = job.environment()
    assert "OS_CLOUD" not in environment and "VMWARE_PORT" not in environment
    assert "ANSIBLE_CONFIG" not in environment
    verify(job)
    assert job.leaks(credentials.secrets) == []
    assert state(lab, vsphere) == before


def test_prepare_job_fixes_then_is_idempotent(lab, tmp_path, vsphere):
    """A real run through AWX's environment (the vsphere fixture puts the lab back)."""
    runs = []
    for attempt in ("first", "second"):
        pdd = tmp_path / attempt
        pdd.mkdir()
        credentials = awx_credentials(lab, pdd)
        runs.append(run_job(pdd, "vcenter_prepare.yml", credentials, extravars=PREPARE_A))
        assert runs[-1].ok(), runs[-1].stdout
        assert runs[-1].leaks(credentials.secrets) == []
    assert runs[0].changed() > 0
    assert runs[1].changed() == 0, runs[1].stdout


def test_without_the_port_extra_var_the_job_says_what_to_fix(lab, private_data_dir):
    """AWX's VMware credential has no port: a job template without mixed_cloud_vcenter.port
    fails with one line naming the port, not a traceback."""
    credentials = awx_credentials(lab, private_data_dir)
    credentials.extravars = {}
    job = run_job(private_data_dir, "vcenter_prepare.yml", credentials, extravars=PREPARE_A)
    assert job.status == "failed"
    failed = [e["event_data"]["res"] for e in job.events if e.get("event") == "runner_on_failed"]
    assert failed and "VMWARE_PORT" in failed[0]["msg"] and "Traceback" not in failed[0]["msg"], failed
    assert job.leaks(credentials.secrets) == []


@pytest.fixture
def site_inventory(lab, vsphere, site_inventory_file):
    """The lab's site inventory, as an AWX inventory would hold it. Afterwards the lab is put
    back: vCenter by the vsphere fixture, the proxies, aggregates, flavors and images here."""
    inventory = site_inventory_file
    variables = json.loads(inventory.read_text().split("\n", 1)[1])["all"]
    cloud = Cloud(lab["env"])
    yield inventory
    remove_proxies(lab, cloud, list(variables["children"]["vmware_proxies"]["hosts"]))
    for name in ("kvm", "vmware"):
        cloud.delete_aggregate(name)
    for flavor in variables["vars"]["mixed_cloud_flavors"]:
        # None when the job failed before making it: openstacksdk refuses to delete None.
        found = cloud.conn.compute.find_flavor(flavor["name"])
        if found:
            cloud.conn.compute.delete_flavor(found)
    for image in variables["vars"]["mixed_cloud_images"]:
        for name in (image["name"], image["name"] + "-vmware"):
            found = cloud.conn.image.find_image(name)
            if found:
                cloud.conn.image.delete_image(found)


def test_whole_cloud_job_builds_the_mixed_cloud_and_leaks_nothing(lab, private_data_dir, site_inventory):
    """site.yml as the "whole cloud" job template runs it: the cloud's inventory (holding the
    proxies' service credentials, as an AWX inventory's variables would), the credentials'
    environment, the vCenter port as extra var. It provisions, registers and summarises."""
    credentials = awx_credentials(lab, private_data_dir)
    job = run_job(private_data_dir, "site.yml", credentials, inventory=str(site_inventory))
    assert job.ok(), job.stdout
    (summary,) = job.task_results("Report each hypervisor - kind, host, aggregate, zone, capacity")
    lines = summary["msg"]
    assert sum(line.startswith("vsphere vmware-proxy-") and "aggregate vmware, zone vmware" in line
               for line in lines) == 2, lines
    # One line per KVM host of the lab, each with its own libvirt's verdict on the virt_type the lab set.
    kvm_hosts = json.loads(site_inventory.read_text().split("\n", 1)[1])["all"]["children"]["kvm_computes"]["hosts"]
    kvm_lines = [line for line in lines if line.startswith("libvirt kvm-compute-")]
    assert len(kvm_lines) == len(kvm_hosts) >= 2, lines
    for host in kvm_hosts:
        (line,) = [line for line in kvm_lines if line.startswith("libvirt %s " % host)]
        assert "aggregate kvm, zone kvm" in line and ("is offered by libvirt on %s" % host) in line, line
    assert not [line for line in lines if "is not among the domain types" in line], lines
    # Every secret of the lab, so the inventory's service passwords too.
    assert job.leaks(credentials.secrets) == []


def test_leak_scan_finds_a_secret_in_artifacts_and_events(tmp_path):
    """The scanner itself: a secret in any artifact file or event is reported."""
    artifacts = tmp_path / "artifacts" / "job"
    (artifacts / "job_events").mkdir(parents=True)
    environment = {"VMWARE_PASSWORD": "s3cret-vc!", "OTHER": "s3cret-os!"}
    (artifacts / "command").write_text(json.dumps({"command": [], "cwd": "/", "env": environment}))
    (artifacts / "job_events" / "1-x.json").write_text('{"stdout": "s3cret-vc!"}')
    job = Job(status="successful", rc=0, stdout="", artifact_dir=artifacts, stats={},
              events=[{"counter": 2, "event": "runner_on_ok", "event_data": {"res": {"x": "s3cret-os!"}}}])
    assert job.leaks(["s3cret-vc!", "s3cret-os!"]) == [
        "command: s3c...", "job_events/1-x.json: s3c...", "event 2 runner_on_ok: s3c..."]
    assert job.leaks(["unrelated-secret"]) == []
