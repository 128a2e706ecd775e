package main

import (
	"fmt"
	"io"
	"log"
	"os"
	"path"
	"regexp"
	"sort"
	"strings"
	"sync"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// Snapshots that make delta disks, as ESXi's do (0.24's make none: the VM
// keeps writing to the disk a snapshot was meant to freeze).
//
// CreateSnapshot_Task gives each of the VM's disks a delta: a descriptor
// "<disk>-00000N.vmdk" (createType vmfsSparse, parentFileNameHint the
// parent's) and its extent "<disk>-00000N-delta.vmdk". The disk's backing
// becomes the delta, its parent the backing it had, which the snapshot's
// config keeps; the parent's files are not written again while the delta
// exists. The extent is not VMware's sparse format: it is a sparse file of
// the disk's capacity holding the grains (64 KiB) written since the
// snapshot at their offsets; which grains it holds is this program's own
// record (deltaGrains). A write into the disk (/lab/vm-disk) goes to the
// newest delta, a partly written grain copied up first; a read of the disk
// (an export) takes each grain from the newest file that holds it.
//
// Removing a snapshot (RemoveSnapshot_Task, with or without its children,
// RemoveAllSnapshots_Task) consolidates as ESXi does: the delta the snapshot
// made is merged into its parent and deleted, and the backings that named it
// (the VM's, later snapshots') name the parent. Reverting to the newest
// snapshot (RevertToCurrentSnapshot_Task, or RevertToSnapshot_Task of it)
// empties the newest delta. Linear chains only: reverting to an older
// snapshot changes no disk bytes.

const grainBytes = 64 << 10

// deltaGrains records, per delta extent, the grains it holds.
var deltaGrains = struct {
	sync.Mutex
	of map[string]map[int64]bool
}{of: map[string]map[int64]bool{}}

// snapshotDeltas records, per snapshot, the delta it made for each disk.
var snapshotDeltas = struct {
	sync.Mutex
	of map[types.ManagedObjectReference]*snapshotRecord
}{of: map[types.ManagedObjectReference]*snapshotRecord{}}

type snapshotRecord struct {
	vm        types.ManagedObjectReference
	seq       int
	disks     map[int32]snapshotDisk // by device key
	changeIDs map[int32]string       // the tracked disks' change IDs at the snapshot (cbt.go)
}

type snapshotDisk struct {
	parent, delta *types.VirtualDiskFlatVer2BackingInfo
}

var snapshotSeq int

func deltaExtent(descriptor string) string {
	return strings.TrimSuffix(descriptor, ".vmdk") + "-delta.vmdk"
}

var deltaSuffix = regexp.MustCompile(`-\d{6}$`)

// snapshotCreated is the hook of CreateSnapshot_Task.
func snapshotCreated(m *simulator.Method) {
	vm, ok := simulator.Map.Get(m.This).(*simulator.VirtualMachine)
	if !ok {
		return
	}
	changeIDs := trackedChangeIDs(vm.Self) // before the VM's lock: cbt.go locks the other way round
	simulator.Map.WithLock(vm, func() {
		if vm.Snapshot == nil || vm.Snapshot.CurrentSnapshot == nil {
			return
		}
		record := &snapshotRecord{vm: vm.Self, disks: map[int32]snapshotDisk{}, changeIDs: changeIDs}
		devices := append(object.VirtualDeviceList(nil), vm.Config.Hardware.Device...) // the snapshot keeps the old list
		for i, device := range devices {
			disk, ok := device.(*types.VirtualDisk)
			if !ok {
				continue
			}
			parent, ok := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo)
			if !ok {
				continue
			}
			if id, ok := changeIDs[disk.Key]; ok {
				parent.ChangeId = id // the snapshot's disk, and the VM's through its delta
			}
			delta, err := makeDelta(vm, disk, parent)
			if err != nil {
				log.Printf("snapshot of %s, disk %d: %v", vm.Name, disk.Key, err)
				continue
			}
			changed := *disk
			changed.Backing = delta
			devices[i] = &changed
			record.disks[disk.Key] = snapshotDisk{parent: parent, delta: delta}
		}
		vm.Config.Hardware.Device = devices
		snapshotDeltas.Lock()
		snapshotSeq++
		record.seq = snapshotSeq
		snapshotDeltas.of[*vm.Snapshot.CurrentSnapshot] = record
		snapshotDeltas.Unlock()
	})
}

