package main

import (
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"syscall"

	"github.com/google/uuid"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// Changed block tracking, as ESXi keeps it for a VM with
// changeTrackingEnabled (0.24 stores the flag and nothing else):
//
//   - each disk has a change ID, "<disk's tracking UUID>/<sequence>", as
//     ESXi forms them ("52 ab ... cd/7"); every guest write (/lab/vm-disk)
//     advances the sequence and records the 64 KiB grains it touched.
//     CreateSnapshot_Task puts the disk's change ID at that moment in the
//     snapshot's disk backing (backing.changeId, the VM's own too);
//   - VirtualMachine.QueryChangedDiskAreas(snapshot, deviceKey, startOffset,
//     changeId) returns the areas written after changeId up to the snapshot
//     ("*": every area holding data), from startOffset within one window of
//     --cbt-window bytes: DiskChangeInfo.length says how far it looked, and a
//     window with no change is an empty answer mid-disk, as the API allows.
//     A client pages to the end of the disk: startOffset += length;
//   - without a snapshot it answers for the VM's current state, only while
//     the VM is powered off (FileFault otherwise, as ESXi);
//   - a disk without tracking, an unknown change ID, a change ID of another
//     tracking UUID (after a revert, or tracking turned off and on: the
//     client must copy the whole disk again) or an offset past the disk is
//     FileFault or InvalidArgument, as ESXi answers them.
//
// Writes through /folder (a datastore file replaced whole) are not guest
// writes and are not tracked.

// cbtWindow is how many bytes of a disk one QueryChangedDiskAreas covers (--cbt-window).
var cbtWindow int64 = 512 << 20

type diskTracker struct {
	uuid   string
	seq    int64
	writes []trackedWrite
}

type trackedWrite struct {
	seq          int64
	first, count int64 // grains
}

type trackerKey struct {
	vm  types.ManagedObjectReference
	key int32
}

var trackers = struct {
	sync.Mutex
	of map[trackerKey]*diskTracker
}{of: map[trackerKey]*diskTracker{}}

func (t *diskTracker) changeID() string { return t.uuid + "/" + strconv.FormatInt(t.seq, 10) }

func newTrackingUUID() string {
	u := uuid.New()
	var parts []string
	for _, b := range u[:] {
		parts = append(parts, fmt.Sprintf("%02x", b))
	}
	return strings.Join(parts[:8], " ") + "-" + strings.Join(parts[8:], " ")
}

// changeTrackingToggled is part of ReconfigVM_Task's hook: tracking starts
// (a new tracking UUID) for the disks of VMs that turned it on, and stops
// for those that turned it off.
func changeTrackingToggled() {
	trackers.Lock()
	defer trackers.Unlock()
	on := map[trackerKey]bool{}
	for _, e := range simulator.Map.All("VirtualMachine") {
		vm, ok := e.(*simulator.VirtualMachine)
		if !ok {
			continue
		}
		simulator.Map.WithLock(vm, func() {
			if !isTrue(vm.Config.ChangeTrackingEnabled) {
				return
			}
			for _, device := range vm.Config.Hardware.Device {
				if disk, ok := device.(*types.VirtualDisk); ok {
					k := trackerKey{vm.Self, disk.Key}
					on[k] = true
					if trackers.of[k] == nil {
						trackers.of[k] = &diskTracker{uuid: newTrackingUUID()}
					}
					if b, ok := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo); ok {
						b.ChangeId = trackers.of[k].changeID()
					}
				}
			}
		})
	}
	for k := range trackers.of {
		if !on[k] {
			delete(trackers.of, k)
		}
	}
}

// trackWrite records a guest write of n bytes at offset into a tracked disk.
func trackWrite(d vmDisk, offset, n int64) {
	if n <= 0 {
		return
	}
	trackers.Lock()
	defer trackers.Unlock()
	t := trackers.of[trackerKey{d.VM, d.Key}]
	if t == nil {
		return
	}
	t.seq++
	first := offset / grainBytes
	t.writes = append(t.writes, trackedWrite{seq: t.seq, first: first, count: (offset+n-1)/grainBytes - first + 1})
}

// trackedChangeID is the disk's change ID now, or "" if it is not tracked.
func trackedChangeID(vm types.ManagedObjectReference, key int32) (string, int64) {
	trackers.Lock()
	defer trackers.Unlock()
	if t := trackers.of[trackerKey{vm, key}]; t != nil {
		return t.changeID(), t.seq
	}
	return "", 0
}

// trackedChangeIDs are the change IDs of vm's tracked disks now.
func trackedChangeIDs(vm types.ManagedObjectReference) map[int32]string {
	trackers.Lock()
	defer trackers.Unlock()
	ids := map[int32]string{}
	for k, t := range trackers.of {
		if k.vm == vm {
			ids[k.key] = t.changeID()
		}
	}
	return ids
}

// dataRanges are the [start, end) ranges of path's file that hold data
// (SEEK_DATA/SEEK_HOLE), within capacity; the whole file if the file
// system cannot say.
func dataRanges(path string, capacity int64) [][2]int64 {
	f, err := os.Open(path)
	if err != nil {
		return nil
	}
	defer f.Close()
	const seekData, seekHole = 3, 4
	var ranges [][2]int64
	for off := int64(0); off < capacity; {
		start, err := f.Seek(off, seekData)
		if err != nil {
			if errors.Is(err, syscall.ENXIO) { // no data past off
				break
			}
			return [][2]int64{{0, capacity}}
		}
		end, err := f.Seek(start, seekHole)
		if err != nil {
			return [][2]int64{{0, capacity}}
		}
		if end > capacity {
			end = capacity
		}
		if start < end {
			ranges = append(ranges, [2]int64{start, end})
		}
		off = end
	}
	return ranges
}

