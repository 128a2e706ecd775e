"""The OpenStack connection layer against the lab's keystone and nova: success and every failure."""

import pytest
import yaml

from helpers.lab import clean_env
from helpers.playbook import run_module
from helpers.vsphere import lab_vcenter


@pytest.fixture(scope="module")
def clouds_file(lab):
    return lab["state"] / "clouds.yaml"


@pytest.fixture(scope="module")
def clouds(clouds_file):
    return yaml.safe_load(clouds_file.read_text())["clouds"]


def admin_cloud(clouds, **auth):
    cloud = dict(clouds["lab-admin"])
    cloud["auth"] = dict(cloud["auth"], **auth)
    return cloud


def test_named_cloud_from_os_cloud(clouds_file):
    run = run_module("hypervisor_info", env=clean_env(OS_CLIENT_CONFIG_FILE=str(clouds_file), OS_CLOUD="lab-admin"))
    assert not run.failed, run.output
    assert len(run.result["hypervisors"]) >= 1
    assert {row["service"]["state"] for row in run.result["hypervisors"]} == {"up"}


def test_awx_credential_layout_one_cloud_and_no_os_cloud(clouds, tmp_path):
    # AWX's OpenStack credential writes one cloud called devstack and leaves OS_CLOUD unset.
    awx_file = tmp_path / "clouds.yaml"
    awx_file.write_text(yaml.safe_dump({"clouds": {"devstack": clouds["lab-admin"]}}))
    run = run_module("hypervisor_info", env=clean_env(OS_CLIENT_CONFIG_FILE=str(awx_file)))
    assert not run.failed, run.output
    assert len(run.result["hypervisors"]) >= 1


def test_cloud_as_a_dict(clouds):
    run = run_module("hypervisor_info", {"cloud": admin_cloud(clouds)})
    assert not run.failed, run.output


def test_wrong_password_is_named_and_never_echoed(clouds, lab):
    wrong = "Wr0ng-Pa55word-os"
    run = run_module("hypervisor_info", {"cloud": admin_cloud(clouds, password=wrong)})
    assert run.failed
    assert "rejected the credentials of user admin" in run.msg
    assert wrong not in run.output
    assert lab["secrets"]["admin"] not in run.output
    assert "Traceback" not in run.output


def test_refused_port(clouds):
    run = run_module("hypervisor_info", {"cloud": admin_cloud(clouds, auth_url="http://127.0.0.1:1/v3")})
    assert run.failed
    assert run.msg.startswith("Cannot connect to Keystone at http://127.0.0.1:1/v3: Connection refused")


def test_unresolvable_host(clouds):
    run = run_module("hypervisor_info", {"cloud": admin_cloud(clouds, auth_url="http://keystone.invalid:5000/v3")})
    assert run.failed
    assert "Cannot connect to Keystone at http://keystone.invalid:5000/v3" in run.msg


def test_untrusted_certificate(clouds, lab):
    # The lab's simulated vCenter serves TLS with the lab CA, which the system store does not trust.
    tls_url = "https://127.0.0.1:%s/v3" % lab["env"]["VMWARE_PORT"]
    cloud = admin_cloud(clouds, auth_url=tls_url)
    run = run_module("hypervisor_info", {"cloud": cloud}, env=clean_env(SSL_CERT_FILE="/etc/ssl/certs/ca-certificates.crt"))
    assert run.failed
    assert "TLS certificate check failed for " + tls_url in run.msg
    assert "ca_cert" in run.msg


def test_unknown_cloud_name(clouds_file):
    run = run_module("hypervisor_info", {"cloud": "no-such-cloud"}, env=clean_env(OS_CLIENT_CONFIG_FILE=str(clouds_file)))
    assert run.failed
    assert "no-such-cloud" in run.msg
    assert "OS_CLIENT_CONFIG_FILE" in run.msg


def test_member_role_is_refused_by_policy(clouds_file):
    run = run_module("hypervisor_info", env=clean_env(OS_CLIENT_CONFIG_FILE=str(clouds_file), OS_CLOUD="lab-demo"))
    assert run.failed
    assert run.msg.startswith("OpenStack refused to list nova-compute services (HTTP 403)")


def test_missing_openstacksdk(clouds_file, bare_python):
    run = run_module("hypervisor_info", env=clean_env(OS_CLIENT_CONFIG_FILE=str(clouds_file), OS_CLOUD="lab-admin"),
                     interpreter=bare_python)
    assert run.failed
    assert "openstacksdk is required" in run.msg


def verbose_env(**overrides):
    """The environment of a run at -vvv, as AWX's Debug verbosity runs a job: the output shows the invocation."""
    return clean_env(ANSIBLE_VERBOSITY="3", **overrides)


def test_a_cloud_dicts_password_never_shows_at_vvv_its_other_settings_do(clouds, lab):
    cloud = admin_cloud(clouds)
    run = run_module("hypervisor_info", {"cloud": cloud}, env=verbose_env())
    assert not run.failed, run.output
    assert lab["secrets"]["admin"] not in run.output
    assert '"password": "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"' in run.output
    # Only the secret is masked: the rest of the dict stays readable in the invocation.
    for shown in ('"auth_url": "%s"' % cloud["auth"]["auth_url"], '"username": "admin"', '"region_name": "RegionOne"'):
        assert shown in run.output


# Every OpenStack module, with options that get it as far as connecting to Keystone.
MODULES = {
    "hypervisor_info": {},
    "instance_evacuate": {"host": "kvm-compute-1"},
    "compute_proxy": {"proxies": [{"host": "vmware-proxy-a", "cluster": "Cluster-A"}]},
    "flavor": {"name": "never-made", "state": "absent"},
    "host_aggregate": {"name": "never-made", "state": "absent"},
    "glance_image": {"name": "never-made", "state": "absent"},
}


@pytest.mark.parametrize("module", sorted(MODULES))
def test_auth_errors_name_the_url_and_user_but_not_the_password(clouds, lab, module):
    wrong = "Wr0ng-Pa55word-auth"
    auth = dict(clouds["lab-admin"]["auth"], password=wrong)
    run = run_module(module, dict(MODULES[module], auth=auth, auth_type="password"),
                     env=verbose_env(**lab_vcenter(lab)))
    assert run.failed
    assert run.msg.startswith("Keystone at %s rejected the credentials of user admin:" % auth["auth_url"]), run.msg
    assert wrong not in run.output
    assert lab["secrets"]["admin"] not in run.output
    assert '"username": "admin"' in run.output