// makeDelta writes a delta disk on parent and returns its backing.
func makeDelta(vm *simulator.VirtualMachine, disk *types.VirtualDisk, parent *types.VirtualDiskFlatVer2BackingInfo) (*types.VirtualDiskFlatVer2BackingInfo, error) {
	var p object.DatastorePath
	if !p.FromString(parent.FileName) {
		return nil, fmt.Errorf("backing %q", parent.FileName)
	}
	parentPath, ok := diskFile(vm, &parent.VirtualDeviceFileBackingInfo)
	if !ok {
		return nil, fmt.Errorf("no file for %q", parent.FileName)
	}
	stem := deltaSuffix.ReplaceAllString(strings.TrimSuffix(path.Base(p.Path), ".vmdk"), "")
	capacity := disk.CapacityInBytes
	if capacity <= 0 {
		capacity = disk.CapacityInKB * 1024
	}
	for n := 1; n < 1000000; n++ {
		name := fmt.Sprintf("%s-%06d.vmdk", stem, n)
		descriptor := path.Join(path.Dir(parentPath), name)
		if _, err := os.Stat(descriptor); err == nil {
			continue
		}
		text := fmt.Sprintf("# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=fffffffe\ncreateType=\"vmfsSparse\"\n"+
			"parentFileNameHint=\"%s\"\n\n# Extent description\nRW %d VMFSSPARSE \"%s\"\n\n# The Disk Data Base\n",
			path.Base(p.Path), capacity/512, path.Base(deltaExtent(name)))
		if err := os.WriteFile(descriptor, []byte(text), 0o600); err != nil {
			return nil, err
		}
		extent, err := os.Create(deltaExtent(descriptor))
		if err != nil {
			return nil, err
		}
		err = extent.Truncate(capacity)
		extent.Close()
		if err != nil {
			return nil, err
		}
		delta := *parent
		deltaPath := object.DatastorePath{Datastore: p.Datastore, Path: path.Join(path.Dir(p.Path), name)}
		delta.FileName = deltaPath.String()
		delta.Parent = parent
		return &delta, nil
	}
	return nil, fmt.Errorf("no free delta name for %s", stem)
}

// snapshotsRemoved is the hook of RemoveSnapshot_Task and
// RemoveAllSnapshots_Task: each snapshot that left its VM's tree is
// consolidated, the newest first.
func snapshotsRemoved(m *simulator.Method) {
	var vm *simulator.VirtualMachine
	switch obj := simulator.Map.Get(m.This).(type) {
	case *simulator.VirtualMachine:
		vm = obj
	default: // the snapshot, already gone from the registry: its record names the VM
		snapshotDeltas.Lock()
		if record := snapshotDeltas.of[m.This]; record != nil {
			vm, _ = simulator.Map.Get(record.vm).(*simulator.VirtualMachine)
		}
		snapshotDeltas.Unlock()
	}
	if vm == nil {
		return
	}
	simulator.Map.WithLock(vm, func() {
		kept := map[types.ManagedObjectReference]bool{}
		if vm.Snapshot != nil {
			var walk func([]types.VirtualMachineSnapshotTree)
			walk = func(trees []types.VirtualMachineSnapshotTree) {
				for _, t := range trees {
					kept[t.Snapshot] = true
					walk(t.ChildSnapshotList)
				}
			}
			walk(vm.Snapshot.RootSnapshotList)
		}
		snapshotDeltas.Lock()
		var removed []types.ManagedObjectReference
		for ref, record := range snapshotDeltas.of {
			if record.vm == vm.Self && !kept[ref] {
				removed = append(removed, ref)
			}
		}
		sort.Slice(removed, func(i, j int) bool { return snapshotDeltas.of[removed[i]].seq > snapshotDeltas.of[removed[j]].seq })
		for _, ref := range removed {
			consolidate(vm, snapshotDeltas.of[ref])
			delete(snapshotDeltas.of, ref)
		}
		snapshotDeltas.Unlock()
	})
}

// consolidate merges the deltas a snapshot made into their parents. Called
// with vm and snapshotDeltas locked.
func consolidate(vm *simulator.VirtualMachine, record *snapshotRecord) {
	for key, sd := range record.disks {
		if err := mergeDelta(vm, sd); err != nil {
			log.Printf("consolidating %s disk %d: %v", vm.Name, key, err)
			continue
		}
		// Whatever named the delta names its parent: the VM's disk, later snapshots.
		for i, device := range vm.Config.Hardware.Device {
			if disk, ok := device.(*types.VirtualDisk); ok && disk.Key == key {
				if backing, ok := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo); ok {
					changed := *disk
					changed.Backing = withoutLink(backing, sd.delta.FileName)
					devices := append(object.VirtualDeviceList(nil), vm.Config.Hardware.Device...)
					devices[i] = &changed
					vm.Config.Hardware.Device = devices
				}
			}
		}
		for ref, other := range snapshotDeltas.of {
			if other.vm != vm.Self || other == record {
				continue
			}
			if o, ok := other.disks[key]; ok {
				o.parent = withoutLink(o.parent, sd.delta.FileName)
				o.delta = withoutLink(o.delta, sd.delta.FileName)
				other.disks[key] = o
			}
			if snapshot, ok := simulator.Map.Get(ref).(*simulator.VirtualMachineSnapshot); ok {
				relinkSnapshotConfig(snapshot, key, sd.delta.FileName)
			}
		}
	}
}

