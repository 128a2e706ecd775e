"""What an OpenStack module masks in its output: the secrets of cloud and auth, nothing else of them."""

import json
import re
from pathlib import Path

import pytest
from ansible.module_utils.basic import AnsibleModule
from ansible.module_utils.testing import patch_module_args

from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._openstack.client import (
    OpenStackModule,
    openstack_argument_spec,
)

URL = "https://keystone.example.org:5000/v3"
AUTH = {"auth_url": URL, "username": "operator", "password": "Pa55-word", "project_name": "ops",
        "user_domain_name": "Default"}


def failure(capsys, args, mask=True, **own_options):
    """The JSON a module prints when it fails with a message naming the URL, user and password."""
    with patch_module_args(args), pytest.raises(SystemExit):
        module_class = OpenStackModule if mask else AnsibleModule
        module = module_class(argument_spec=openstack_argument_spec(**own_options))
        module.fail_json(msg="Keystone at %s rejected user operator (password Pa55-word)" % URL)
    return json.loads(capsys.readouterr().out)


def test_a_cloud_dicts_secrets_are_masked_its_other_settings_shown(capsys):
    printed = failure(capsys, {"cloud": {"auth": AUTH, "region_name": "RegionOne"}})
    assert printed["msg"] == "Keystone at %s rejected user operator (password ********)" % URL
    cloud = printed["invocation"]["module_args"]["cloud"]
    assert cloud["auth"] == dict(AUTH, password="VALUE_SPECIFIED_IN_NO_LOG_PARAMETER")
    assert cloud["region_name"] == "RegionOne"


def test_auths_url_and_user_show_in_messages(capsys):
    printed = failure(capsys, {"auth": AUTH})
    assert printed["msg"] == "Keystone at %s rejected user operator (password ********)" % URL
    assert "Pa55-word" not in json.dumps(printed)


def test_without_it_ansible_masks_every_value_of_cloud_and_auth(capsys):
    # The safe default the options' no_log gives, of a plain AnsibleModule.
    printed = failure(capsys, {"cloud": {"auth": AUTH}}, mask=False)
    assert printed["msg"] == "Keystone at ******** rejected user ******** (password ********)"


@pytest.mark.parametrize("name", ["token", "application_credential_secret", "client_secret", "access_token",
                                  "passcode", "secret"])
def test_every_kind_of_secret_is_masked(capsys, name):
    auth = {"auth_url": URL, "access_token_endpoint": URL + "/token", name: "S3cr3t-value"}
    printed = failure(capsys, {"cloud": {"auth": auth}})
    shown = printed["invocation"]["module_args"]["cloud"]["auth"]
    assert shown[name] == "VALUE_SPECIFIED_IN_NO_LOG_PARAMETER"
    assert shown["access_token_endpoint"] == URL + "/token"


def test_a_value_another_option_keeps_secret_stays_masked(capsys):
    # The vCenter password of compute_proxy happens to equal the OpenStack user name.
    vcenter = {"type": "dict", "options": {"password": {"type": "str", "no_log": True}}}
    printed = failure(capsys, {"auth": AUTH, "vcenter": {"password": "operator"}}, vcenter=vcenter)
    assert printed["msg"] == "Keystone at %s rejected user ******** (password ********)" % URL


def test_the_invocation_logged_to_syslog_holds_no_setting_of_cloud(monkeypatch):
    logged = []
    monkeypatch.setattr(AnsibleModule, "log", lambda self, msg, log_args=None: logged.append(msg))
    with patch_module_args({"cloud": {"auth": AUTH}}):
        AnsibleModule(argument_spec=openstack_argument_spec())
    assert logged and "Pa55-word" not in logged[0]
    assert "cloud=NOT_LOGGING_PARAMETER" in logged[0]


def test_every_module_with_the_openstack_connection_masks_through_openstack_module():
    modules = Path(__file__).resolve().parents[3] / "plugins" / "modules"
    using = {path.stem: path.read_text() for path in modules.glob("*.py")
             if re.search(r"openstack_argument_spec|OPENSTACK_ARGUMENT_SPEC", path.read_text())}
    assert len(using) >= 6, sorted(using)
    for name, source in using.items():
        assert "OpenStackModule" in source and "AnsibleModule(" not in source, name
