package main

import (
	"fmt"

	"github.com/google/uuid"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
)

// setInstanceUUID gives the simulated vCenter its own about.instanceUuid.
// Every 0.24 simulator announces the same one, and numbers its first cluster
// the same way, so two simulators give two clusters the same nova node name
// (<cluster moref>.<instanceUuid>): a second simulator that proxies of the
// same cloud drive (a test's private one) needs another. The lab's own keeps
// the fixed default, so node names survive a restart of the simulator.
func setInstanceUUID(value string) error {
	if value == "" {
		return nil
	}
	parsed, err := uuid.Parse(value)
	if err != nil {
		return fmt.Errorf("--instance-uuid %q: %w", value, err)
	}
	si := simulator.Map.Get(vim25.ServiceInstance).(*simulator.ServiceInstance)
	si.Content.About.InstanceUuid = parsed.String()
	return nil
}
