package main

import (
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"reflect"
	"strconv"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// A VM's virtual disks hold real bytes: each disk is a descriptor and its
// flat extent, a file of the disk's capacity (sparse until written) in the
// VM's folder on the simulated datastore, as ESXi keeps a thin or thick VMFS
// disk. 0.24 creates both files empty (vdmCreateVirtualDisk) and never gives
// them a size; materializeDisks does, after every call that can add a disk
// or change its capacity (CreateVM_Task, ReconfigVM_Task, CloneVM_Task:
// taskHooks), for the inventory's VMs once built, and before an export.
//
// The extent is reachable as datastore files are: GET (with Range) and PUT
// at /folder/<vm folder>/<disk>-flat.vmdk?dcPath=&dsName=, PUT replacing the
// whole file as vCenter's does. A guest's writes, in place at an offset, go
// through the lab's own PUT /lab/vm-disk (serveVMDiskWrites).

// vmDisk is one virtual disk of a VM and where its bytes are.
type vmDisk struct {
	VM         types.ManagedObjectReference
	Key        int32  // the device key (2000, 2001, ...)
	Controller string // the controller's vim type, e.g. VirtualLsiLogicController
	Bus, Unit  int32
	FileName   string // the disk's own (base) file, "[datastore] folder/name.vmdk"
	Descriptor string // its descriptor's path on the simulator's filesystem
	Capacity   int64  // bytes
	// With snapshots (vm_snapshots.go): the backing's file, the newest delta,
	// and the delta extents from the newest to the oldest.
	TopFileName string
	Deltas      []string
}

// Flat is the extent holding the disk's bytes.
func (d vmDisk) Flat() string { return flatName(d.Descriptor) }

// vmDisks lists vm's file-backed virtual disks in device order.
func vmDisks(vm *simulator.VirtualMachine) []vmDisk {
	var disks []vmDisk
	simulator.Map.WithLock(vm, func() {
		devices := object.VirtualDeviceList(vm.Config.Hardware.Device)
		for _, device := range devices.SelectByType((*types.VirtualDisk)(nil)) {
			disk := device.(*types.VirtualDisk)
			backing, ok := disk.Backing.(types.BaseVirtualDeviceFileBackingInfo)
			if !ok {
				continue
			}
			info := backing.GetVirtualDeviceFileBackingInfo()
			top := info.FileName
			var deltas []string
			for flat, ok := backing.(*types.VirtualDiskFlatVer2BackingInfo); ok && flat.Parent != nil; flat = flat.Parent {
				if path, ok := diskFile(vm, &flat.VirtualDeviceFileBackingInfo); ok {
					deltas = append(deltas, deltaExtent(path))
				}
				info = &flat.Parent.VirtualDeviceFileBackingInfo
			}
			path, ok := diskFile(vm, info)
			if !ok {
				continue
			}
			d := vmDisk{VM: vm.Self, Key: disk.Key, FileName: info.FileName, Descriptor: path, Capacity: disk.CapacityInBytes,
				TopFileName: top, Deltas: deltas}
			if d.Capacity <= 0 {
				d.Capacity = disk.CapacityInKB * 1024
			}
			if disk.UnitNumber != nil {
				d.Unit = *disk.UnitNumber
			}
			if controller, ok := devices.FindByKey(disk.ControllerKey).(types.BaseVirtualController); ok {
				d.Controller = reflect.TypeOf(controller).Elem().Name()
				d.Bus = controller.GetVirtualController().BusNumber
			}
			disks = append(disks, d)
		}
	})
	return disks
}

// diskDeviceChanges adds an LSI Logic controller (bus 0) and on it one
// thin disk per size (MiB), units 0, 1, ..., in the VM's folder on datastore.
func diskDeviceChanges(datastore string, sizesMB []int64) []types.BaseVirtualDeviceConfigSpec {
	const controllerKey = -100
	changes := []types.BaseVirtualDeviceConfigSpec{&types.VirtualDeviceConfigSpec{
		Operation: types.VirtualDeviceConfigSpecOperationAdd,
		Device: &types.VirtualLsiLogicController{VirtualSCSIController: types.VirtualSCSIController{
			SharedBus:         types.VirtualSCSISharingNoSharing,
			VirtualController: types.VirtualController{VirtualDevice: types.VirtualDevice{Key: controllerKey}},
		}},
	}}
	for i, size := range sizesMB {
		unit := int32(i)
		if unit >= 7 {
			unit++ // unit 7 is the SCSI controller's own
		}
		changes = append(changes, &types.VirtualDeviceConfigSpec{
			Operation:     types.VirtualDeviceConfigSpecOperationAdd,
			FileOperation: types.VirtualDeviceConfigSpecFileOperationCreate,
			Device: &types.VirtualDisk{
				CapacityInKB:    size * 1024,
				CapacityInBytes: size * mib,
				VirtualDevice: types.VirtualDevice{
					Key: int32(controllerKey - 1 - i), ControllerKey: controllerKey, UnitNumber: &unit,
					Backing: &types.VirtualDiskFlatVer2BackingInfo{
						DiskMode:                     string(types.VirtualDiskModePersistent),
						ThinProvisioned:              types.NewBool(true),
						VirtualDeviceFileBackingInfo: types.VirtualDeviceFileBackingInfo{FileName: "[" + datastore + "]"},
					},
				},
			},
		})
	}
	return changes
}

// diskFile resolves a disk backing's datastore path to the file.
func diskFile(vm *simulator.VirtualMachine, info *types.VirtualDeviceFileBackingInfo) (string, bool) {
	var p object.DatastorePath
	if !p.FromString(info.FileName) || p.Path == "" {
		return "", false
	}
	var ds *simulator.Datastore
	if info.Datastore != nil {
		ds, _ = simulator.Map.Get(*info.Datastore).(*simulator.Datastore)
	}
	if ds == nil {
		if dc := datacenterOf(vm.Self); dc != nil {
			ds = datastoreNamed(dc, p.Datastore)
		}
	}
	if ds == nil {
		return "", false
	}
	return filepath.Join(ds.Info.GetDatastoreInfo().Url, p.Path), true
}

// materializeDisks gives each of vm's disks a descriptor and a flat extent
// of its capacity: written once for a disk 0.24 created empty, grown when
// the disk's capacity grew. Single-file (sparse) disks, such as an image
// nova uploaded and attached as is, are left alone; nothing is shrunk.
func materializeDisks(vm *simulator.VirtualMachine) error {
	for _, disk := range vmDisks(vm) {
		if err := materializeDisk(disk); err != nil {
			return fmt.Errorf("%s disk %d: %w", vm.Name, disk.Key, err)
		}
	}
	return nil
}

func materializeDisk(disk vmDisk) error {
	info, err := os.Stat(disk.Descriptor)
	if err != nil {
		return nil // no disk file at all: not this program's to invent
	}
	if info.Size() > 0 {
		capacity, sparse, err := diskCapacity(disk.Descriptor)
		if err != nil || sparse || capacity >= disk.Capacity {
			return nil
		}
		return growFlatDisk(disk.Descriptor, disk.Capacity)
	}
	// 0.24's empty pair: keep whatever the extent already holds, at the capacity.
	flat, err := os.OpenFile(disk.Flat(), os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return err
	}
	defer flat.Close()
	if st, err := flat.Stat(); err == nil && st.Size() < disk.Capacity {
		if err := flat.Truncate(disk.Capacity); err != nil {
			return err
		}
	}
	return os.WriteFile(disk.Descriptor, flatDescriptor(disk.Capacity, filepath.Base(disk.Flat())), 0o600)
}

// vmDisksChanged is the task hook of the calls that add or grow disks or
// turn change tracking on or off (CreateVM_Task, ReconfigVM_Task,
// CloneVM_Task): the disks' files (below), their tracking (cbt.go).
func vmDisksChanged(m *simulator.Method) {
	materializeAllDisks(m)
	changeTrackingToggled()
}

// materializeAllDisks makes every VM's disk files: the calls that add or
// grow disks name a VM that may not exist yet (CreateVM_Task).
func materializeAllDisks(*simulator.Method) {
	for _, e := range simulator.Map.All("VirtualMachine") {
		if vm, ok := e.(*simulator.VirtualMachine); ok {
			if err := materializeDisks(vm); err != nil {
				log.Printf("disk files: %v", err)
			}
		}
	}
}

// serveVMDiskWrites serves PUT /lab/vm-disk?vm=<moref>&disk=<device key>&offset=<bytes>:
// the body is written into the disk's flat extent at offset, in place, as
// the VM's guest would write to its disk (the simulator runs no guest). A
// write past the disk's capacity is refused (416) and changes nothing. The
// lab's own endpoint, not vSphere's; like /folder, it checks no session.
func serveVMDiskWrites(mux *http.ServeMux) {
	mux.HandleFunc("/lab/vm-disk", func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPut {
			w.Header().Set("Allow", http.MethodPut)
			http.Error(w, "PUT only", http.StatusMethodNotAllowed)
			return
		}
		query := r.URL.Query()
		disk, status, msg := findVMDisk(query.Get("vm"), query.Get("disk"))
		if status != http.StatusOK {
			http.Error(w, msg, status)
			return
		}
		offset, err := strconv.ParseInt(query.Get("offset"), 10, 64)
		if err != nil || offset < 0 {
			http.Error(w, "offset: a byte offset >= 0 is required", http.StatusBadRequest)
			return
		}
		if r.ContentLength < 0 {
			http.Error(w, "Content-Length is required", http.StatusLengthRequired)
			return
		}
		if offset+r.ContentLength > disk.Capacity {
			http.Error(w, fmt.Sprintf("write of %d bytes at %d ends past the disk's capacity %d",
				r.ContentLength, offset, disk.Capacity), http.StatusRequestedRangeNotSatisfiable)
			return
		}
		if err := writeDiskAt(disk, offset, r.Body, r.ContentLength); err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		w.WriteHeader(http.StatusNoContent)
	})
}

