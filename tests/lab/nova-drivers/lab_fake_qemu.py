"""A lab-only nova virt driver (lab up copies it into the venv's nova/virt): nova's fake
driver reporting itself as libvirt's QEMU.

The lab's computes stand for KVM hosts. A libvirt compute reports hypervisor type
``QEMU`` and supports the ``qemu`` hv_type (for both QEMU and KVM), which is what
ImagePropertiesFilter matches an image's ``hypervisor_type=qemu`` against; nova's fake
driver reports ``fake`` and would reject every such image. Only those two reports change.
"""

from nova.objects import fields
from nova.virt import fake


class QemuFakeDriver(fake.FakeDriverWithoutFakeNodes):
    def __init__(self, virtapi, read_only=False):
        super().__init__(virtapi, read_only)
        self.host_status_base["hypervisor_type"] = "QEMU"
        self.host_status_base["supported_instances"] = [
            (fields.Architecture.X86_64, fields.HVType.QEMU, fields.VMMode.HVM),
            (fields.Architecture.X86_64, fields.HVType.KVM, fields.VMMode.HVM),
        ]