// withoutLink is the backing chain b without the file named name.
func withoutLink(b *types.VirtualDiskFlatVer2BackingInfo, name string) *types.VirtualDiskFlatVer2BackingInfo {
	if b == nil {
		return nil
	}
	if b.FileName == name {
		return b.Parent
	}
	changed := *b
	changed.Parent = withoutLink(b.Parent, name)
	return &changed
}

func relinkSnapshotConfig(snapshot *simulator.VirtualMachineSnapshot, key int32, name string) {
	devices := append(object.VirtualDeviceList(nil), snapshot.Config.Hardware.Device...)
	for i, device := range devices {
		if disk, ok := device.(*types.VirtualDisk); ok && disk.Key == key {
			if backing, ok := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo); ok {
				changed := *disk
				changed.Backing = withoutLink(backing, name)
				devices[i] = &changed
			}
		}
	}
	snapshot.Config.Hardware.Device = devices
}

// mergeDelta copies a delta's grains into its parent and deletes the delta.
func mergeDelta(vm *simulator.VirtualMachine, sd snapshotDisk) error {
	deltaPath, ok := diskFile(vm, &sd.delta.VirtualDeviceFileBackingInfo)
	if !ok {
		return fmt.Errorf("no file for %q", sd.delta.FileName)
	}
	parentPath, ok := diskFile(vm, &sd.parent.VirtualDeviceFileBackingInfo)
	if !ok {
		return fmt.Errorf("no file for %q", sd.parent.FileName)
	}
	parentExtent := flatName(parentPath)
	if sd.parent.Parent != nil {
		parentExtent = deltaExtent(parentPath)
	}
	deltaGrains.Lock()
	defer deltaGrains.Unlock()
	grains := deltaGrains.of[deltaExtent(deltaPath)]
	if len(grains) > 0 {
		src, err := os.Open(deltaExtent(deltaPath))
		if err != nil {
			return err
		}
		defer src.Close()
		dst, err := os.OpenFile(parentExtent, os.O_WRONLY, 0)
		if err != nil {
			return err
		}
		defer dst.Close()
		buf := make([]byte, grainBytes)
		parentGrains := deltaGrains.of[parentExtent]
		for g := range grains {
			n, err := src.ReadAt(buf, g*grainBytes)
			if err != nil && err != io.EOF {
				return err
			}
			if _, err := dst.WriteAt(buf[:n], g*grainBytes); err != nil {
				return err
			}
			if sd.parent.Parent != nil {
				if parentGrains == nil {
					parentGrains = map[int64]bool{}
					deltaGrains.of[parentExtent] = parentGrains
				}
				parentGrains[g] = true
			}
		}
	}
	delete(deltaGrains.of, deltaExtent(deltaPath))
	_ = os.Remove(deltaExtent(deltaPath))
	return os.Remove(deltaPath)
}

// snapshotReverted is the hook of RevertToCurrentSnapshot_Task and
// RevertToSnapshot_Task: reverting to the snapshot that made the VM's
// newest deltas empties them.
func snapshotReverted(m *simulator.Method) {
	var vm *simulator.VirtualMachine
	target := m.This
	switch obj := simulator.Map.Get(m.This).(type) {
	case *simulator.VirtualMachine:
		vm = obj
		simulator.Map.WithLock(vm, func() {
			if vm.Snapshot != nil && vm.Snapshot.CurrentSnapshot != nil {
				target = *vm.Snapshot.CurrentSnapshot
			}
		})
	case *simulator.VirtualMachineSnapshot:
		vm, _ = simulator.Map.Get(obj.Vm).(*simulator.VirtualMachine)
	}
	snapshotDeltas.Lock()
	record := snapshotDeltas.of[target]
	snapshotDeltas.Unlock()
	if vm == nil || record == nil {
		return
	}
	for _, disk := range vmDisks(vm) {
		sd, ok := record.disks[disk.Key]
		if !ok || len(disk.Deltas) == 0 || disk.TopFileName != sd.delta.FileName {
			continue // not the newest delta: reverting further back is not modelled
		}
		deltaGrains.Lock()
		delete(deltaGrains.of, disk.Deltas[0])
		err := os.Truncate(disk.Deltas[0], 0)
		if err == nil {
			err = os.Truncate(disk.Deltas[0], disk.Capacity)
		}
		deltaGrains.Unlock()
		if err != nil {
			log.Printf("reverting %s disk %d: %v", vm.Name, disk.Key, err)
		}
		trackingReset(vm.Self, disk.Key)
	}
}

