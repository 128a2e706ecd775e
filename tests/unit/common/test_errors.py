import pytest

from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._common.errors import (
    BackendError,
    failing_cleanly,
    one_line,
)
from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._openstack.client import (
    OpenStackError,
    _sdk_arguments,
)


def test_one_line_collapses_whitespace_and_masks_secrets():
    assert one_line("login as bob\n  with s3cret failed", ["s3cret", ""]) == "login as bob with ******** failed"


class FakeModule:
    def __init__(self):
        self.failed = None

    def fail_json(self, **result):
        self.failed = result
        raise SystemExit(1)


def test_backend_errors_become_a_failed_task_with_details():
    module = FakeModule()
    with pytest.raises(SystemExit):
        with failing_cleanly(module):
            raise BackendError("vCenter said no", hint="x")
    assert module.failed == {"msg": "vCenter said no", "hint": "x"}


def test_other_exceptions_are_not_swallowed():
    with pytest.raises(KeyError):
        with failing_cleanly(FakeModule()):
            raise KeyError("bug")


def test_cloud_dict_refuses_options_it_would_shadow():
    with pytest.raises(OpenStackError, match="region_name"):
        _sdk_arguments({"cloud": {"auth": {}}, "region_name": "RegionOne"})


def test_unset_options_are_left_to_openstacksdk():
    assert _sdk_arguments({"cloud": "lab", "interface": "public", "validate_certs": None}) == {
        "cloud": "lab", "interface": "public"}
