package main

import (
	"bytes"
	"crypto/sha1"
	"encoding/hex"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/google/uuid"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// VirtualMachine.ExportVm and the export HttpNfcLease, as vCenter serves them
// (0.24: ExportVm is MethodNotFound, and its leases have no manifest and no
// timeout).
//
//   - ExportVm of a VM that is not powered off is InvalidPowerState. Otherwise
//     it returns a lease, initializing while the disks' streams are written,
//     then ready: info.deviceUrl has one entry per virtual disk, key
//     "/<vm>/<controller type><bus>:<unit>" (e.g.
//     "/vm-42/VirtualLsiLogicController0:0", as vCenter names it), url
//     "https://*/nfc/<ticket>/disk-N.vmdk" (the client puts the host it called
//     in place of "*"), targetId "disk-N.vmdk", disk true, fileSize the bytes
//     served; info.totalDiskCapacityInKB and info.leaseTimeout (seconds).
//   - A GET of a disk's url serves a streamOptimized VMDK of the disk, as
//     vCenter does (stream_optimized.go; qemu-img convert -f vmdk reads it),
//     or with --nfc-export-format raw the flat extent's bytes as they are
//     (qemu-img -f raw). Range requests are honoured (206), so a download
//     resumes where it stopped.
//   - HttpNfcLeaseGetManifest: per disk its key, sha1 (the hex SHA-1 of the
//     bytes served, the stream: API 6.5's field; checksum/checksumType came
//     with 6.7), size, disk, capacity, populatedSize (bytes allocated in the
//     disk's sparse extent).
//   - HttpNfcLeaseProgress(percent 0-100) sets transferProgress and keeps the
//     lease alive: a lease without one for leaseTimeout goes to state error
//     with a Timedout fault, its urls stop serving, and further calls are
//     Timedout. HttpNfcLeaseComplete: state done; HttpNfcLeaseAbort: state
//     error with the fault given (default RequestCanceled). Calls on a lease
//     that is done, or was aborted, are InvalidState.
//
// VirtualMachine cannot be wrapped (0.24 asserts *simulator.VirtualMachine),
// so withLabVMMethods hands ExportVm (and QueryChangedDiskAreas, cbt.go) of
// a VM to an object of the VM's moref under the type LabVirtualMachine; the
// simulator then checks the session, dispatches and encodes faults as for
// any call.

// nfcExportFormat is what an export lease's disk urls serve
// (--nfc-export-format): streamOptimized VMDK, as vCenter, or the raw bytes.
var nfcExportFormat = formatStreamOptimized

const (
	formatStreamOptimized = "streamOptimized"
	formatRaw             = "raw"
)

// nfcLeaseTimeout is how long an export lease lives without an
// HttpNfcLeaseProgress (--nfc-lease-timeout; vCenter: 5 minutes).
var nfcLeaseTimeout = 5 * time.Minute

// labVMType is the type of the objects that answer the VirtualMachine
// methods 0.24 lacks, one per VM, under the VM's moref value.
const labVMType = "LabVirtualMachine"

// labVMMethods are the methods they answer.
var labVMMethods = map[string]bool{"ExportVm": true, "QueryChangedDiskAreas": true}

// exportLeases are the export leases by their url ticket.
var exportLeases sync.Map

// withLabVMMethods routes labVMMethods of a VM to the VM's labVM.
func withLabVMMethods(next http.Handler) http.Handler {
	return onSOAPCall(next, func(w http.ResponseWriter, r *http.Request, body []byte) {
		if routed, ok := routeVMMethod(body); ok {
			body = routed
		}
		r.Body = io.NopCloser(bytes.NewReader(body))
		r.ContentLength = int64(len(body))
		next.ServeHTTP(w, r)
	})
}

func routeVMMethod(body []byte) ([]byte, bool) {
	if !bytes.Contains(body, []byte("ExportVm")) && !bytes.Contains(body, []byte("QueryChangedDiskAreas")) {
		return nil, false
	}
	method, err := simulator.UnmarshalBody(types.TypeFunc(), body)
	if err != nil || !labVMMethods[method.Name] || method.This.Type != "VirtualMachine" {
		return nil, false
	}
	if _, ok := simulator.Map.Get(method.This).(*simulator.VirtualMachine); !ok {
		return nil, false // the simulator's ManagedObjectNotFound
	}
	ref := types.ManagedObjectReference{Type: labVMType, Value: method.This.Value}
	if simulator.Map.Get(ref) == nil {
		simulator.Map.Put(&labVM{Self: ref})
	}
	// _this comes first; a snapshot argument's type is VirtualMachineSnapshot.
	return bytes.Replace(body, []byte(`type="VirtualMachine"`), []byte(`type="`+labVMType+`"`), 1), true
}

// labVM answers labVMMethods for the VM of the same moref value.
type labVM struct {
	Self types.ManagedObjectReference
}

func (e *labVM) Reference() types.ManagedObjectReference { return e.Self }

// vm is the VM e answers for.
func (e *labVM) vm() (*simulator.VirtualMachine, *soap.Fault) {
	ref := types.ManagedObjectReference{Type: "VirtualMachine", Value: e.Self.Value}
	vm, ok := simulator.Map.Get(ref).(*simulator.VirtualMachine)
	if !ok {
		return nil, simulator.Fault("", &types.ManagedObjectNotFound{Obj: ref})
	}
	return vm, nil
}

func (e *labVM) ExportVm(ctx *simulator.Context, req *types.ExportVm) soap.HasFault {
	body := new(methods.ExportVmBody)
	vm, fault := e.vm()
	if fault != nil {
		body.Fault_ = fault
		return body
	}
	var state types.VirtualMachinePowerState
	simulator.Map.WithLock(vm, func() { state = vm.Runtime.PowerState })
	if state != types.VirtualMachinePowerStatePoweredOff {
		body.Fault_ = simulator.Fault("The attempted operation cannot be performed in the current state ("+string(state)+").",
			&types.InvalidPowerState{RequestedState: types.VirtualMachinePowerStatePoweredOff, ExistingState: state})
		return body
	}
	if err := materializeDisks(vm); err != nil {
		body.Fault_ = simulator.Fault(err.Error(), &types.FileFault{})
		return body
	}
	lease := newExportLease(vm)
	body.Res = &types.ExportVmResponse{Returnval: lease.Self}
	return body
}

// exportLease is an export HttpNfcLease; its first field is the mo type, so
// the PropertyCollector reads its properties.
type exportLease struct {
	mo.HttpNfcLease
	ticket   string
	disks    map[string]exportDisk // by url file name
	timer    *time.Timer
	deadline time.Time // kept alive until then
	// The manifest is hashed in the background from ExportVm on, while the
	// client downloads: a GiB takes seconds. hashed is closed when it is.
	hashed      chan struct{}
	manifest    []types.HttpNfcLeaseManifestEntry
	manifestErr *soap.Fault
	format      string // nfcExportFormat when the lease was made
	created     time.Time
	files       []string // the streams written for it, removed when it ends
}

type exportDisk struct {
	vmDisk
	key    string
	source string // the disk's bytes: its flat extent (or its only file)
	path   string // the file served: source, or the streamOptimized stream of it
	size   int64  // of path
}

// Reference reads only Self: mo.HttpNfcLease's own copies the whole struct,
// racing with the property changes made under the lease's lock.
func (l *exportLease) Reference() types.ManagedObjectReference { return l.Self }

func newExportLease(vm *simulator.VirtualMachine) *exportLease {
	l := &exportLease{ticket: uuid.New().String(), disks: map[string]exportDisk{}, hashed: make(chan struct{}),
		format: nfcExportFormat, created: time.Now()}
	l.Self = types.ManagedObjectReference{Type: "HttpNfcLease"}
	info := &types.HttpNfcLeaseInfo{Entity: vm.Self, LeaseTimeout: int32(nfcLeaseTimeout / time.Second)}
	for n, disk := range vmDisks(vm) {
		name := fmt.Sprintf("disk-%d.vmdk", n)
		source := disk.Flat()
		if _, err := os.Stat(source); err != nil {
			source = disk.Descriptor // a single-file disk: served as it is
		}
		d := exportDisk{vmDisk: disk, key: fmt.Sprintf("/%s/%s%d:%d", vm.Self.Value, disk.Controller, disk.Bus, disk.Unit),
			source: source, path: source}
		if st, err := os.Stat(source); err == nil {
			d.size = st.Size()
		}
		if len(disk.Deltas) > 0 {
			d.size = disk.Capacity // read through its snapshots' deltas
		}
		l.disks[name] = d
		info.TotalDiskCapacityInKB += disk.Capacity / 1024
		info.DeviceUrl = append(info.DeviceUrl, types.HttpNfcLeaseDeviceUrl{
			Key:       d.key,
			ImportKey: fmt.Sprintf("/%s/%s%d:%d", vm.Name, disk.Controller, disk.Bus, disk.Unit),
			Url:       "https://*/nfc/" + l.ticket + "/" + name,
			Disk:      types.NewBool(true),
			TargetId:  name,
			FileSize:  d.size,
		})
	}
	l.State = types.HttpNfcLeaseStateInitializing
	simulator.Map.Put(l)
	info.Lease = l.Self
	l.deadline = time.Now().Add(nfcLeaseTimeout)
	l.timer = time.AfterFunc(nfcLeaseTimeout, l.expire)
	if l.format == formatRaw {
		// The extents are served as they are: ready at once, hashed while the client downloads.
		l.ready(info)
	}
	go l.prepare(info)
	return l
}

// prepare hashes the disks for the manifest and, for streamOptimized,
// writes each disk's stream to a file of the lease's, then makes the lease
// ready. The disks' files do not change while their VM is powered off (only
// /lab/vm-disk could write to them).
func (l *exportLease) prepare(info *types.HttpNfcLeaseInfo) {
	defer close(l.hashed)
	for i := range info.DeviceUrl {
		u := &info.DeviceUrl[i]
		disk := l.disks[u.TargetId]
		entry, err := l.prepareDisk(&disk)
		if err != nil {
			l.manifestErr = simulator.Fault(err.Error(), &types.FileFault{File: u.TargetId})
			// Not here: a GetManifest holds the lock until hashed is closed.
			go simulator.Map.WithLock(l, func() {
				if l.State == types.HttpNfcLeaseStateInitializing {
					l.end(types.HttpNfcLeaseStateError, &types.LocalizedMethodFault{Fault: &types.FileFault{File: u.TargetId},
						LocalizedMessage: err.Error()})
				}
			})
			return
		}
		l.manifest = append(l.manifest, entry)
		if l.format != formatRaw {
			l.disks[u.TargetId] = disk // only this goroutine uses disks until the lease is ready
			u.FileSize = disk.size
		}
	}
	if l.format != formatRaw {
		simulator.Map.WithLock(l, func() {
			if l.State == types.HttpNfcLeaseStateInitializing {
				l.ready(info)
			}
		})
	}
}

// prepareDisk hashes what disk's url will serve, writing the stream first
// when the lease serves streamOptimized.
func (l *exportLease) prepareDisk(disk *exportDisk) (types.HttpNfcLeaseManifestEntry, error) {
	entry := types.HttpNfcLeaseManifestEntry{Key: disk.key, Disk: true, Capacity: disk.Capacity}
	src, err := openDisk(disk.vmDisk, disk.source)
	if err != nil {
		return entry, err
	}
	defer src.Close()
	entry.PopulatedSize = allocatedBytes(src.base)
	h := sha1.New()
	if l.format == formatRaw {
		entry.Size, err = io.Copy(h, io.NewSectionReader(src, 0, src.size))
	} else {
		var out *os.File
		if out, err = os.CreateTemp(exportDir(), "export-*.vmdk"); err != nil {
			return entry, err
		}
		defer out.Close()
		l.files = append(l.files, out.Name())
		disk.path = out.Name()
		entry.Size, err = writeStreamOptimized(io.MultiWriter(out, h), src, disk.Capacity, filepath.Base(disk.FileName))
		disk.size = entry.Size
	}
	entry.Sha1 = hex.EncodeToString(h.Sum(nil))
	return entry, err
}

// ready publishes the lease's info and serves its urls. Called with l
// locked, or before anyone knows the lease.
func (l *exportLease) ready(info *types.HttpNfcLeaseInfo) {
	l.deadline = time.Now().Add(nfcLeaseTimeout)
	l.timer.Reset(nfcLeaseTimeout)
	exportLeases.Store(l.ticket, l)
	simulator.Map.Update(l, []types.PropertyChange{
		{Name: "info", Val: info}, {Name: "initializeProgress", Val: int32(100)},
		{Name: "state", Val: types.HttpNfcLeaseStateReady},
	})
}

// allocatedBytes is how much of f's file is allocated (its populated size).
func allocatedBytes(f *os.File) int64 {
	st, err := f.Stat()
	if err != nil {
		return 0
	}
	if sys, ok := st.Sys().(*syscall.Stat_t); ok && sys.Blocks*512 < st.Size() {
		return sys.Blocks * 512
	}
	return st.Size()
}

// exportDir holds the streamOptimized streams of the leases: beside the
// datastores' directory (--state-dir's exports/), else the system's
// temporary directory.
func exportDir() string {
	if labDatastoreDir == "" {
		return os.TempDir()
	}
	dir := filepath.Join(filepath.Dir(labDatastoreDir), "exports")
	_ = os.MkdirAll(dir, 0o700)
	return dir
}

// expire ends a lease that was not kept alive.
func (l *exportLease) expire() {
	simulator.Map.WithLock(l, func() {
		if l.State == types.HttpNfcLeaseStateInitializing { // the timeout starts when it is ready
			l.timer.Reset(nfcLeaseTimeout)
			return
		}
		if l.State != types.HttpNfcLeaseStateReady {
			return
		}
		if left := time.Until(l.deadline); left > 0 { // kept alive while this fired
			l.timer.Reset(left)
			return
		}
		l.end(types.HttpNfcLeaseStateError, &types.LocalizedMethodFault{
			Fault: &types.Timedout{}, LocalizedMessage: "The lease timed out: no HttpNfcLeaseProgress for " + nfcLeaseTimeout.String() + ".",
		})
	})
}

// end leaves state ready: the urls stop serving. Called with l locked.
func (l *exportLease) end(state types.HttpNfcLeaseState, fault *types.LocalizedMethodFault) {
	l.timer.Stop()
	exportLeases.Delete(l.ticket)
	go func() { // once the manifest's writer is done with them
		<-l.hashed
		for _, f := range l.files {
			_ = os.Remove(f)
		}
	}()
	changes := []types.PropertyChange{{Name: "state", Val: state}}
	if fault != nil {
		changes = append(changes, types.PropertyChange{Name: "error", Val: fault})
	}
	simulator.Map.Update(l, changes)
}

// notReady is the fault of a call that needs a ready lease, or nil.
func (l *exportLease) notReady() *soap.Fault {
	switch {
	case l.State == types.HttpNfcLeaseStateReady:
		return nil
	case l.Error != nil && isTimedout(l.Error.Fault):
		return simulator.Fault(l.Error.LocalizedMessage, &types.Timedout{})
	default:
		return simulator.Fault("The lease is "+string(l.State)+".", &types.InvalidState{})
	}
}

func isTimedout(f types.BaseMethodFault) bool {
	_, ok := f.(*types.Timedout)
	return ok
}

func (l *exportLease) HttpNfcLeaseProgress(req *types.HttpNfcLeaseProgress) soap.HasFault {
	body := new(methods.HttpNfcLeaseProgressBody)
	if f := l.notReady(); f != nil {
		body.Fault_ = f
		return body
	}
	if req.Percent < 0 || req.Percent > 100 {
		body.Fault_ = simulator.Fault("", &types.InvalidArgument{InvalidProperty: "percent"})
		return body
	}
	l.deadline = time.Now().Add(nfcLeaseTimeout)
	l.timer.Reset(nfcLeaseTimeout)
	simulator.Map.Update(l, []types.PropertyChange{{Name: "transferProgress", Val: req.Percent}})
	body.Res = new(types.HttpNfcLeaseProgressResponse)
	return body
}

func (l *exportLease) HttpNfcLeaseComplete(req *types.HttpNfcLeaseComplete) soap.HasFault {
	body := new(methods.HttpNfcLeaseCompleteBody)
	if f := l.notReady(); f != nil {
		body.Fault_ = f
		return body
	}
	l.end(types.HttpNfcLeaseStateDone, nil)
	body.Res = new(types.HttpNfcLeaseCompleteResponse)
	return body
}

func (l *exportLease) HttpNfcLeaseAbort(req *types.HttpNfcLeaseAbort) soap.HasFault {
	body := new(methods.HttpNfcLeaseAbortBody)
	if f := l.notReady(); f != nil && l.State != types.HttpNfcLeaseStateInitializing {
		body.Fault_ = f
		return body
	}
	fault := req.Fault
	if fault == nil {
		fault = &types.LocalizedMethodFault{Fault: &types.RequestCanceled{}, LocalizedMessage: "The lease was aborted."}
	}
	l.end(types.HttpNfcLeaseStateError, fault)
	body.Res = new(types.HttpNfcLeaseAbortResponse)
	return body
}

func (l *exportLease) HttpNfcLeaseGetManifest(req *types.HttpNfcLeaseGetManifest) soap.HasFault {
	body := new(methods.HttpNfcLeaseGetManifestBody)
	if f := l.notReady(); f != nil {
		body.Fault_ = f
		return body
	}
	<-l.hashed
	if l.manifestErr != nil {
		body.Fault_ = l.manifestErr
		return body
	}
	body.Res = &types.HttpNfcLeaseGetManifestResponse{Returnval: l.manifest}
	return body
}

// serveNFC serves the export leases' disks at /nfc/<ticket>/disk-N.vmdk
// (GET and HEAD, with Range) and gives any other /nfc/ request to 0.24's
// handler (ImportVApp's uploads).
func serveNFC(w http.ResponseWriter, r *http.Request) {
	parts := strings.Split(strings.TrimPrefix(r.URL.Path, "/nfc/"), "/")
	if len(parts) != 2 {
		simulator.ServeNFC(w, r)
		return
	}
	value, ok := exportLeases.Load(parts[0])
	if !ok {
		simulator.ServeNFC(w, r) // an import lease, or none: 404
		return
	}
	lease := value.(*exportLease)
	disk, ok := lease.disks[parts[1]]
	if !ok {
		http.NotFound(w, r)
		return
	}
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		w.Header().Set("Allow", "GET, HEAD")
		http.Error(w, "an export lease's disks are read only", http.StatusMethodNotAllowed)
		return
	}
	var content io.ReadSeeker
	if lease.format == formatRaw { // the disk's bytes, through its snapshots' deltas if any
		reader, err := openDisk(disk.vmDisk, disk.source)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer reader.Close()
		content = io.NewSectionReader(reader, 0, reader.size)
	} else {
		f, err := os.Open(disk.path)
		if err != nil {
			http.NotFound(w, r)
			return
		}
		defer f.Close()
		content = f
	}
	w.Header().Set("Content-Type", "application/octet-stream")
	log.Printf("nfc export %s %s (%s)", r.Method, disk.path, r.Header.Get("Range"))
	http.ServeContent(withNFCRate(w), r, "", lease.created, content)
}
