"""The modes the file helper accepts for a file with secrets, resolved as chmod resolves them."""

import pytest
from ansible.module_utils.basic import AnsibleModule

from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._common.files import FileError, resolve_mode


@pytest.mark.parametrize("mode, current, bits", [
    ("0640", 0o644, 0o640),
    (0o600, 0o644, 0o600),
    ("640", 0o600, 0o640),
    ("0o640", 0o600, 0o640),
    ("u=rw,g=r,o=", 0o777, 0o640),
    ("u=rw,g=r,o=r", 0o600, 0o644),
    ("g+r", 0o600, 0o640),
    ("o-rwx", 0o644, 0o640),
    ("a-x", 0o755, 0o644),
])
def test_octal_and_symbolic_modes_resolve_against_the_current_mode(mode, current, bits):
    assert resolve_mode(AnsibleModule, mode, current)[0] == bits


@pytest.mark.parametrize("mode, message", [
    ("77777", "mode 77777 is not the mode of a file"),
    (0o10640, "mode 10640 is not the mode of a file"),
    ("-1", "mode -1 is not the mode of a file"),
    ("4640", "mode 4640 sets setuid, setgid or sticky"),
    ("u+s", "mode u+s (4600) sets setuid, setgid or sticky"),
    ("o+t", "mode o+t (1600) sets setuid, setgid or sticky"),
    ("rw-r-----", "mode 'rw-r-----' is neither octal"),
    ("", "mode '' is neither octal"),
])
def test_what_is_no_mode_of_a_configuration_file_is_refused(mode, message):
    with pytest.raises(FileError) as raised:
        resolve_mode(AnsibleModule, mode, 0o600)
    assert str(raised.value).startswith(message)