// trackingReset gives a disk a new tracking UUID: earlier change IDs no
// longer hold (a revert discarded writes they counted).
func trackingReset(vm types.ManagedObjectReference, key int32) {
	trackers.Lock()
	defer trackers.Unlock()
	if t := trackers.of[trackerKey{vm, key}]; t != nil {
		*t = diskTracker{uuid: newTrackingUUID()}
	}
}

func (e *labVM) QueryChangedDiskAreas(req *types.QueryChangedDiskAreas) soap.HasFault {
	body := new(methods.QueryChangedDiskAreasBody)
	fail := func(msg string, f types.BaseMethodFault) soap.HasFault {
		body.Fault_ = simulator.Fault(msg, f)
		return body
	}
	vm, fault := e.vm()
	if fault != nil {
		body.Fault_ = fault
		return body
	}
	var disk *vmDisk
	for _, d := range vmDisks(vm) {
		if d.Key == req.DeviceKey {
			d := d
			disk = &d
		}
	}
	if disk == nil {
		return fail(fmt.Sprintf("no virtual disk %d", req.DeviceKey), &types.InvalidArgument{InvalidProperty: "deviceKey"})
	}
	trackers.Lock()
	defer trackers.Unlock()
	t := trackers.of[trackerKey{vm.Self, req.DeviceKey}]
	if t == nil {
		return fail("Change tracking is not enabled for this disk.", &types.FileFault{File: disk.FileName})
	}
	upTo := t.seq
	if req.Snapshot != nil {
		snapshotDeltas.Lock()
		record := snapshotDeltas.of[*req.Snapshot]
		snapshotDeltas.Unlock()
		if record == nil || record.vm != vm.Self || record.changeIDs[req.DeviceKey] == "" {
			return fail("The snapshot has no change tracking information for this disk.", &types.FileFault{File: disk.FileName})
		}
		id := record.changeIDs[req.DeviceKey]
		if !strings.HasPrefix(id, t.uuid+"/") {
			return fail("The snapshot's change ID is of an earlier tracking.", &types.FileFault{File: disk.FileName})
		}
		upTo, _ = strconv.ParseInt(id[len(t.uuid)+1:], 10, 64)
	} else {
		var state types.VirtualMachinePowerState
		simulator.Map.WithLock(vm, func() { state = vm.Runtime.PowerState })
		if state != types.VirtualMachinePowerStatePoweredOff {
			return fail("Without a snapshot, changed areas are known only for a powered-off VM.", &types.FileFault{File: disk.FileName})
		}
	}
	if req.StartOffset < 0 || req.StartOffset >= disk.Capacity {
		return fail("startOffset is past the disk's end.", &types.InvalidArgument{InvalidProperty: "startOffset"})
	}
	end := req.StartOffset + cbtWindow
	if end > disk.Capacity {
		end = disk.Capacity
	}
	var grains map[int64]bool
	if req.ChangeId == "*" {
		grains = allocatedGrains(*disk, t, upTo)
	} else {
		since, ok := int64(-1), strings.HasPrefix(req.ChangeId, t.uuid+"/")
		if ok {
			var err error
			since, err = strconv.ParseInt(req.ChangeId[len(t.uuid)+1:], 10, 64)
			ok = err == nil && since >= 0 && since <= upTo
		}
		if !ok {
			return fail("The change ID is not one of this disk's.", &types.InvalidArgument{InvalidProperty: "changeId"})
		}
		grains = map[int64]bool{}
		for _, w := range t.writes {
			if w.seq > since && w.seq <= upTo {
				for g := w.first; g < w.first+w.count; g++ {
					grains[g] = true
				}
			}
		}
	}
	info := types.DiskChangeInfo{StartOffset: req.StartOffset, Length: end - req.StartOffset}
	for g := req.StartOffset / grainBytes; g*grainBytes < end; g++ {
		if !grains[g] {
			continue
		}
		start, stop := g*grainBytes, (g+1)*grainBytes
		if start < req.StartOffset {
			start = req.StartOffset
		}
		if stop > end {
			stop = end
		}
		if n := len(info.ChangedArea); n > 0 && info.ChangedArea[n-1].Start+info.ChangedArea[n-1].Length == start {
			info.ChangedArea[n-1].Length += stop - start
		} else {
			info.ChangedArea = append(info.ChangedArea, types.DiskChangeExtent{Start: start, Length: stop - start})
		}
	}
	body.Res = &types.QueryChangedDiskAreasResponse{Returnval: info}
	return body
}

// allocatedGrains are the grains of a disk that may hold data as of
// sequence upTo: those allocated in its base extent and those tracked
// writes touched. A superset is what "*" may answer: copying a zero area is
// harmless, missing a written one is not.
func allocatedGrains(d vmDisk, t *diskTracker, upTo int64) map[int64]bool {
	grains := map[int64]bool{}
	for _, w := range t.writes {
		if w.seq <= upTo {
			for g := w.first; g < w.first+w.count; g++ {
				grains[g] = true
			}
		}
	}
	for _, r := range dataRanges(d.Flat(), d.Capacity) {
		for g := r[0] / grainBytes; g*grainBytes < r[1]; g++ {
			grains[g] = true
		}
	}
	return grains
}
