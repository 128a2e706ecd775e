package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"strings"
	"testing"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// guestView is the disk's bytes as its guest sees them, through its deltas.
func guestView(t *testing.T, vm *object.VirtualMachine) []byte {
	t.Helper()
	d := disksOf(t, vm)[0]
	r, err := openDisk(d, d.Flat())
	must(t, err)
	defer r.Close()
	b, err := io.ReadAll(io.NewSectionReader(r, 0, r.size))
	must(t, err)
	return b
}

// diskBacking is the first disk's backing in a VM's or a snapshot's config.
func diskBacking(ctx context.Context, t *testing.T, vm *object.VirtualMachine, ref types.ManagedObjectReference) *types.VirtualDiskFlatVer2BackingInfo {
	t.Helper()
	var config *types.VirtualMachineConfigInfo
	if ref.Type == "VirtualMachine" {
		config = vmConfig(ctx, t, vm)
	} else {
		var snapshot mo.VirtualMachineSnapshot
		must(t, vm.Properties(ctx, ref, []string{"config"}, &snapshot))
		config = &snapshot.Config
	}
	disks := object.VirtualDeviceList(config.Hardware.Device).SelectByType((*types.VirtualDisk)(nil))
	return disks[0].(*types.VirtualDisk).Backing.(*types.VirtualDiskFlatVer2BackingInfo)
}

func chain(b *types.VirtualDiskFlatVer2BackingInfo) []string {
	var names []string
	for ; b != nil; b = b.Parent {
		names = append(names, b.FileName[strings.LastIndex(b.FileName, "/")+1:])
	}
	return names
}

func runTask(ctx context.Context, t *testing.T, task *object.Task, err error) {
	t.Helper()
	must(t, err)
	must(t, task.Wait(ctx))
}

func TestSnapshotsMakeDeltasThatConsolidate(t *testing.T) {
	withExportFormat(t, formatRaw)
	ctx, client, base := diskLab(t)
	vm := newDiskVM(ctx, t, client, "snappy", 2)
	d := disksOf(t, vm)[0]
	want := make([]byte, 2*mib)
	write := func(offset int, data []byte) {
		t.Helper()
		if got := writeDisk(t, base, vm, d.Key, int64(offset), data); got != http.StatusNoContent {
			t.Fatalf("write: %d", got)
		}
		copy(want[offset:], data)
	}
	a, b, c := bytes.Repeat([]byte("A"), 100000), bytes.Repeat([]byte("B"), 1000), bytes.Repeat([]byte("C"), 5000)
	write(0, a)
	atSnapshot1 := append([]byte(nil), want...)

	task, err := vm.CreateSnapshot(ctx, "s1", "", false, false)
	s1, err := taskResult(ctx, task, err)
	must(t, err)
	if got := chain(diskBacking(ctx, t, vm, vm.Reference())); strings.Join(got, " ") != "snappy-000001.vmdk snappy.vmdk" {
		t.Fatalf("the VM's disk after a snapshot: %v", got)
	}
	if got := chain(diskBacking(ctx, t, vm, s1)); strings.Join(got, " ") != "snappy.vmdk" {
		t.Errorf("the snapshot's disk: %v", got)
	}
	delta := disksOf(t, vm)[0].Deltas[0]
	if descriptor, _ := os.ReadFile(strings.TrimSuffix(delta, "-delta.vmdk") + ".vmdk"); !bytes.Contains(descriptor, []byte(`parentFileNameHint="snappy.vmdk"`)) {
		t.Errorf("delta descriptor:\n%s", descriptor)
	}

	write(70000, b) // a grain the snapshot's base holds, partly rewritten
	if flat, _ := os.ReadFile(d.Flat()); !bytes.Equal(flat, atSnapshot1) {
		t.Errorf("the snapshot's base changed")
	}
	if !bytes.Equal(guestView(t, vm), want) {
		t.Errorf("the guest does not see its writes over the snapshot")
	}
	// An export reads through the deltas.
	ref, err := exportVm(ctx, client, vm)
	must(t, err)
	u := strings.Replace(readyLease(ctx, t, client, ref).Info.DeviceUrl[0].Url, "https://*", base, 1)
	if status, got := get(t, u, "bytes=65000-"); status != http.StatusPartialContent || !bytes.Equal(got, want[65000:]) {
		t.Errorf("export through the delta: %d, %d bytes", status, len(got))
	}
	_, err = methods.HttpNfcLeaseComplete(ctx, client, &types.HttpNfcLeaseComplete{This: ref})
	must(t, err)

	task, err = vm.CreateSnapshot(ctx, "s2", "", false, false)
	s2, err := taskResult(ctx, task, err)
	must(t, err)
	atSnapshot2 := append([]byte(nil), want...)
	write(1500000, c)
	task, err = vm.RevertToCurrentSnapshot(ctx, true)
	runTask(ctx, t, task, err)
	if !bytes.Equal(guestView(t, vm), atSnapshot2) {
		t.Errorf("reverting to s2 kept the writes after it")
	}
	want = append([]byte(nil), atSnapshot2...)
	write(1500000, c)

	// Removing s1 merges its delta into the base; s2 and the VM follow.
	task, err = vm.RemoveSnapshot(ctx, "s1", false, nil)
	runTask(ctx, t, task, err)
	var removal mo.Task // the VM's task, as in vCenter (0.24: the snapshot's, which pyVmomi cannot read)
	must(t, task.Properties(ctx, task.Reference(), []string{"info"}, &removal))
	if removal.Info.Entity == nil || *removal.Info.Entity != vm.Reference() || removal.Info.EntityName != "snappy" {
		t.Errorf("RemoveSnapshot_Task's entity: %v %q", removal.Info.Entity, removal.Info.EntityName)
	}
	if got := chain(diskBacking(ctx, t, vm, vm.Reference())); strings.Join(got, " ") != "snappy-000002.vmdk snappy.vmdk" {
		t.Errorf("the VM's disk after removing s1: %v", got)
	}
	if got := chain(diskBacking(ctx, t, vm, s2)); strings.Join(got, " ") != "snappy.vmdk" {
		t.Errorf("s2's disk after removing s1: %v", got)
	}
	if _, err := os.Stat(delta); !os.IsNotExist(err) {
		t.Errorf("s1's delta is still there: %v", err)
	}
	if flat, _ := os.ReadFile(d.Flat()); !bytes.Equal(flat, atSnapshot2) {
		t.Errorf("the base does not hold s2's state")
	}
	if !bytes.Equal(guestView(t, vm), want) {
		t.Errorf("the guest's disk changed with the consolidation")
	}

	task, err = vm.RemoveAllSnapshot(ctx, nil)
	runTask(ctx, t, task, err)
	if got := chain(diskBacking(ctx, t, vm, vm.Reference())); strings.Join(got, " ") != "snappy.vmdk" {
		t.Errorf("the VM's disk without snapshots: %v", got)
	}
	if flat, _ := os.ReadFile(d.Flat()); !bytes.Equal(flat, want) {
		t.Errorf("the base does not hold every write")
	}
	if len(disksOf(t, vm)[0].Deltas) != 0 || len(snapshotDeltas.of) != 0 {
		t.Errorf("deltas left: %v, records %d", disksOf(t, vm)[0].Deltas, len(snapshotDeltas.of))
	}
}