// diskReader reads a disk as its guest sees it: each grain from the newest
// delta holding it, else from the base extent.
type diskReader struct {
	size   int64
	deltas []*os.File // newest first
	grains []map[int64]bool
	base   *os.File
}

func openDisk(d vmDisk, base string) (*diskReader, error) {
	r := &diskReader{size: d.Capacity}
	f, err := os.Open(base)
	if err != nil {
		return nil, err
	}
	r.base = f
	if st, err := f.Stat(); err == nil && len(d.Deltas) == 0 {
		r.size = st.Size()
	}
	deltaGrains.Lock()
	defer deltaGrains.Unlock()
	for _, extent := range d.Deltas {
		f, err := os.Open(extent)
		if err != nil {
			r.Close()
			return nil, err
		}
		held := map[int64]bool{}
		for g := range deltaGrains.of[extent] {
			held[g] = true
		}
		r.deltas, r.grains = append(r.deltas, f), append(r.grains, held)
	}
	return r, nil
}

func (r *diskReader) ReadAt(p []byte, off int64) (int, error) {
	if len(r.deltas) == 0 {
		return r.base.ReadAt(p, off)
	}
	n := 0
	for n < len(p) {
		at := off + int64(n)
		if at >= r.size {
			return n, io.EOF
		}
		g := at / grainBytes
		end := (g + 1) * grainBytes
		if end > r.size {
			end = r.size
		}
		chunk := p[n:]
		if int64(len(chunk)) > end-at {
			chunk = chunk[:end-at]
		}
		src := r.base
		for i, held := range r.grains {
			if held[g] {
				src = r.deltas[i]
				break
			}
		}
		m, err := src.ReadAt(chunk, at)
		if err == io.EOF && m < len(chunk) { // a short base extent reads as zeros
			for i := m; i < len(chunk); i++ {
				chunk[i] = 0
			}
			m, err = len(chunk), nil
		}
		n += m
		if err != nil {
			return n, err
		}
	}
	return n, nil
}

func (r *diskReader) Close() error {
	for _, f := range r.deltas {
		f.Close()
	}
	if r.base != nil {
		return r.base.Close()
	}
	return nil
}

// writeDiskAt writes n bytes of body into the disk at offset, as its guest
// would: into its newest delta if it has one (copying up the grains the
// write covers only in part), else into its flat extent.
func writeDiskAt(d vmDisk, offset int64, body io.Reader, n int64) error {
	data, err := io.ReadAll(io.LimitReader(body, n))
	if err != nil {
		return err
	}
	if int64(len(data)) != n {
		return io.ErrUnexpectedEOF
	}
	target := d.Flat()
	if len(d.Deltas) > 0 {
		target = d.Deltas[0]
	}
	out, err := os.OpenFile(target, os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer out.Close()
	if len(d.Deltas) == 0 {
		if _, err = out.WriteAt(data, offset); err == nil {
			trackWrite(d, offset, n)
		}
		return err
	}
	below := d
	below.Deltas = d.Deltas[1:]
	reader, err := openDisk(below, d.Flat())
	if err != nil {
		return err
	}
	defer reader.Close()
	deltaGrains.Lock()
	defer deltaGrains.Unlock()
	held := deltaGrains.of[target]
	if held == nil {
		held = map[int64]bool{}
		deltaGrains.of[target] = held
	}
	grain := make([]byte, grainBytes)
	for g := offset / grainBytes; n > 0 && g*grainBytes < offset+n; g++ {
		if held[g] {
			continue
		}
		m, err := reader.ReadAt(grain, g*grainBytes)
		if err != nil && err != io.EOF {
			return err
		}
		if _, err := out.WriteAt(grain[:m], g*grainBytes); err != nil {
			return err
		}
		held[g] = true
	}
	if _, err = out.WriteAt(data, offset); err == nil {
		trackWrite(d, offset, n)
	}
	return err
}
