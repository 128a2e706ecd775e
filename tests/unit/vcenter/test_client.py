"""The vCenter client refuses what cannot be a connection before it connects."""

import pytest

from ansible_collections.nova_vsphere.mixed_cloud.plugins.module_utils._vcenter.client import VCenterClient, VCenterError

PARAMS = {"hostname": "vcenter.invalid", "username": "administrator@vsphere.local", "password": "secret"}


@pytest.mark.parametrize("port", [0, -1, 65536, 99999])
def test_a_port_out_of_range_is_refused_before_connecting(port):
    with pytest.raises(VCenterError) as error:
        VCenterClient(dict(PARAMS, port=port))
    assert str(error.value) == (
        "vCenter port %d is out of range: set port (VMWARE_PORT) to a TCP port from 1 to 65535." % port)


def test_the_message_names_the_setting_the_caller_gave_the_port_in():
    with pytest.raises(VCenterError) as error:
        VCenterClient(dict(PARAMS, port=0, hints={"port": "host_port"}))
    assert str(error.value) == "vCenter port 0 is out of range: set host_port to a TCP port from 1 to 65535."
