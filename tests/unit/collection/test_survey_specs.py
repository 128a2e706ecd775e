"""The AWX job templates and surveys of extensions/awx against the playbooks they run.

Every survey question and extra var must be a variable the playbook or one of its roles
reads (the roles' meta/argument_specs.yml, the plays' ``vars:``, or the playbook's own
text), and a survey answer, typed as AWX sends it (text and multiplechoice as strings,
integer as int), must pass the role's argument spec, or for a play var the type its
default and the play's filters (``| bool``, ``| int``, an ``in [...]`` assert) give it:
a survey cannot drift from the code it drives.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import yaml
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

ROOT = Path(__file__).resolve().parents[3]
AWX = ROOT / "extensions" / "awx"
DEFINITIONS = yaml.safe_load((AWX / "job_templates.yml").read_text())
TEMPLATES = DEFINITIONS["job_templates"]
CREDENTIAL_TYPES = {"Machine", "VMware vCenter", "OpenStack"}
QUESTION_TYPES = {"text", "textarea", "password", "integer", "float", "multiplechoice", "multiselect"}
ROLE = re.compile(r"role:\s*nova_vsphere\.mixed_cloud\.(\w+)")
IMPORT = re.compile(r"import_playbook:\s*(\S+)")


def role_options(playbook: Path) -> dict:
    """The argument spec options of every role of this collection the playbook applies."""
    options = {}
    for role in ROLE.findall(playbook.read_text()):
        specs = yaml.safe_load((ROOT / "roles" / role / "meta" / "argument_specs.yml").read_text())
        options.update(specs["argument_specs"]["main"]["options"])
    return options


def play_vars(playbook: Path) -> dict:
    """The defaults the playbook's plays declare in ``vars:`` (its options, when it has no role)."""
    found = {}
    for play in yaml.safe_load(playbook.read_text()):
        found.update(play.get("vars") or {})
    return found


def read_variables(playbook: Path) -> set:
    """Variables the play reads: its roles' options, names its own text uses in Jinja, and
    those of the playbooks it imports."""
    text = "\n".join(line for line in playbook.read_text().splitlines() if not line.lstrip().startswith("#"))
    jinja = {name for expr in re.findall(r"\{\{(.*?)\}\}", text, re.S) for name in re.findall(r"[A-Za-z_]\w*", expr)}
    imported = set().union(*(read_variables(playbook.parent / name) for name in IMPORT.findall(text)))
    return set(role_options(playbook)) | jinja | imported


def play_var_spec(playbook: Path, name: str) -> dict:
    """An argument spec for a play var, from its default and how the play uses it
    (``| bool``, ``| int``, or a membership test in an assert)."""
    default = play_vars(playbook)[name]
    text = playbook.read_text()
    if isinstance(default, bool):
        assert re.search(r"%s\s*\|\s*bool" % name, text), f"{name}: a survey string needs '| bool' in the play"
        return {"type": "bool"}
    if isinstance(default, int):
        assert re.search(r"%s\s*\|\s*int" % name, text), f"{name}: a survey answer needs '| int' in the play"
        return {"type": "int"}
    allowed = re.search(r"%s in (\[.*?\])" % name, text)
    return {"type": "str", **({"choices": yaml.safe_load(allowed.group(1))} if allowed else {})}


def awx_value(question, value):
    """A survey answer as AWX puts it in the job's extra vars."""
    return int(value) if question["type"] == "integer" else value


def ready(template):
    return not template.get("pending")


@pytest.mark.parametrize("template", TEMPLATES, ids=[t["name"] for t in TEMPLATES])
def test_template_runs_an_existing_playbook_with_known_credentials(template):
    playbook = ROOT / template["playbook"]
    if template.get("pending"):
        assert not playbook.exists(), f"{playbook.name} exists now: drop 'pending' and give its template a survey"
        return
    assert playbook.is_file()
    assert set(template["credential_types"]) <= CREDENTIAL_TYPES
    assert template["job_type"] in ("run", "check")


@pytest.mark.parametrize("template", [t for t in TEMPLATES if ready(t)], ids=lambda t: t["name"])
def test_extra_vars_are_read_by_the_playbook(template):
    known = read_variables(ROOT / template["playbook"])
    assert set(template["extra_vars"]) <= known, set(template["extra_vars"]) - known


@pytest.mark.parametrize("template", [t for t in TEMPLATES if ready(t)], ids=lambda t: t["name"])
def test_vcenter_port_is_an_extra_var_where_the_vcenter_credential_is_attached(template):
    """AWX's VMware credential has no port field; plays on localhost that use it take the port
    through mixed_cloud_vcenter, the dict the playbooks pass as module_defaults."""
    if "VMware vCenter" in template["credential_types"] and template["inventory"] == "localhost":
        assert "port" in template["extra_vars"]["mixed_cloud_vcenter"]
        assert "mixed_cloud_vcenter" in read_variables(ROOT / template["playbook"])


SURVEYED = [t for t in TEMPLATES if ready(t) and t["survey"]]


@pytest.mark.parametrize("template", SURVEYED, ids=lambda t: t["name"])
def test_survey_is_a_valid_awx_survey_spec(template):
    survey = json.loads((AWX / template["survey"]).read_text())
    assert survey["name"] and "description" in survey and survey["spec"]
    variables = [q["variable"] for q in survey["spec"]]
    assert len(variables) == len(set(variables))
    for question in survey["spec"]:
        assert question["question_name"] and question["type"] in QUESTION_TYPES
        assert isinstance(question["required"], bool)
        if question["type"] in ("multiplechoice", "multiselect"):
            assert all(isinstance(c, str) for c in question["choices"])
            assert question["default"] in question["choices"]
        if question["type"] in ("text", "textarea", "integer") and "min" in question and question["default"] != "":
            size = len(question["default"]) if question["type"] != "integer" else question["default"]
            assert question["min"] <= size <= question["max"]


@pytest.mark.parametrize("template", SURVEYED, ids=lambda t: t["name"])
def test_every_survey_variable_is_an_option_and_its_answers_pass_the_argument_spec(template):
    playbook = ROOT / template["playbook"]
    options = role_options(playbook)
    options.update({name: play_var_spec(playbook, name) for name in play_vars(playbook) if name not in options})
    survey = json.loads((AWX / template["survey"]).read_text())
    for question in survey["spec"]:
        name = question["variable"]
        assert name in options, f"{name} is not an option of the playbook's roles nor a var of its plays"
        assert options[name].get("type", "str") not in ("list", "dict"), f"{name}: a survey cannot ask for a {options[name]['type']}"
        answers = question.get("choices") or [question["default"]]
        for answer in answers:
            result = ArgumentSpecValidator({name: options[name]}).validate({name: awx_value(question, answer)})
            assert not result.error_messages, (name, answer, result.error_messages)


def test_workflow_chains_ready_templates_in_order():
    names = {t["name"] for t in TEMPLATES if ready(t)}
    nodes = DEFINITIONS["workflow"]["nodes"]
    identifiers = [n["identifier"] for n in nodes]
    assert all(n["job_template"] in names for n in nodes)
    for node, following in zip(nodes, identifiers[1:]):
        assert node["success_nodes"] == [following]
    assert "success_nodes" not in nodes[-1]
