package main

import (
	"bytes"
	"context"
	"crypto/sha256"
	"net/http"
	"os"
	"testing"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"
)

func queryChanges(ctx context.Context, client *vim25.Client, vm *object.VirtualMachine, snapshot *types.ManagedObjectReference,
	key int32, start int64, changeID string) (types.DiskChangeInfo, error) {
	res, err := methods.QueryChangedDiskAreas(ctx, client, &types.QueryChangedDiskAreas{
		This: vm.Reference(), Snapshot: snapshot, DeviceKey: key, StartOffset: start, ChangeId: changeID})
	if err != nil {
		return types.DiskChangeInfo{}, err
	}
	return res.Returnval, nil
}

// changedAreas pages QueryChangedDiskAreas to the end of the disk, empty
// windows included, and returns the areas and the number of windows.
func changedAreas(ctx context.Context, t *testing.T, client *vim25.Client, vm *object.VirtualMachine,
	snapshot *types.ManagedObjectReference, key int32, capacity int64, changeID string) ([]types.DiskChangeExtent, []int) {
	t.Helper()
	var areas []types.DiskChangeExtent
	var perWindow []int
	for start := int64(0); start < capacity; {
		info, err := queryChanges(ctx, client, vm, snapshot, key, start, changeID)
		must(t, err)
		if info.StartOffset != start || info.Length <= 0 {
			t.Fatalf("window at %d: %+v", start, info)
		}
		areas = append(areas, info.ChangedArea...)
		perWindow = append(perWindow, len(info.ChangedArea))
		start += info.Length
	}
	return areas, perWindow
}

func copyAreas(dst, src []byte, areas []types.DiskChangeExtent) {
	for _, a := range areas {
		copy(dst[a.Start:a.Start+a.Length], src[a.Start:a.Start+a.Length])
	}
}

func snapshotChangeID(ctx context.Context, t *testing.T, vm *object.VirtualMachine, snapshot types.ManagedObjectReference) string {
	t.Helper()
	id := diskBacking(ctx, t, vm, snapshot).ChangeId
	if id == "" {
		t.Fatalf("snapshot %s: no changeId", snapshot)
	}
	return id
}

// TestWarmSyncWithChangedBlockTracking runs warm mode's sequence against the
// simulator: a full copy of a snapshot while the VM runs, an incremental
// sync whose only change lies past empty windows, a final delta after
// power-off; the copy ends equal to the disk.
func TestWarmSyncWithChangedBlockTracking(t *testing.T) {
	saved := cbtWindow
	cbtWindow = mib
	t.Cleanup(func() { cbtWindow = saved })
	ctx, client, base := diskLab(t)
	vm := newDiskVM(ctx, t, client, "warm", 4)
	d := disksOf(t, vm)[0]
	capacity := 4 * mib
	write := func(offset int64, data []byte) {
		t.Helper()
		if got := writeDisk(t, base, vm, d.Key, offset, data); got != http.StatusNoContent {
			t.Fatalf("write: %d", got)
		}
	}
	write(0, bytes.Repeat([]byte("before tracking "), 6000)) // 96000 bytes the full copy must find

	if _, err := queryChanges(ctx, client, vm, nil, d.Key, 0, "*"); faultOf(err) == nil {
		t.Errorf("without tracking: %v", err)
	}
	task, err := vm.Reconfigure(ctx, types.VirtualMachineConfigSpec{ChangeTrackingEnabled: types.NewBool(true)})
	runTask(ctx, t, task, err)
	must(t, startVM(ctx, vm))
	if _, err := queryChanges(ctx, client, vm, nil, d.Key, 0, "*"); faultOf(err) == nil {
		t.Errorf("without a snapshot while running: %v", err)
	}
	write(2*mib+100, []byte("tracked write"))

	// Full copy of the first snapshot while the VM runs.
	task, err = vm.CreateSnapshot(ctx, "sync-1", "", false, false)
	s1, err := taskResult(ctx, task, err)
	must(t, err)
	change1 := snapshotChangeID(ctx, t, vm, s1)
	target := make([]byte, capacity)
	frozen, err := os.ReadFile(d.Flat()) // one level of snapshots: the base is sync-1's state
	must(t, err)
	areas, _ := changedAreas(ctx, t, client, vm, &s1, d.Key, capacity, "*")
	copyAreas(target, frozen, areas)
	if !bytes.Equal(target, frozen) {
		t.Fatalf("the \"*\" areas do not hold all of the snapshot's data: %+v", areas)
	}
	write(3*mib+512*1024, []byte("written during the full copy")) // into the delta

	// Incremental sync: record the change ID, remove the old snapshot, take the new one.
	task, err = vm.RemoveSnapshot(ctx, "sync-1", false, nil)
	runTask(ctx, t, task, err)
	task, err = vm.CreateSnapshot(ctx, "sync-2", "", false, false)
	s2, err := taskResult(ctx, task, err)
	must(t, err)
	frozen, err = os.ReadFile(d.Flat())
	must(t, err)
	areas, perWindow := changedAreas(ctx, t, client, vm, &s2, d.Key, capacity, change1)
	if len(perWindow) != 4 || perWindow[0] != 0 || perWindow[1] != 0 || perWindow[2] != 0 || perWindow[3] != 1 {
		t.Errorf("areas per 1 MiB window: %v (the change is in the last one only)", perWindow)
	}
	copyAreas(target, frozen, areas)
	if !bytes.Equal(target, frozen) {
		t.Fatalf("after the incremental sync the copy differs from sync-2")
	}
	if _, err := queryChanges(ctx, client, vm, &s2, d.Key, capacity, change1); faultOf(err) == nil {
		t.Errorf("startOffset at the end: %v", err)
	}
	if _, err := queryChanges(ctx, client, vm, &s2, d.Key, 0, "52 00/1"); faultOf(err) == nil {
		t.Errorf("a foreign change ID: %v", err)
	}

	// Final delta after power-off, against the live disk.
	write(100, []byte("last words"))
	change2 := snapshotChangeID(ctx, t, vm, s2)
	off, err := vm.PowerOff(ctx)
	runTask(ctx, t, off, err)
	areas, _ = changedAreas(ctx, t, client, vm, nil, d.Key, capacity, change2)
	live := guestView(t, vm)
	copyAreas(target, live, areas)
	if sha256.Sum256(target) != sha256.Sum256(live) {
		t.Errorf("the copy is not the disk: areas %+v", areas)
	}

	// A revert discards writes: change IDs from before it no longer hold.
	task, err = vm.RevertToCurrentSnapshot(ctx, true)
	runTask(ctx, t, task, err)
	if _, err := queryChanges(ctx, client, vm, nil, d.Key, 0, change2); faultOf(err) == nil {
		t.Errorf("a change ID from before the revert: %v", err)
	}
	if _, err := queryChanges(ctx, client, vm, nil, d.Key, 0, "*"); err != nil {
		t.Errorf("\"*\" after the revert: %v", err)
	}
}
