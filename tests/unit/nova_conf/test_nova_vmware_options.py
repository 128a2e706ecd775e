"""Nova's [vmware] option schema and what nova_vmware_conf makes of a config file."""

import pytest
from hypothesis import given, settings as hypothesis_settings, strategies as st

from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._nova_conf.ini import read
from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._nova_conf.vmware_options import (
    DRIVER,
    OPTIONS,
    ConfigError,
    from_text,
    plan,
    settings,
    to_text,
    vcenter_params,
    view,
)
from samples.ini import documents

CONNECTION = {"host_ip": "vc.example.com", "host_username": "nova@vsphere.local", "host_password": "pa$$w0rd;#",
              "cluster_name": "Cluster-A"}

HAND_EDITED = """\
[DEFAULT]
transport_url = rabbit://nova:mq-secret@mq:5672/
compute_driver=libvirt.LibvirtDriver

[VMware]
host_ip = 10.0.0.5
wsdl_location=file:///vmware-sdk/SDK/vsphere-ws/wsdl/vim25/vimService.wsdl #(optional)
insecure = True
vnc_port = 5900

[database]
connection = mysql+pymysql://nova:db-secret@db/nova
"""


def test_nova_option_list_is_complete():
    # nova 34's nova/conf/vmware.py, ALL_VMWARE_OPTS; the integration test checks it against nova itself.
    assert len(OPTIONS) == 25
    assert [name for name, option in OPTIONS.items() if option.secret] == ["host_password"]


