package main

import (
	"bytes"
	"context"
	"crypto/sha1"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

func leaseOf(ctx context.Context, t *testing.T, client *vim25.Client, ref types.ManagedObjectReference) mo.HttpNfcLease {
	t.Helper()
	var lease mo.HttpNfcLease
	must(t, property.DefaultCollector(client).RetrieveOne(ctx, ref, []string{"state", "info", "error", "transferProgress"}, &lease))
	return lease
}

func exportVm(ctx context.Context, client *vim25.Client, vm *object.VirtualMachine) (types.ManagedObjectReference, error) {
	res, err := methods.ExportVm(ctx, client, &types.ExportVm{This: vm.Reference()})
	if err != nil {
		return types.ManagedObjectReference{}, err
	}
	return res.Returnval, nil
}

func progress(ctx context.Context, client *vim25.Client, lease types.ManagedObjectReference, percent int32) error {
	_, err := methods.HttpNfcLeaseProgress(ctx, client, &types.HttpNfcLeaseProgress{This: lease, Percent: percent})
	return err
}

// readyLease waits for an export lease to leave state initializing.
func readyLease(ctx context.Context, t *testing.T, client *vim25.Client, ref types.ManagedObjectReference) mo.HttpNfcLease {
	t.Helper()
	for i := 0; i < 100; i++ {
		if lease := leaseOf(ctx, t, client, ref); lease.State != types.HttpNfcLeaseStateInitializing {
			return lease
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("lease %s still initializing", ref)
	return mo.HttpNfcLease{}
}

// withExportFormat sets what export leases serve for one test.
func withExportFormat(t *testing.T, format string) {
	saved := nfcExportFormat
	nfcExportFormat = format
	t.Cleanup(func() { nfcExportFormat = saved })
}

// rawBytesOf is the disk a download holds: itself if raw, else qemu-img's conversion of it.
func rawBytesOf(t *testing.T, format string, download []byte) []byte {
	t.Helper()
	if format == formatRaw {
		return download
	}
	if !bytes.HasPrefix(download, []byte("KDMV")) {
		t.Fatalf("not a sparse VMDK: %q", download[:16])
	}
	qemuImg, err := exec.LookPath("qemu-img")
	if err != nil {
		t.Skip("qemu-img not installed: the stream cannot be converted")
	}
	dir := t.TempDir()
	vmdk, raw := filepath.Join(dir, "disk.vmdk"), filepath.Join(dir, "disk.raw")
	must(t, os.WriteFile(vmdk, download, 0o600))
	if msg, err := exec.Command(qemuImg, "convert", "-f", "vmdk", "-O", "raw", vmdk, raw).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img convert: %v\n%s", err, msg)
	}
	converted, err := os.ReadFile(raw)
	must(t, err)
	return converted
}

func TestExportVmLeaseServesEachDiskWithRangesAndAManifest(t *testing.T) {
	for _, format := range []string{formatStreamOptimized, formatRaw} {
		t.Run(format, func(t *testing.T) { testExport(t, format) })
	}
}

func testExport(t *testing.T, format string) {
	withExportFormat(t, format)
	ctx, client, base := diskLab(t)
	vm := newDiskVM(ctx, t, client, "export-me", 3, 1)
	disks := disksOf(t, vm)
	data := bytes.Repeat([]byte("0123456789abcdef"), 4096) // 64 KiB
	if got := writeDisk(t, base, vm, disks[0].Key, 5000, data); got != http.StatusNoContent {
		t.Fatalf("write: %d", got)
	}
	want, _ := os.ReadFile(disks[0].Flat())

	// Refused while powered on, as vCenter does.
	must(t, startVM(ctx, vm))
	_, err := exportVm(ctx, client, vm)
	if f, ok := faultOf(err).(types.InvalidPowerState); !ok || f.ExistingState != types.VirtualMachinePowerStatePoweredOn {
		t.Fatalf("export of a running VM: %v (%#v)", err, faultOf(err))
	}
	off, err := vm.PowerOff(ctx)
	must(t, err)
	must(t, off.Wait(ctx))

	ref, err := exportVm(ctx, client, vm)
	must(t, err)
	lease := readyLease(ctx, t, client, ref)
	if lease.State != types.HttpNfcLeaseStateReady || lease.Info.Entity != vm.Reference() || lease.Info.Lease != ref {
		t.Fatalf("lease: %+v", lease)
	}
	if lease.Info.TotalDiskCapacityInKB != 4*1024 || lease.Info.LeaseTimeout != int32(nfcLeaseTimeout/time.Second) {
		t.Errorf("capacity %d KB, timeout %d s", lease.Info.TotalDiskCapacityInKB, lease.Info.LeaseTimeout)
	}
	urls := lease.Info.DeviceUrl
	if len(urls) != 2 {
		t.Fatalf("deviceUrl: %+v", urls)
	}
	wantKey := "/" + vm.Reference().Value + "/VirtualLsiLogicController0:"
	for i, u := range urls {
		if u.Key != fmt.Sprintf("%s%d", wantKey, i) || u.TargetId != fmt.Sprintf("disk-%d.vmdk", i) ||
			!isTrue(u.Disk) || !strings.HasPrefix(u.Url, "https://*/nfc/") || u.FileSize <= 0 {
			t.Errorf("deviceUrl %d: %+v", i, u)
		}
	}
	if format == formatRaw && (urls[0].FileSize != disks[0].Capacity || urls[1].FileSize != disks[1].Capacity) {
		t.Errorf("raw file sizes: %d, %d", urls[0].FileSize, urls[1].FileSize)
	}

	// The download, resumed with a Range in the middle.
	u := strings.Replace(urls[0].Url, "https://*", base, 1)
	half := urls[0].FileSize / 2
	status, first := get(t, u, fmt.Sprintf("bytes=0-%d", half-1))
	if status != http.StatusPartialContent {
		t.Fatalf("first half: %d", status)
	}
	status, rest := get(t, u, fmt.Sprintf("bytes=%d-", half))
	if status != http.StatusPartialContent {
		t.Fatalf("second half: %d", status)
	}
	got := append(first, rest...)
	if int64(len(got)) != urls[0].FileSize {
		t.Errorf("downloaded %d bytes, fileSize %d", len(got), urls[0].FileSize)
	}
	if status, _ := get(t, u+"x", ""); status != http.StatusNotFound {
		t.Errorf("unknown disk: %d", status)
	}

	res, err := methods.HttpNfcLeaseGetManifest(ctx, client, &types.HttpNfcLeaseGetManifest{This: ref})
	must(t, err)
	manifest := res.Returnval
	if len(manifest) != 2 {
		t.Fatalf("manifest: %+v", manifest)
	}
	sum := sha1.Sum(got)
	if m := manifest[0]; m.Key != urls[0].Key || m.Sha1 != hex.EncodeToString(sum[:]) || m.Size != int64(len(got)) ||
		!m.Disk || m.Capacity != 3*mib || m.PopulatedSize <= 0 || m.PopulatedSize > m.Capacity {
		t.Errorf("manifest entry: %+v", m)
	}
	if sha256.Sum256(rawBytesOf(t, format, got)) != sha256.Sum256(want) {
		t.Errorf("the download does not hold the disk's %d bytes", len(want))
	}
	_, zeros := get(t, strings.Replace(urls[1].Url, "https://*", base, 1), "")
	if !bytes.Equal(rawBytesOf(t, format, zeros), make([]byte, mib)) {
		t.Errorf("an unwritten disk's download: %d bytes", len(zeros))
	}

	must(t, progress(ctx, client, ref, 50))
	if got := leaseOf(ctx, t, client, ref).TransferProgress; got != 50 {
		t.Errorf("transferProgress: %d", got)
	}
	if err := progress(ctx, client, ref, 101); faultOf(err) == nil {
		t.Errorf("progress 101: %v", err)
	}
	_, err = methods.HttpNfcLeaseComplete(ctx, client, &types.HttpNfcLeaseComplete{This: ref})
	must(t, err)
	if got := leaseOf(ctx, t, client, ref).State; got != types.HttpNfcLeaseStateDone {
		t.Errorf("state after complete: %s", got)
	}
	if status, _ := get(t, u, ""); status != http.StatusNotFound {
		t.Errorf("download after complete: %d", status)
	}
	if _, ok := faultOf(progress(ctx, client, ref, 60)).(types.InvalidState); !ok {
		t.Errorf("progress after complete: %#v", faultOf(progress(ctx, client, ref, 60)))
	}
	var left []os.DirEntry
	for i := 0; i < 50; i++ { // the streams go once the lease is over
		if left, _ = os.ReadDir(exportDir()); len(left) == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(left) != 0 {
		t.Errorf("streams left in %s: %v", exportDir(), left)
	}
}

func TestExportLeaseTimesOutWithoutProgress(t *testing.T) {
	saved := nfcLeaseTimeout
	nfcLeaseTimeout = 400 * time.Millisecond
	t.Cleanup(func() { nfcLeaseTimeout = saved })
	ctx, client, base := diskLab(t)
	vm := newDiskVM(ctx, t, client, "slow-reader", 1)

	ref, err := exportVm(ctx, client, vm)
	must(t, err)
	u := strings.Replace(readyLease(ctx, t, client, ref).Info.DeviceUrl[0].Url, "https://*", base, 1)
	for i := 0; i < 4; i++ { // kept alive past its timeout
		time.Sleep(200 * time.Millisecond)
		must(t, progress(ctx, client, ref, int32(10*i)))
	}
	if status, _ := get(t, u, "bytes=0-0"); status != http.StatusPartialContent {
		t.Fatalf("download while kept alive: %d", status)
	}
	time.Sleep(700 * time.Millisecond)
	lease := leaseOf(ctx, t, client, ref)
	if lease.State != types.HttpNfcLeaseStateError || lease.Error == nil {
		t.Fatalf("after the timeout: %+v", lease)
	}
	if _, ok := lease.Error.Fault.(*types.Timedout); !ok {
		t.Errorf("error: %#v", lease.Error.Fault)
	}
	if _, ok := faultOf(progress(ctx, client, ref, 90)).(types.Timedout); !ok {
		t.Errorf("progress after the timeout: %#v", faultOf(progress(ctx, client, ref, 90)))
	}
	if status, _ := get(t, u, ""); status != http.StatusNotFound {
		t.Errorf("download after the timeout: %d", status)
	}
}

func TestExportLeaseAbortAndSession(t *testing.T) {
	ctx, client, base := diskLab(t)
	vm := newDiskVM(ctx, t, client, "aborted", 1)
	ref, err := exportVm(ctx, client, vm)
	must(t, err)
	_, err = methods.HttpNfcLeaseAbort(ctx, client, &types.HttpNfcLeaseAbort{This: ref})
	must(t, err)
	lease := leaseOf(ctx, t, client, ref)
	if _, ok := lease.Error.Fault.(*types.RequestCanceled); lease.State != types.HttpNfcLeaseStateError || !ok {
		t.Errorf("after abort: %s %#v", lease.State, lease.Error)
	}
	// The VM can be exported again, and powered on once its leases are over.
	ref2, err := exportVm(ctx, client, vm)
	must(t, err)
	readyLease(ctx, t, client, ref2)
	_, err = methods.HttpNfcLeaseComplete(ctx, client, &types.HttpNfcLeaseComplete{This: ref2})
	must(t, err)
	must(t, startVM(ctx, vm))

	// Without a session, ExportVm is the simulator's NotAuthenticated.
	anonymous, err := soap.ParseURL(base + "/sdk")
	must(t, err)
	bare, err := vim25.NewClient(ctx, soap.NewClient(anonymous, true))
	must(t, err)
	if _, err := exportVm(ctx, bare, vm); !isNotAuthenticated(err) {
		t.Errorf("without a session: %v", err)
	}
}

func isNotAuthenticated(err error) bool {
	_, ok := faultOf(err).(types.NotAuthenticated)
	return ok
}
