"""The oslo.config INI editor: exact preservation, idempotence and oslo's reading rules.

The property tests build INI text from the model in samples/ini.py (comments, blank lines,
headers, assignments with continuation lines, CRLF or LF, with or without a final newline),
so they know independently of the editor which lines hold managed keys and what oslo.config
reads from every assignment.
"""

import re

import pytest
from hypothesis import given, settings, strategies as st

from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._nova_conf.ini import IniError, edit, read, render_value
from samples.ini import MANAGED, documents, one_line


def managed(element):
    return element[0] == "assign" and element[1] == "vmware" and element[2] in MANAGED


def expected_values(elements, wanted_group, skip_managed=False):
    values = {}
    for element in elements:
        if element[0] == "assign" and element[1] == wanted_group and not (skip_managed and managed(element)):
            values.setdefault(element[2], []).append(element[4])
    return values


values_to_set = st.dictionaries(st.sampled_from(MANAGED), one_line, max_size=3)


@settings(max_examples=400)
@given(documents())
def test_reads_what_oslo_config_reads(document):
    text, elements = document
    for name in {element[1] for element in elements if element[1]}:
        assert read(text, name) == expected_values(elements, name)


@settings(max_examples=400)
@given(documents())
def test_removing_managed_keys_leaves_every_other_byte(document):
    text, elements = document
    assert edit(text, "vmware", dict.fromkeys(MANAGED)) == "".join(e[3] for e in elements if not managed(e))


@settings(max_examples=600)
@given(documents(), values_to_set)
def test_setting_keys_changes_only_them_and_twice_is_once(document, values):
    text, elements = document
    result = edit(text, "vmware", values)
    assert edit(result, "vmware", values) == result

    vmware = read(result, "vmware")
    for key, value in values.items():
        assert vmware[key] == [value]
    for name in {element[1] for element in elements if element[1]}:
        kept = {key: found for key, found in read(result, name).items() if not (name == "vmware" and key in MANAGED)}
        assert kept == expected_values(elements, name, skip_managed=True)

    # Take the managed keys out again: what is left is the input without them, plus at most
    # a newline after a last line that had none and a new [vmware] header at the end.
    unmanaged = "".join(e[3] for e in elements if not managed(e))
    left = edit(result, "vmware", dict.fromkeys(MANAGED))
    assert left.startswith(unmanaged)
    tail = left[len(unmanaged):]
    had_vmware = any(e[0] == "header" and e[1] == "vmware" for e in elements)
    if not values:
        assert tail == ""
    elif had_vmware:
        assert tail in ("", "\n", "\r\n")
    else:
        assert re.fullmatch(r"(\r?\n){0,2}\[vmware\]\r?\n", tail), repr(tail)


@given(one_line)
def test_any_one_line_value_reads_back_unchanged(value):
    assert read(edit("[vmware]\n", "vmware", {"cluster_name": value}), "vmware") == {"cluster_name": [value]}


def test_values_that_oslo_would_alter_are_quoted():
    assert render_value(" padded ") == '" padded "'
    assert render_value("'quoted'") == "\"'quoted'\""
    assert render_value('"') == '"""'
    assert render_value("a # not a comment") == "a # not a comment"
    with pytest.raises(ValueError):
        render_value("two\nlines")


NOVA_CONF = """\
# Written by hand, then by the installer.\r
[DEFAULT]\r
transport_url = rabbit://nova:s3cret@mq:5672/\r
\r
[vmware]\r
host_ip=10.0.0.5\r
wsdl_location=file:///vmware-sdk/vimService.wsdl #(optional)\r
cluster_name = Cluster-A\r
cluster_name = Cluster-B\r
#cluster_name = Cluster-C\r
  \r
[libvirt]\r
virt_type = kvm"""


def test_edit_keeps_layout_line_endings_and_the_position_nova_reads():
    result = edit(NOVA_CONF, "vmware", {"cluster_name": "Cluster-X", "host_username": "nova", "host_ip": "10.0.0.5"})
    assert result == NOVA_CONF.replace("cluster_name = Cluster-A\r\n", "").replace(
        "cluster_name = Cluster-B\r\n", "cluster_name = Cluster-X\r\nhost_username = nova\r\n")


def test_a_new_section_goes_at_the_end_after_a_blank_line():
    assert edit("[DEFAULT]\ndebug = true", "vmware", {"host_ip": "h"}) == "[DEFAULT]\ndebug = true\n\n[vmware]\nhost_ip = h\n"
    assert edit("", "DEFAULT", {"compute_driver": "x"}) == "[DEFAULT]\ncompute_driver = x\n"


def test_continuation_lines_belong_to_the_value_they_follow():
    text = "[vmware]\ncluster_name = A\n  # indented, so part of the value\nhost_ip = h\n"
    assert read(text, "vmware")["cluster_name"] == ["A\n# indented, so part of the value"]
    assert edit(text, "vmware", {"cluster_name": "B"}) == "[vmware]\ncluster_name = B\nhost_ip = h\n"


def test_section_names_fold_to_lower_case_except_default():
    text = "[VMware]\nhost_ip = a\n[default]\ncompute_driver = x\n"
    assert read(text, "vmware") == {"host_ip": ["a"]}
    assert read(text, "DEFAULT") == {}


@pytest.mark.parametrize("text, reason", [
    ("host_ip = a\n", "line 1: assignment before the first section header"),
    ("[vmware]\n\n  orphan\n", "line 3: continuation line without a value to continue"),
    ("[vmware\n", "line 1: a section header must be [name]"),
    ("[]\n", "line 1: a section header must be [name]"),
    ("[vmware]\njust words\n", "line 2: no '=' or ':' in an assignment"),
    ("[vmware]\n= value\n", "line 2: empty key"),
])
def test_text_oslo_config_rejects_is_refused(text, reason):
    with pytest.raises(IniError, match=re.escape(reason)):
        edit(text, "vmware", {"host_ip": "a"})