// findVMDisk is the disk of device key diskKey of VM vmRef, its files made
// if need be, or an HTTP status and message.
func findVMDisk(vmRef, diskKey string) (vmDisk, int, string) {
	vm, ok := simulator.Map.Get(types.ManagedObjectReference{Type: "VirtualMachine", Value: vmRef}).(*simulator.VirtualMachine)
	if !ok {
		return vmDisk{}, http.StatusNotFound, fmt.Sprintf("no VM %q", vmRef)
	}
	key, err := strconv.ParseInt(diskKey, 10, 32)
	if err != nil {
		return vmDisk{}, http.StatusBadRequest, "disk: a virtual disk's device key is required"
	}
	if err := materializeDisks(vm); err != nil {
		return vmDisk{}, http.StatusInternalServerError, err.Error()
	}
	for _, disk := range vmDisks(vm) {
		if disk.Key == int32(key) {
			return disk, http.StatusOK, ""
		}
	}
	return vmDisk{}, http.StatusNotFound, fmt.Sprintf("VM %s has no virtual disk %d", vmRef, key)
}

// preserveCloneSource is called before CloneVM_Task: 0.24's clone empties
// the file name and parent of the source VM's own disk backings (it hands
// the source's device objects to the new VM, which then names its files
// there), so after a clone the source's disks would name the clone's files.
// The returned function, called after the call, gives the source back its
// backings as they were and, if the clone was made, copies each disk's
// bytes (as the guest sees them, through snapshots' deltas) into the
// clone's disk of the same key, as vCenter copies them; all-zero grains
// are skipped, so the copy stays sparse.
func preserveCloneSource(m *simulator.Method) func(clone *types.ManagedObjectReference) {
	vm, ok := simulator.Map.Get(m.This).(*simulator.VirtualMachine)
	if !ok || m.Name != "CloneVM_Task" {
		return nil
	}
	saved := map[int32]types.VirtualDiskFlatVer2BackingInfo{}
	var disks []vmDisk
	simulator.Map.WithLock(vm, func() {
		for _, device := range vm.Config.Hardware.Device {
			if disk, ok := device.(*types.VirtualDisk); ok {
				if b, ok := disk.Backing.(*types.VirtualDiskFlatVer2BackingInfo); ok {
					saved[disk.Key] = *b
				}
			}
		}
	})
	disks = vmDisks(vm)
	return func(clone *types.ManagedObjectReference) {
		simulator.Map.WithLock(vm, func() {
			devices := append(object.VirtualDeviceList(nil), vm.Config.Hardware.Device...)
			for i, device := range devices {
				if disk, ok := device.(*types.VirtualDisk); ok {
					if b, ok := saved[disk.Key]; ok {
						changed := *disk
						changed.Backing = &b
						devices[i] = &changed
					}
				}
			}
			vm.Config.Hardware.Device = devices
		})
		if clone == nil {
			return
		}
		target, ok := simulator.Map.Get(*clone).(*simulator.VirtualMachine)
		if !ok {
			return
		}
		for _, dst := range vmDisks(target) {
			for _, src := range disks {
				if src.Key == dst.Key {
					if err := copyDisk(src, dst); err != nil {
						log.Printf("clone %s disk %d: %v", target.Name, dst.Key, err)
					}
				}
			}
		}
	}
}

// copyDisk copies src's bytes into dst's flat extent, leaving holes where
// src has zeros.
func copyDisk(src, dst vmDisk) error {
	in, err := openDisk(src, src.Flat())
	if err != nil {
		return err
	}
	defer in.Close()
	out, err := os.OpenFile(dst.Flat(), os.O_WRONLY, 0)
	if err != nil {
		return err
	}
	defer out.Close()
	grain := make([]byte, grainBytes)
	for off := int64(0); off < in.size && off < dst.Capacity; off += grainBytes {
		n, err := in.ReadAt(grain, off)
		if err != nil && err != io.EOF {
			return err
		}
		if n > 0 && !allZero(grain[:n]) {
			if _, err := out.WriteAt(grain[:n], off); err != nil {
				return err
			}
		}
	}
	return nil
}
