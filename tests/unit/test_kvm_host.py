from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._kvm_host import (
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
