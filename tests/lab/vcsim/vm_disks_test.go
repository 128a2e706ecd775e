package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// diskLab serves the default inventory as the lab's server does (labHandler,
// /folder, /nfc, /lab/vm-disk) and logs in.
func diskLab(t *testing.T) (context.Context, *vim25.Client, string) {
	_, _, _, model := labModel(t)
	svc := model.Service
	svc.RegisterSDK(simulator.Map)
	serveDatastoreFiles(svc.ServeMux, svc)
	server := httptest.NewServer(labHandler(svc.ServeMux))
	t.Cleanup(server.Close)
	u, err := url.Parse(server.URL + "/sdk")
	if err != nil {
		t.Fatal(err)
	}
	u.User = simulator.DefaultLogin
	svc.Listen = u
	ctx := context.Background()
	c, err := govmomi.NewClient(ctx, u, true)
	if err != nil {
		t.Fatal(err)
	}
	return ctx, c.Client, server.URL
}

// newDiskVM creates a powered-off VM on nfs-a in Cluster-A with one thin
// disk per size (MiB) on an LSI Logic controller, through the API.
func newDiskVM(ctx context.Context, t *testing.T, client *vim25.Client, name string, sizesMB ...int64) *object.VirtualMachine {
	t.Helper()
	cr := named("ClusterComputeResource", "Cluster-A").(*simulator.ClusterComputeResource)
	spec := types.VirtualMachineConfigSpec{
		Name: name, GuestId: string(types.VirtualMachineGuestOsIdentifierOtherGuest64),
		MemoryMB: 512, NumCPUs: 1, DeviceChange: diskDeviceChanges("nfs-a", sizesMB),
		Files: &types.VirtualMachineFileInfo{VmPathName: "[nfs-a]"},
	}
	folder := object.NewFolder(client, datacenterOf(cr.Self).VmFolder)
	created, err := folder.CreateVM(ctx, spec, object.NewResourcePool(client, *cr.ResourcePool), nil)
	ref, err := taskResult(ctx, created, err)
	if err != nil {
		t.Fatalf("create %s: %v", name, err)
	}
	return object.NewVirtualMachine(client, ref)
}

func disksOf(t *testing.T, vm *object.VirtualMachine) []vmDisk {
	t.Helper()
	disks := vmDisks(simulator.Map.Get(vm.Reference()).(*simulator.VirtualMachine))
	if len(disks) == 0 {
		t.Fatalf("%s has no disks", vm.Reference())
	}
	return disks
}

// writeDisk writes data into a VM's disk at offset, as its guest would.
func writeDisk(t *testing.T, base string, vm *object.VirtualMachine, key int32, offset int64, data []byte) int {
	t.Helper()
	u := fmt.Sprintf("%s/lab/vm-disk?vm=%s&disk=%d&offset=%d", base, vm.Reference().Value, key, offset)
	req, _ := http.NewRequest(http.MethodPut, u, bytes.NewReader(data))
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	return res.StatusCode
}

// get reads url with an optional Range header.
func get(t *testing.T, u, rangeHeader string) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, u, nil)
	if rangeHeader != "" {
		req.Header.Set("Range", rangeHeader)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, body
}

