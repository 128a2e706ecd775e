"""nova_scheduler_conf through ansible: check mode, diff, idempotency, and the file read back by nova's own
option definitions (the lab's OpenStack venv), so the multi-valued available_filters is checked as nova reads it."""

import json
import subprocess

import pytest

from helpers.playbook import run_module

FILTER = "nova_vsphere_capacity.filters.VsphereHostFitFilter"
WEIGHER = "nova_vsphere_capacity.weights.RealFreeRAMWeigher"
RAM = "nova.scheduler.weights.ram.RAMWeigher"
OPERATOR_CONF = """\
[DEFAULT]
transport_url = rabbit://nova:not-in-the-diff@127.0.0.1:5672/

[filter_scheduler]
# the operator's own filters
enabled_filters = ComputeFilter,ImagePropertiesFilter,AggregateInstanceExtraSpecsFilter
host_subset_size = 2
"""
READ_BACK = r"""
import json, sys, warnings
warnings.simplefilter("ignore")
import nova.conf
from nova.scheduler import weights
CONF = nova.conf.CONF
CONF(sys.argv[1:], project="nova", default_config_files=[], default_config_dirs=[], use_env=False)
fs = CONF.filter_scheduler
print(json.dumps({"available_filters": fs.available_filters, "enabled_filters": fs.enabled_filters,
                  "weight_classes": fs.weight_classes, "host_subset_size": fs.host_subset_size,
                  "all_weighers": [c.__module__ + "." + c.__name__ for c in weights.all_weighers()]}))
"""


@pytest.fixture(scope="module")
def nova_python(lab):
    python = lab["state"] / "venv" / "bin" / "python"
    if not python.exists():
        pytest.skip("the lab's OpenStack venv (%s) is not there: bring the lab's OpenStack half up" % python)
    return str(python)


def read_back(nova_python, *conf_files):
    args = [arg for conf in conf_files for arg in ("--config-file", str(conf))]
    completed = subprocess.run([nova_python, "-c", READ_BACK, *args], capture_output=True, text=True, timeout=300, check=False)
    assert completed.returncode == 0, completed.stderr
    return json.loads(completed.stdout)


def test_adds_ours_keeps_the_operators_and_nova_reads_it_so(nova_python, tmp_path):
    conf = tmp_path / "nova.conf"
    conf.write_text(OPERATOR_CONF)
    conf.chmod(0o600)
    nova_weighers = read_back(nova_python, conf)["all_weighers"]
    args = dict(path=str(conf), available_filters=[FILTER], enabled_filters=["VsphereHostFitFilter"],
                weight_classes=[WEIGHER], remove_weight_classes=[RAM], all_weighers=nova_weighers, max_age_seconds=600)

    check = run_module("nova_scheduler_conf", args, check_mode=True)
    assert not check.failed, check.output
    assert check.result["changed"] is True
    assert conf.read_text() == OPERATOR_CONF

    applied = run_module("nova_scheduler_conf", args)
    assert not applied.failed, applied.output
    assert applied.result["changed"] is True
    assert applied.result["scheduler"] == check.result["scheduler"]
    # The diff names the lists only, never the rest of the file.
    assert "not-in-the-diff" not in json.dumps(applied.result["diff"])
    assert applied.result["diff"]["before"]["weight_classes"] == ["nova.scheduler.weights.all_weighers"]

    seen = read_back(nova_python, conf)
    assert seen["enabled_filters"] == ["ComputeFilter", "ImagePropertiesFilter", "AggregateInstanceExtraSpecsFilter",
                                       "VsphereHostFitFilter"]
    assert seen["available_filters"] == ["nova.scheduler.filters.all_filters", FILTER]
    assert sorted(seen["weight_classes"]) == sorted([w for w in nova_weighers if w != RAM] + [WEIGHER])
    assert seen["host_subset_size"] == 2
    assert "# the operator's own filters\n" in conf.read_text()
    assert "[vsphere_capacity]\nmax_age_seconds = 600\n" in conf.read_text()
    assert oct(conf.stat().st_mode & 0o777) == "0o600"

    again = run_module("nova_scheduler_conf", args)
    assert not again.failed, again.output
    assert again.result["changed"] is False
    assert again.result["scheduler"] == applied.result["scheduler"]

    removed = run_module("nova_scheduler_conf", dict(args, state="absent", max_age_seconds=None))
    assert removed.result["changed"] is True, removed.output
    seen = read_back(nova_python, conf)
    assert seen["enabled_filters"] == ["ComputeFilter", "ImagePropertiesFilter", "AggregateInstanceExtraSpecsFilter"]
    assert seen["available_filters"] == ["nova.scheduler.filters.all_filters"]
    assert sorted(seen["weight_classes"]) == sorted(nova_weighers)


def test_a_later_file_that_overrides_the_list_fails_naming_it(tmp_path):
    conf, later = tmp_path / "nova.conf", tmp_path / "scheduler.conf"
    conf.write_text(OPERATOR_CONF)
    later.write_text("[filter_scheduler]\nenabled_filters = ComputeFilter\n")
    run = run_module("nova_scheduler_conf", dict(path=str(conf), config_files=[str(conf), str(later)],
                                                 enabled_filters=["VsphereHostFitFilter"]))
    assert run.failed
    assert "%s sets [filter_scheduler] enabled_filters after %s" % (later, conf) in run.msg
    assert conf.read_text() == OPERATOR_CONF


def test_removing_ram_weigher_from_all_weighers_needs_the_list(tmp_path):
    conf = tmp_path / "nova.conf"
    conf.write_text(OPERATOR_CONF)
    run = run_module("nova_scheduler_conf", dict(path=str(conf), weight_classes=[WEIGHER], remove_weight_classes=[RAM]))
    assert run.failed
    assert "give all_weighers" in run.msg
    assert conf.read_text() == OPERATOR_CONF
