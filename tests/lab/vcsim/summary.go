package main

import (
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// refreshSummaries recomputes the summary of every cluster and standalone
// compute resource from its hosts. The simulator only accumulates totals as
// hosts are added (counting one core per host, effectiveMemory in bytes)
// and never revisits them, e.g. when a host enters maintenance mode.
func refreshSummaries() {
	for _, e := range simulator.Map.All("ClusterComputeResource") {
		cluster := e.(*simulator.ClusterComputeResource)
		simulator.Map.WithLock(cluster, func() {
			summary := *cluster.Summary.(*types.ClusterComputeResourceSummary)
			summary.ComputeResourceSummary, summary.UsageSummary = hostTotals(cluster.Host)
			setSummary(cluster, &summary)
		})
	}
	for _, e := range simulator.Map.All("ComputeResource") {
		cr := e.(*mo.ComputeResource)
		simulator.Map.WithLock(cr, func() {
			summary, _ := hostTotals(cr.Host)
			setSummary(cr, &summary)
		})
	}
}

// setSummary goes through Map.Update so that property collectors waiting
// for updates (WaitForUpdatesEx) see the change.
func setSummary(obj mo.Reference, summary types.BaseComputeResourceSummary) {
	simulator.Map.Update(obj, []types.PropertyChange{{Name: "summary", Val: summary}})
}

// hostTotals follows vCenter's definitions: totalCpu is MHz over all cores,
// totalMemory is bytes, effective figures (effectiveMemory in MB) count only
// hosts that are connected and not in maintenance mode.
func hostTotals(refs []types.ManagedObjectReference) (types.ComputeResourceSummary, *types.ClusterUsageSummary) {
	summary := types.ComputeResourceSummary{OverallStatus: types.ManagedEntityStatusGreen}
	usage := &types.ClusterUsageSummary{}

	for _, ref := range refs {
		// A destroyed host stays in its parent's list in 0.24.
		host, ok := simulator.Map.Get(ref).(*simulator.HostSystem)
		if !ok {
			continue
		}
		hw := host.Summary.Hardware
		cpu := hw.CpuMhz * int32(hw.NumCpuCores)

		summary.NumHosts++
		summary.TotalCpu += cpu
		summary.TotalMemory += hw.MemorySize
		summary.NumCpuCores += hw.NumCpuCores
		summary.NumCpuThreads += hw.NumCpuThreads
		usage.TotalVmCount += int32(len(host.Vm))
		usage.PoweredOffVmCount += poweredOff(host.Vm)

		if !effective(host) {
			continue
		}
		summary.NumEffectiveHosts++
		summary.EffectiveCpu += cpu
		summary.EffectiveMemory += hw.MemorySize / mib
		// Without real VMs to sum, host usage stands in for VM demand.
		usage.CpuDemandMhz += host.Summary.QuickStats.OverallCpuUsage
		usage.MemDemandMB += host.Summary.QuickStats.OverallMemoryUsage
	}

	usage.TotalCpuCapacityMhz = summary.EffectiveCpu
	usage.TotalMemCapacityMB = int32(summary.EffectiveMemory)
	return summary, usage
}

func effective(host *simulator.HostSystem) bool {
	return host.Runtime.ConnectionState == types.HostSystemConnectionStateConnected &&
		!host.Runtime.InMaintenanceMode
}

func poweredOff(vms []types.ManagedObjectReference) int32 {
	var n int32
	for _, ref := range vms {
		if vm, ok := simulator.Map.Get(ref).(*simulator.VirtualMachine); ok &&
			vm.Runtime.PowerState == types.VirtualMachinePowerStatePoweredOff {
			n++
		}
	}
	return n
}