func TestCloneCopiesTheDisksAndLeavesTheSource(t *testing.T) {
	ctx, client, base := diskLab(t)
	vm := newDiskVM(ctx, t, client, "original", 1)
	d := disksOf(t, vm)[0]
	if got := writeDisk(t, base, vm, d.Key, 1000, []byte("before the snapshot")); got != http.StatusNoContent {
		t.Fatalf("write: %d", got)
	}
	task, err := vm.CreateSnapshot(ctx, "s", "", false, false)
	runTask(ctx, t, task, err)
	if got := writeDisk(t, base, vm, d.Key, 500000, []byte("after it")); got != http.StatusNoContent {
		t.Fatalf("write: %d", got)
	}
	before := chain(diskBacking(ctx, t, vm, vm.Reference()))
	want := guestView(t, vm)

	cr := named("ClusterComputeResource", "Cluster-A").(*simulator.ClusterComputeResource)
	pool := *cr.ResourcePool
	task, err = vm.Clone(ctx, object.NewFolder(client, datacenterOf(cr.Self).VmFolder), "copy",
		types.VirtualMachineCloneSpec{Location: types.VirtualMachineRelocateSpec{Pool: &pool}})
	ref, err := taskResult(ctx, task, err)
	must(t, err)
	clone := object.NewVirtualMachine(client, ref)

	if got := chain(diskBacking(ctx, t, vm, vm.Reference())); strings.Join(got, " ") != strings.Join(before, " ") {
		t.Errorf("the source's disk after the clone: %v, was %v", got, before)
	}
	if got := chain(diskBacking(ctx, t, clone, clone.Reference())); strings.Join(got, " ") != "copy.vmdk" {
		t.Errorf("the clone's disk: %v", got)
	}
	if !bytes.Equal(guestView(t, clone), want) {
		t.Errorf("the clone's disk does not hold the source's bytes")
	}
	if got := writeDisk(t, base, clone, d.Key, 1000, []byte("the clone's own")); got != http.StatusNoContent {
		t.Fatalf("write: %d", got)
	}
	if !bytes.Equal(guestView(t, vm), want) {
		t.Errorf("a write into the clone changed the source")
	}
}
