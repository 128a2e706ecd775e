"""Run a playbook the way AWX / Automation Controller runs a job template.

AWX hands ansible-runner a private data dir, the project checkout as project dir, the job
template's extra vars, and the environment its credentials inject:

- "VMware vCenter": VMWARE_HOST, VMWARE_USER, VMWARE_PASSWORD, VMWARE_VALIDATE_CERTS
  (no port: the port comes from the job template's extra vars, mixed_cloud_vcenter.port);
- "OpenStack": a clouds.yaml with one cloud named ``devstack`` in the private data dir,
  named by OS_CLIENT_CONFIG_FILE; OS_CLOUD is not set.

Nothing else leaks in from the test process: every VMWARE_*, OS_* and ANSIBLE_CONFIG
variable of this process is removed for the run (AWX jobs have no project ansible.cfg
here either). The collection is found through ANSIBLE_COLLECTIONS_PATH, where an
execution environment has it installed. The lab vCenter's certificate is signed by the
lab CA: an EE would trust it through a CA in its image (execution-environment.yml), the
tests give the job SSL_CERT_FILE, a bundle of the system CAs and <lab>/pki/ca.pem.
"""

from __future__ import annotations

import contextlib
import json
import os
import ssl
from dataclasses import dataclass, field
from pathlib import Path

import ansible_runner
import yaml

from helpers.lab import ROOT, VENV_BIN

# What the test process may carry that an AWX job would not have.
STRIPPED_PREFIXES = ("VMWARE_", "OS_")
STRIPPED_NAMES = ("ANSIBLE_CONFIG", "ANSIBLE_COLLECTIONS_PATH", "ANSIBLE_COLLECTIONS_PATHS", "SSL_CERT_FILE")


@dataclass
class Credentials:
    """The environment AWX's credentials inject, and the secrets that must not leak."""

    envvars: dict
    extravars: dict
    secrets: list = field(default_factory=list)


def _strings(value):
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for item in value.values():
            yield from _strings(item)
    elif isinstance(value, (list, tuple)):
        for item in value:
            yield from _strings(item)


def lab_secrets(lab) -> list:
    """Every password of <LAB_DIR>/secrets.json (strings long enough to be unmistakable)."""
    return sorted({s for s in _strings(lab["secrets"]) if len(s) >= 8})


def ee_trust_bundle(lab, private_data_dir: Path) -> Path:
    """System CAs + the lab CA, as an EE image built with the lab CA in extensions/awx/ca
    trusts them. A copy per job: <lab>/pki/trust-bundle.pem is rewritten by every `lab up`."""
    system = Path(ssl.get_default_verify_paths().openssl_cafile)  # OpenSSL's own, not $SSL_CERT_FILE
    bundle = private_data_dir / "ee-trust" / "ca-bundle.pem"
    bundle.parent.mkdir(parents=True, exist_ok=True)
    system_cas = system.read_text() if system.is_file() else ""
    bundle.write_text(system_cas + "\n" + (lab["state"] / "pki" / "ca.pem").read_text())
    return bundle


def awx_credentials(lab, private_data_dir: Path, cloud: str = "lab-admin") -> Credentials:
    """The lab's vCenter and one of its clouds, as AWX's two built-in credentials inject them."""
    env = lab["env"]
    clouds = yaml.safe_load(Path(env["OS_CLIENT_CONFIG_FILE"]).read_text())["clouds"]
    source = clouds[cloud]
    # The shape AWX's OpenStack credential injector writes: one cloud, "devstack".
    devstack = {"auth": dict(source["auth"]), "verify": True}
    if source.get("region_name"):
        devstack["region_name"] = source["region_name"]
    clouds_file = private_data_dir / "env" / "openstack_clouds.yaml"
    clouds_file.parent.mkdir(parents=True, exist_ok=True)
    clouds_file.write_text(yaml.safe_dump({"clouds": {"devstack": devstack}}))
    clouds_file.chmod(0o600)
    envvars = {
        "VMWARE_HOST": env["VMWARE_HOST"],
        "VMWARE_USER": env["VMWARE_USER"],
        "VMWARE_PASSWORD": env["VMWARE_PASSWORD"],
        "VMWARE_VALIDATE_CERTS": "True",
        "OS_CLIENT_CONFIG_FILE": str(clouds_file),
        # Stands for the CA an EE image trusts (see execution-environment.yml).
        "SSL_CERT_FILE": str(ee_trust_bundle(lab, private_data_dir)),
        # Where an EE has the collection installed.
        "ANSIBLE_COLLECTIONS_PATH": str(ROOT / "build" / "collections"),
        "PATH": "%s%s%s" % (VENV_BIN, os.pathsep, os.environ.get("PATH", "")),
    }
    # AWX's VMware credential has no port field: the job template's extra vars carry it.
    extravars = {"mixed_cloud_vcenter": {"port": int(env["VMWARE_PORT"])}}
    secrets = sorted(set(lab_secrets(lab)) | {env["VMWARE_PASSWORD"], source["auth"]["password"]})
    return Credentials(envvars=envvars, extravars=extravars, secrets=secrets)


