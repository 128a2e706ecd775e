"""The playbooks run from AWX unchanged: under ansible-runner, with only what AWX's
"VMware vCenter" and "OpenStack" credentials inject, the job template's extra vars, and
no secret in the job's events or artifacts.

A playbook added later gets one JOBS line: its file, the extra vars its job template sets
(see extensions/awx/job_templates.yml), whether it runs in check mode, and a check of its
result. Playbooks that change the lab run in check mode here; their own tests cover the
changes.
"""

from __future__ import annotations

import json

import pytest

from awx import Job, awx_credentials, run_job
from test_vcenter_prepare import lab_state
from test_vcenter_prepare import vcenter, vsphere  # noqa: F401  # pylint: disable=unused-import


def _site(job: Job):
    clusters = [c["name"] for res in job.task_results("Read the vCenter inventory")
                for dc in res["datacenters"] for c in dc["clusters"]]
    assert {"Cluster-A", "Cluster-B"} <= set(clusters), clusters
    hypervisors = job.task_results("Read nova's hypervisors")
    assert hypervisors and "hypervisors" in hypervisors[0], hypervisors


def _prepare(job: Job):
    report = job.task_results("Report each prerequisite per cluster")
    assert report and "Cluster-A:" in report[0]["msg"], report


PREPARE_A = {"vcenter_prepare_clusters": [{"name": "Cluster-A", "datacenter": "DC1", "datastore_regex": "^nfs-a$"}]}

# playbook, job template extra vars (beyond the vCenter port), check mode, result check
JOBS = [
    pytest.param("site.yml", {}, False, _site, id="site"),
    pytest.param("vcenter_prepare.yml", PREPARE_A, True, _prepare, id="vcenter_prepare-check"),
]


@pytest.fixture
def private_data_dir(tmp_path):
    path = tmp_path / "awx-job"
    path.mkdir(mode=0o700)
    return path


@pytest.mark.parametrize("playbook, extravars, check, verify", JOBS)
def test_job_runs_with_awx_credentials_only_and_leaks_nothing(lab, private_data_dir, playbook, extravars, check,
                                                              verify):
    credentials = awx_credentials(lab, private_data_dir)
    job = run_job(private_data_dir, playbook, credentials, extravars=extravars, check=check)
    assert job.ok(), job.stdout
    environment = job.environment()
    assert "OS_CLOUD" not in environment and "VMWARE_PORT" not in environment
    assert "ANSIBLE_CONFIG" not in environment
    verify(job)
    assert job.leaks(credentials.secrets) == []


def test_prepare_job_in_check_mode_changes_nothing(lab, private_data_dir, vsphere):  # noqa: F811
    before = lab_state(vsphere)
    job = run_job(private_data_dir, "vcenter_prepare.yml", awx_credentials(lab, private_data_dir),
                  extravars=PREPARE_A, check=True)
    assert job.ok(), job.stdout
    assert lab_state(vsphere) == before


def test_prepare_job_fixes_then_is_idempotent(lab, tmp_path, vsphere):  # noqa: F811
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
    job = run_job(private_data_dir, "site.yml", credentials)
    assert job.status == "failed"
    failed = [e["event_data"]["res"] for e in job.events if e.get("event") == "runner_on_failed"]
    assert failed and "VMWARE_PORT" in failed[0]["msg"] and "Traceback" not in failed[0]["msg"], failed
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
