# Copyright: (c) 2026, nova_vsphere.mixed_cloud contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)
"""The source VM of a migration as the runner (``_migration/cold.py``) sees it: reads, power, leases, deletion.

Each call goes through the session's ``VCenterClient``; the VM is held by its reference only,
and every read is a fresh PropertyCollector call, so that what the runner checks (the stopped
source's fingerprint) is vCenter's state now and not a cached one.
"""

from __future__ import annotations

import time

from .export_lease import ExportLease
from .migration_reads import fingerprint_facts, read_source
from .writes import destroy_vm, set_vm_power


class VCenterSource:
    def __init__(self, client, vm, name, clock=time.monotonic, sleep=time.sleep):
        self.client, self.vm, self.name, self.clock, self.sleep = client, vm, name, clock, sleep

    def read(self):
        return read_source(self.client, self.vm)

    def fingerprint_facts(self):
        return fingerprint_facts(self.read())

    def power_off(self, timeout):
        """Power the VM off unless it is off (nova's stop, or a guest shut down, may have done it)."""
        if self.read()["power_state"] != "poweredOff":
            set_vm_power(self.client, self.vm, self.name, on=False, timeout=timeout)

    def power_on(self, timeout):
        if self.read()["power_state"] != "poweredOn":
            set_vm_power(self.client, self.vm, self.name, on=True, timeout=timeout)

    def destroy(self, timeout):
        destroy_vm(self.client, self.vm, self.name, timeout=timeout)

    def open_lease(self, ready_timeout):
        return ExportLease.open(self.client, self.vm, "VM %s" % self.name, ready_timeout=ready_timeout,
                                clock=self.clock, sleep=self.sleep)