func TestVMDisksAreFilesOfTheirCapacityAndTakeGuestWrites(t *testing.T) {
	ctx, client, base := diskLab(t)
	vm := newDiskVM(ctx, t, client, "disky", 4, 2)
	disks := disksOf(t, vm)
	if len(disks) != 2 {
		t.Fatalf("disks: %+v", disks)
	}
	for i, want := range []int64{4 * mib, 2 * mib} {
		st, err := os.Stat(disks[i].Flat())
		if err != nil || st.Size() != want {
			t.Fatalf("disk %d extent: %v %v, want %d bytes", i, st, err, want)
		}
		descriptor, _ := os.ReadFile(disks[i].Descriptor)
		if !strings.Contains(string(descriptor), fmt.Sprintf("RW %d VMFS", want/512)) {
			t.Errorf("disk %d descriptor:\n%s", i, descriptor)
		}
	}
	if disks[0].Controller != "VirtualLsiLogicController" || disks[0].Bus != 0 || disks[1].Unit != 1 {
		t.Errorf("controller and units: %+v", disks)
	}

	data := []byte("written by the guest")
	if got := writeDisk(t, base, vm, disks[0].Key, mib+3, data); got != http.StatusNoContent {
		t.Fatalf("write: %d", got)
	}
	if got := writeDisk(t, base, vm, disks[1].Key, 2*mib-4, data); got != http.StatusRequestedRangeNotSatisfiable {
		t.Errorf("write past the end: %d", got)
	}
	if got := writeDisk(t, base, vm, 9999, 0, data); got != http.StatusNotFound {
		t.Errorf("write to no disk: %d", got)
	}
	// The extent is a datastore file: /folder reads it, with a range.
	var p object.DatastorePath
	p.FromString(disks[0].FileName)
	u := fmt.Sprintf("%s/folder/%s?dcPath=DC1&dsName=nfs-a", base, strings.TrimSuffix(p.Path, ".vmdk")+"-flat.vmdk")
	status, body := get(t, u, fmt.Sprintf("bytes=%d-%d", mib+3, mib+3+int64(len(data))-1))
	if status != http.StatusPartialContent || !bytes.Equal(body, data) {
		t.Errorf("/folder range read: %d %q", status, body)
	}
	if st, _ := os.Stat(disks[0].Flat()); st.Size() != 4*mib {
		t.Errorf("the write changed the extent's size: %d", st.Size())
	}

	// Growing a disk through ReconfigVM_Task grows its extent; its bytes stay.
	disk := object.VirtualDeviceList(vmConfig(ctx, t, vm).Hardware.Device).FindByKey(disks[0].Key).(*types.VirtualDisk)
	disk.CapacityInKB = 8 * 1024
	disk.CapacityInBytes = 8 * mib
	task, err := vm.Reconfigure(ctx, types.VirtualMachineConfigSpec{DeviceChange: []types.BaseVirtualDeviceConfigSpec{
		&types.VirtualDeviceConfigSpec{Operation: types.VirtualDeviceConfigSpecOperationEdit, Device: disk}}})
	if _, err := taskResult(ctx, task, err); err != nil {
		t.Fatal(err)
	}
	content, err := os.ReadFile(disks[0].Flat())
	if err != nil || int64(len(content)) != 8*mib || !bytes.Equal(content[mib+3:mib+3+int64(len(data))], data) {
		t.Errorf("grown extent: %d bytes, %v", len(content), err)
	}
}

func TestInventoryVMsGetTheirDisks(t *testing.T) {
	var inv map[string]interface{}
	must(t, json.Unmarshal(defaultInventoryJSON, &inv))
	dc := inv["datacenters"].([]interface{})[0].(map[string]interface{})
	for _, e := range dc["vms"].([]interface{}) {
		if vm := e.(map[string]interface{}); vm["name"] == "legacy-app01" {
			vm["disks_mb"] = []int64{3, 1}
		}
	}
	path := filepath.Join(t.TempDir(), "inventory.json")
	data, err := json.Marshal(inv)
	must(t, err)
	must(t, os.WriteFile(path, data, 0o600))
	labModelOf(t, path)

	vm := named("VirtualMachine", "legacy-app01").(*simulator.VirtualMachine)
	disks := vmDisks(vm)
	if len(disks) != 2 || disks[0].Controller != "VirtualLsiLogicController" || disks[1].Unit != 1 {
		t.Fatalf("disks: %+v", disks)
	}
	for i, want := range []int64{3 * mib, 1 * mib} {
		if st, err := os.Stat(disks[i].Flat()); err != nil || st.Size() != want {
			t.Errorf("disk %d: %v %v, want %d bytes", i, st, err, want)
		}
	}
	if len(vmDisks(named("VirtualMachine", "legacy-db01").(*simulator.VirtualMachine))) != 0 {
		t.Errorf("legacy-db01 has disks it was not given")
	}
}

func TestEmptyDiskFilesAreGivenTheirCapacity(t *testing.T) {
	ctx, client, _ := diskLab(t)
	vm := newDiskVM(ctx, t, client, "two", 1)
	// A disk whose files 0.24 left empty (as before this program's hook) gets them at build or export.
	d := disksOf(t, vm)[0]
	must(t, os.WriteFile(d.Descriptor, nil, 0o600))
	must(t, os.Truncate(d.Flat(), 0))
	materializeAllDisks(nil)
	if st, _ := os.Stat(d.Flat()); st.Size() != mib {
		t.Errorf("extent: %d bytes", st.Size())
	}
}

func vmConfig(ctx context.Context, t *testing.T, vm *object.VirtualMachine) *types.VirtualMachineConfigInfo {
	t.Helper()
	var got mo.VirtualMachine
	must(t, vm.Properties(ctx, vm.Reference(), []string{"config"}, &got))
	return got.Config
}
