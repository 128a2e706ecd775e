import pytest

from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._nova_conf.conf_files import ConfigFileError
from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._libvirt.kvm_host import (
    check_virt_type,
    configured_virt_type,
    parse_capabilities,
    version_string,
)

CAPABILITIES = """
<capabilities>
  <host>
    <cpu><arch>x86_64</arch><model>Skylake-Client-IBRS</model><vendor>Intel</vendor>
      <topology sockets='1' dies='1' cores='4' threads='2'/></cpu>
  </host>
  <guest><os_type>hvm</os_type>
    <arch name='i686'><domain type='qemu'/><domain type='kvm'/></arch></guest>
  <guest><os_type>hvm</os_type>
    <arch name='x86_64'><domain type='qemu'/>{extra}</arch></guest>
  <guest><os_type>hvm</os_type>
    <arch name='aarch64'><domain type='qemu'/></arch></guest>
</capabilities>
"""


def test_domain_types_are_those_of_the_hosts_own_arch():
    with_kvm = parse_capabilities(CAPABILITIES.format(extra="<domain type='kvm'/>"))
    assert with_kvm["domain_types"] == ["kvm", "qemu"]
    assert with_kvm["cpu_model"] == "Skylake-Client-IBRS"
    assert with_kvm["cpu_topology"]["threads"] == "2"
    # kvm offered only for i686 must not make an x86_64 host look KVM-capable.
    assert parse_capabilities(CAPABILITIES.format(extra=""))["domain_types"] == ["qemu"]


def test_version_numbers_decode():
    assert version_string(9000000) == "9.0.0"
    assert version_string(7002001) == "7.2.1"
    assert version_string(0) is None


def test_virt_type_last_file_wins_and_default_is_kvm():
    assert configured_virt_type([]) == ("kvm", "nova's default")
    assert configured_virt_type([("nova.conf", "[DEFAULT]\nhost = a\n")]) == ("kvm", "nova's default")
    files = [("nova.conf", "[libvirt]\nvirt_type = qemu\n"), ("nova-compute.conf", "[LIBVIRT]\nvirt_type=kvm\n"),
             ("other.conf", "[vmware]\nvirt_type = lxc\n")]
    # Section names other than DEFAULT are case-insensitive in oslo.config; [vmware] is not [libvirt].
    assert configured_virt_type(files) == ("kvm", "nova-compute.conf")


def test_virt_type_names_the_unreadable_file():
    with pytest.raises(ConfigFileError, match="^nova.conf is not a configuration file oslo.config can read: line 1"):
        configured_virt_type([("nova.conf", "virt_type = kvm\n")])


def test_kvm_without_dev_kvm_is_the_classic_mistake():
    assert check_virt_type("kvm", ["kvm", "qemu"], "kvm1") == (True, "virt_type kvm is offered by libvirt on kvm1")
    assert check_virt_type("qemu", ["kvm", "qemu"], "kvm1")[0]
    ok, message = check_virt_type("kvm", ["qemu"], "kvm1")
    assert not ok
    assert "no usable /dev/kvm" in message and "virt_type = qemu" in message
    ok, message = check_virt_type("qemu", ["test"], "h")
    assert not ok and message.endswith("(test): set virt_type to one of them")