@contextlib.contextmanager
def _awx_process_environment():
    """ansible-runner starts from os.environ: hide what an AWX job would not inherit."""
    saved = {k: v for k, v in os.environ.items() if k.startswith(STRIPPED_PREFIXES) or k in STRIPPED_NAMES}
    for name in saved:
        del os.environ[name]
    try:
        yield
    finally:
        os.environ.update(saved)


@dataclass
class Job:
    """A finished job: its status, rc, events and where runner kept its artifacts."""

    status: str
    rc: int
    events: list
    stdout: str
    artifact_dir: Path
    stats: dict

    def ok(self):
        return self.status == "successful" and self.rc == 0

    def changed(self):
        return sum((self.stats or {}).get("changed", {}).values())

    def task_results(self, task):
        """The module results of every host for the task of that name."""
        return [e["event_data"]["res"] for e in self.events
                if e.get("event") in ("runner_on_ok", "runner_on_failed") and e["event_data"].get("task") == task]

    def environment(self):
        """The environment runner started ansible-playbook with (its `command` artifact)."""
        return json.loads((self.artifact_dir / "command").read_text())["env"]

    def leaks(self, secrets):
        """Where a secret appears: artifact files (apart from runner's record of the job's own
        environment, the credential input itself) and events. Empty when nothing leaks."""
        found = []
        for path in sorted(p for p in self.artifact_dir.rglob("*") if p.is_file()):
            text = path.read_text(errors="replace")
            if path.name == "command" and path.parent == self.artifact_dir:
                # Runner writes the job's environment here (as AWX's runner does, in the
                # private data dir AWX deletes after the job). Anything else in it must be clean.
                record = json.loads(text)
                record["env"] = {k: v for k, v in record["env"].items() if k not in ("VMWARE_PASSWORD",)}
                text = json.dumps(record)
            found += ["%s: %s..." % (path.relative_to(self.artifact_dir), s[:3]) for s in secrets if s in text]
        for event in self.events:
            text = json.dumps([event.get("stdout", ""), event.get("event_data", {})])
            found += ["event %s %s: %s..." % (event.get("counter"), event.get("event"), s[:3]) for s in secrets if s in text]
        return found


def run_job(private_data_dir: Path, playbook: str, credentials: Credentials, extravars=None, check=False,
            inventory=None, limit=None) -> Job:
    """Run playbooks/<playbook> under ansible-runner as an AWX job template would."""
    cmdline = ["--check", "--diff"] if check else []
    variables = dict(credentials.extravars)
    variables.update(extravars or {})
    with _awx_process_environment():
        runner = ansible_runner.run(
            private_data_dir=str(private_data_dir),
            project_dir=str(ROOT),
            playbook=str(Path("playbooks") / playbook),
            envvars=dict(credentials.envvars),
            extravars=variables,
            inventory=inventory,
            limit=limit,
            cmdline=" ".join(cmdline) or None,
            ident="job",
            quiet=True,
            json_mode=False,
            # As AWX does (AWX_RUNNER_OMIT_ENV_FILES): no env/envvars file with the secrets.
            suppress_env_files=True,
            timeout=900,
        )
        events = list(runner.events)
        stdout = runner.stdout.read()
    return Job(status=runner.status, rc=runner.rc, events=events, stdout=stdout,
               artifact_dir=Path(runner.config.artifact_dir), stats=runner.stats or {})
