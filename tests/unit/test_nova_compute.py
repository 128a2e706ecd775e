from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._nova_compute import (
    hypervisor_kind,
    join_hypervisors,
    services_without_hypervisor,
)

SERVICES = [
    {"id": "s1", "host": "proxy-a", "state": "up", "status": "enabled", "forced_down": False, "zone": "vmware"},
    {"id": "s2", "host": "kvm-1", "state": "down", "status": "disabled", "forced_down": True,
     "disabled_reason": "evacuating", "zone": "nova"},
    {"id": "s3", "host": "proxy-b", "state": "up", "status": "enabled", "forced_down": False, "zone": "vmware"},
]
HYPERVISORS = [
    {"id": "h2", "hypervisor_hostname": "kvm-1.lab", "hypervisor_type": "QEMU", "service": {"host": "kvm-1"},
     "vcpus": 8, "memory_mb": 32768},
    {"id": "h1", "hypervisor_hostname": "domain-c7.uuid", "hypervisor_type": "VMware vCenter Server",
     "service": {"host": "proxy-a"}, "vcpus": 96, "memory_mb": 294912},
]


def test_rows_carry_their_service_state_and_kind():
    rows = join_hypervisors(HYPERVISORS, SERVICES)
    assert [row["host"] for row in rows] == ["kvm-1", "proxy-a"]
    assert rows[0]["kind"] == "libvirt"
    assert rows[0]["service"]["forced_down"] is True
    assert rows[0]["service"]["disabled_reason"] == "evacuating"
    assert rows[1]["kind"] == "vsphere"
    assert rows[1]["memory_mb"] == 294912


def test_a_proxy_whose_hypervisor_never_registered_is_reported():
    assert services_without_hypervisor(HYPERVISORS, SERVICES) == ["proxy-b"]


def test_unknown_types_keep_their_name():
    assert hypervisor_kind("fake") == "fake"
    assert hypervisor_kind(None) == "unknown"