@given(st.text(st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",))).filter(lambda v: "\\$" not in v))
def test_any_string_survives_oslo_config_substitution(value):
    assert from_text("host_password", to_text("host_password", value)) == value


@pytest.mark.parametrize("name, value, text", [
    ("insecure", True, "true"),
    ("host_port", 443, "443"),
    ("task_poll_interval", 0.5, "0.5"),
    ("datastore_regex", "^nfs-a$", "^nfs-a$$"),
])
def test_values_are_written_in_oslo_config_syntax(name, value, text):
    assert to_text(name, value) == text
    assert from_text(name, text) == value


@pytest.mark.parametrize("text, value", [("Yes", True), ("0", False), ("off", False), ("TRUE", True)])
def test_booleans_read_as_oslo_config_reads_them(text, value):
    assert from_text("use_linked_clone", text) is value


@pytest.mark.parametrize("name, value, message", [
    ("host_port", 70000, "host_port 70000 is above nova's maximum 65535."),
    ("connection_pool_size", 9, "connection_pool_size 9 is below nova's minimum 10."),
    ("api_retry_count", -1, "api_retry_count -1 is below nova's minimum 0."),
    ("datastore_regex", "nfs-(a", "datastore_regex 'nfs-(a' is not a valid Python regular expression"),
    ("host_ip", "vc..example", "host_ip 'vc..example' is not an IP address or a valid host name."),
    ("host_ip", "10.0.0", "host_ip '10.0.0' is not an IP address or a valid host name."),
    ("serial_port_proxy_uri", "http://proxy:13370", "is not a telnet:// or telnets:// URI with a host"),
    ("host_password", "line\nbreak", "host_password cannot hold a line break"),
    ("host_password", "a\\$b", "host_password cannot hold a backslash before a dollar sign"),
])
def test_values_nova_would_reject_are_refused(name, value, message):
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace("$", r"\$").replace(".", r"\.")):
        to_text(name, value)


def test_secrets_never_appear_in_errors():
    with pytest.raises(ConfigError) as error:
        from_text("host_password", "pa$xyz9")
    assert "xyz9" not in str(error.value)
    assert "refers to another option" in str(error.value)


def test_an_inline_comment_is_explained():
    with pytest.raises(ConfigError, match=r"oslo.config has no inline comments"):
        from_text("host_ip", "10.0.0.5 # vCenter")


def test_writes_driver_and_options_and_keeps_everything_else():
    new, values, warnings = plan(HAND_EDITED, dict(CONNECTION, insecure=True))
    assert new == HAND_EDITED.replace("compute_driver=libvirt.LibvirtDriver", "compute_driver = vmwareapi.VMwareVCDriver").replace(
        "host_ip = 10.0.0.5", "host_ip = vc.example.com").replace(
        "vnc_port = 5900\n", "vnc_port = 5900\nhost_username = nova@vsphere.local\nhost_password = pa$$$$w0rd;#\n"
                             "cluster_name = Cluster-A\n")
    assert values == dict(CONNECTION, insecure=True, vnc_port=5900)
    assert warnings == ["[vmware] wsdl_location is still in the file; wsdl_location was removed from nova in 2017: "
                        "oslo.vmware always loads the vSphere WSDL from https://<host_ip>:<host_port>/sdk/vimService.wsdl, "
                        "and nova ignores the setting. Delete that line."]
    # `insecure = True` already says true: the operator's line stays as written.
    assert plan(new, dict(CONNECTION, insecure=True))[0] == new


def test_absent_removes_only_what_the_module_manages():
    new = plan(HAND_EDITED, dict(CONNECTION))[0]
    removed, values = plan(new, {}, present=False)[:2]
    assert removed == (HAND_EDITED.replace("compute_driver=libvirt.LibvirtDriver\n", "").replace("host_ip = 10.0.0.5\n", "")
                       .replace("insecure = True\n", "").replace("vnc_port = 5900\n", ""))
    assert values == {}
    # Another driver's compute_driver is not the module's to remove.
    assert plan(HAND_EDITED, {}, present=False)[0].count("compute_driver=libvirt.LibvirtDriver") == 1


def test_insecure_contradicting_ca_file_is_refused_even_when_it_comes_from_the_file():
    with pytest.raises(ConfigError, match="insecure: true has no effect when ca_file is set"):
        plan(HAND_EDITED, dict(CONNECTION, ca_file="/etc/nova/vcenter-ca.pem"))
    assert plan(HAND_EDITED, dict(CONNECTION, ca_file="/etc/nova/vcenter-ca.pem", insecure=False))[1]["insecure"] is False


def test_storage_policy_settings_are_checked():
    with pytest.raises(ConfigError, match="pbm_enabled: true needs pbm_default_policy"):
        plan("", dict(CONNECTION, pbm_enabled=True))
    warnings = plan("", dict(CONNECTION, pbm_enabled=True, pbm_default_policy="gold", datastore_regex="nfs"))[2]
    assert warnings == ["datastore_regex is ignored while pbm_enabled is true: nova places disks by storage policy."]


def test_a_file_missing_required_settings_is_pointed_out():
    warnings = plan("", {"cluster_name": "Cluster-A"})[2]
    assert warnings == ["nova's VMware driver does not start without host_ip, host_username, host_password, cluster_name, "
                        "and this file does not set host_ip, host_username, host_password "
                        "(fine only if another file of nova's configuration does)."]


def test_repeated_options_the_task_does_not_set_are_pointed_out():
    values, warnings = plan("[vmware]\ncluster_name = A\ncluster_name = B\n", {"host_ip": "vc"})[1:]
    assert values["cluster_name"] == "B"
    assert "[vmware] cluster_name is set 2 times; nova uses only the last one." in warnings


def test_invalid_values_already_in_the_file_are_named():
    with pytest.raises(ConfigError, match=r"\[vmware\] vnc_port 'none' is not an integer\."):
        plan("[vmware]\nvnc_port = none\n", CONNECTION)


def test_diff_view_shows_only_managed_settings_with_the_password_masked():
    new = plan(HAND_EDITED, dict(CONNECTION))[0]
    before, after = view(HAND_EDITED), view(new, secret_changed=True)
    assert "mq-secret" not in before + after and "db-secret" not in before + after
    assert "pa$" not in after
    assert after.splitlines() == [
        "[DEFAULT]", "compute_driver = vmwareapi.VMwareVCDriver", "[vmware]", "host_ip = vc.example.com",
        "wsdl_location = file:///vmware-sdk/SDK/vsphere-ws/wsdl/vim25/vimService.wsdl #(optional)", "insecure = True",
        "vnc_port = 5900", "host_username = nova@vsphere.local", "host_password = ******** (changed)", "cluster_name = Cluster-A"]


def test_validation_connects_as_nova_will():
    values = settings(plan("", dict(CONNECTION, ca_file="/ca.pem"))[0])
    params = vcenter_params(values)
    assert params.pop("hints")["login"] == "check host_username and host_password"
    assert params == {
        "hostname": "vc.example.com", "port": 443, "username": "nova@vsphere.local", "password": "pa$$w0rd;#",
        "validate_certs": True, "ca_file": "/ca.pem"}
    assert vcenter_params(dict(values, ca_file=None, insecure=True))["validate_certs"] is False
    with pytest.raises(ConfigError, match="it does not set host_password"):
        vcenter_params(dict(values, host_password=None))


text_value = st.text(st.characters(blacklist_characters="\r\n", blacklist_categories=("Cs",)), max_size=10).filter(
    lambda value: "\\$" not in value)
module_inputs = st.fixed_dictionaries(
    {"host_ip": st.sampled_from(["vc.example.com", "10.0.0.5", "fe80::1"]), "cluster_name": text_value, "host_password": text_value},
    optional={"host_port": st.integers(0, 65535), "insecure": st.booleans(), "use_linked_clone": st.booleans(),
              "task_poll_interval": st.floats(0, 10), "datastore_regex": st.sampled_from(["^nfs-", "ds$", "(a|b)"])})


@hypothesis_settings(max_examples=300)
@given(documents(), module_inputs)
def test_the_whole_edit_is_idempotent_keeps_other_lines_and_gives_nova_the_values(document, inputs):
    text, elements = document
    new, values = plan(text, inputs)[:2]
    assert plan(new, inputs)[0] == new
    assert {name: values[name] for name in inputs} == inputs
    assert read(new, "DEFAULT")["compute_driver"] == [DRIVER]
    position = 0
    for kind, group, key, chunk, _value in elements:
        if not (kind == "assign" and (group == "vmware" and key in OPTIONS or group == "DEFAULT" and key == "compute_driver")):
            position = new.index(chunk, position) + len(chunk)
