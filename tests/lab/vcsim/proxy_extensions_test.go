package main

import (
	"context"
	"encoding/binary"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// labSession is a session of its own over HTTP on the lab model.
func labSession(t *testing.T) (context.Context, *vim25.Client) {
	_, _, _, model := labModel(t)
	server := model.Service.NewServer()
	t.Cleanup(server.Close)
	ctx := context.Background()
	c, err := govmomi.NewClient(ctx, server.URL, true)
	if err != nil {
		t.Fatal(err)
	}
	return ctx, c.Client
}

// faultOf is the vim fault of a SOAP error (a value, as the client decodes it), or nil.
func faultOf(err error) interface{} {
	if err != nil && soap.IsSoapFault(err) {
		return soap.ToSoapFault(err).VimFault()
	}
	return nil
}

func TestExtensionManagerRegistersFindsUpdatesAndUnregisters(t *testing.T) {
	ctx, client := labSession(t)
	manager := *client.ServiceContent.ExtensionManager
	find := func() *types.Extension {
		res, err := methods.FindExtension(ctx, client, &types.FindExtension{This: manager, ExtensionKey: "org.openstack.compute"})
		if err != nil {
			t.Fatal(err)
		}
		return res.Returnval
	}
	if find() != nil {
		t.Fatal("an unknown key must find nothing")
	}
	extension := types.Extension{Key: "org.openstack.compute", Version: "1.0",
		Description: &types.Description{Label: "OpenStack", Summary: "OpenStack services"}}
	if _, err := methods.RegisterExtension(ctx, client, &types.RegisterExtension{This: manager, Extension: extension}); err != nil {
		t.Fatal(err)
	}
	if got := find(); got == nil || got.Version != "1.0" {
		t.Fatalf("registered extension not found: %#v", got)
	}
	// Nova's driver takes InvalidArgument as "already registered".
	_, err := methods.RegisterExtension(ctx, client, &types.RegisterExtension{This: manager, Extension: extension})
	if _, ok := faultOf(err).(types.InvalidArgument); !ok {
		t.Fatalf("registering twice: want InvalidArgument, got %v", err)
	}
	extension.Version = "2.0"
	if _, err := methods.UpdateExtension(ctx, client, &types.UpdateExtension{This: manager, Extension: extension}); err != nil {
		t.Fatal(err)
	}
	if got := find(); got == nil || got.Version != "2.0" {
		t.Fatalf("update not kept: %#v", got)
	}
	if _, err := methods.UnregisterExtension(ctx, client, &types.UnregisterExtension{This: manager, ExtensionKey: extension.Key}); err != nil {
		t.Fatal(err)
	}
	_, err = methods.UnregisterExtension(ctx, client, &types.UnregisterExtension{This: manager, ExtensionKey: extension.Key})
	if _, ok := faultOf(err).(types.NotFound); !ok {
		t.Fatalf("unregistering an unknown key: want NotFound, got %v", err)
	}
}

// traversal builds oslo.vmware's recursive traversal spec (vim_util.build_recursive_traversal_spec):
// a resource pool's vm leads to VMs, and a VM has a resourcePool property of its own.
func osloTraversal() types.BaseSelectionSpec {
	named := func(name string) types.BaseSelectionSpec { return &types.SelectionSpec{Name: name} }
	spec := func(name, kind, path string, next ...types.BaseSelectionSpec) *types.TraversalSpec {
		return &types.TraversalSpec{SelectionSpec: types.SelectionSpec{Name: name}, Type: kind, Path: path,
			Skip: types.NewBool(false), SelectSet: next}
	}
	return spec("visitFolders", "Folder", "childEntity", named("visitFolders"),
		spec("h_to_vm", "HostSystem", "vm", named("visitFolders")),
		spec("dc_to_hf", "Datacenter", "hostFolder", named("visitFolders")),
		spec("dc_to_vmf", "Datacenter", "vmFolder", named("visitFolders")),
		spec("cr_to_h", "ComputeResource", "host"),
		spec("cr_to_rp", "ComputeResource", "resourcePool", named("rp_to_rp"), named("rp_to_vm")),
		spec("rp_to_rp", "ResourcePool", "resourcePool", named("rp_to_rp"), named("rp_to_vm")),
		spec("rp_to_vm", "ResourcePool", "vm", named("rp_to_rp"), named("rp_to_vm")))
}

func TestRecursiveTraversalStopsAndHonoursTypes(t *testing.T) {
	ctx, client := labSession(t)
	req := types.RetrievePropertiesEx{
		This: client.ServiceContent.PropertyCollector,
		SpecSet: []types.PropertyFilterSpec{{
			ObjectSet: []types.ObjectSpec{{Obj: client.ServiceContent.RootFolder, SelectSet: []types.BaseSelectionSpec{osloTraversal()}}},
			PropSet:   []types.PropertySpec{{Type: "ClusterComputeResource", PathSet: []string{"name"}}, {Type: "VirtualMachine", PathSet: []string{"name"}}},
		}},
	}
	res, err := methods.RetrievePropertiesEx(ctx, client, &req)
	if err != nil {
		t.Fatal(err)
	}
	names := map[string]bool{}
	for _, o := range res.Returnval.Objects {
		names[o.Obj.Type+"/"+o.PropSet[0].Val.(string)] = true
	}
	for _, want := range []string{"ClusterComputeResource/Cluster-A", "ClusterComputeResource/Cluster-B",
		"VirtualMachine/legacy-db01", "VirtualMachine/legacy-app01"} {
		if !names[want] {
			t.Errorf("%s not selected; got %v", want, names)
		}
	}
	if len(res.Returnval.Objects) != 4 {
		t.Errorf("each object once: got %d objects", len(res.Returnval.Objects))
	}
}

func TestWSDLIsServedAndZonelessDateTimesAccepted(t *testing.T) {
	file := filepath.Join(t.TempDir(), "vimService.wsdl")
	wsdl := `<definitions><types><element name="lastHeartbeatTime" type="xsd:dateTime" /></types>` +
		`<service name="VimService"></service></definitions>`
	if err := os.WriteFile(file, []byte(wsdl), 0o600); err != nil {
		t.Fatal(err)
	}
	doc, err := loadWSDL(file)
	if err != nil {
		t.Fatal(err)
	}
	mux := http.NewServeMux()
	doc.serve(mux)
	var seen string
	mux.HandleFunc("/sdk", func(w http.ResponseWriter, r *http.Request) {
		body, _ := io.ReadAll(r.Body)
		seen = string(body)
	})
	handler := doc.acceptZonelessDateTimes(mux)

	res := httptest.NewRecorder()
	handler.ServeHTTP(res, httptest.NewRequest(http.MethodGet, wsdlPath, nil))
	if res.Code != http.StatusOK || res.Body.String() != wsdl {
		t.Errorf("GET %s: %d %q", wsdlPath, res.Code, res.Body.String())
	}

	body := `<RegisterExtension><extension><lastHeartbeatTime>2026-11-21T06:58:55.166455</lastHeartbeatTime>` +
		`<key>2026-11-21T06:58:55</key><x:lastHeartbeatTime>2026-01-02T03:04:05+01:00</x:lastHeartbeatTime></extension></RegisterExtension>`
	handler.ServeHTTP(httptest.NewRecorder(), httptest.NewRequest(http.MethodPost, "/sdk", strings.NewReader(body)))
	want := `<lastHeartbeatTime>2026-11-21T06:58:55.166455Z</lastHeartbeatTime><key>2026-11-21T06:58:55</key>` +
		`<x:lastHeartbeatTime>2026-01-02T03:04:05+01:00</x:lastHeartbeatTime>`
	if !strings.Contains(seen, want) {
		t.Errorf("only dateTime elements without a zone get one:\n got %s\nwant %s", seen, want)
	}

	if err := os.WriteFile(file, []byte("<html/>"), 0o600); err != nil {
		t.Fatal(err)
	}
	if _, err := loadWSDL(file); err == nil {
		t.Error("a file without VimService must be refused")
	}
	if doc, err := loadWSDL(""); doc != nil || err != nil {
		t.Error("no file: nothing served, no error")
	}
}

func TestCopyConvertsASparseImageAndExtendGrowsIt(t *testing.T) {
	ctx, client := labSession(t)
	dc := datacenterOf(simulator.Map.Any("HostSystem").Reference())
	dir := datastoreNamed(dc, "nfs-a").Info.GetDatastoreInfo().Url
	// A monolithicSparse header: magic, version, flags, then the capacity in sectors.
	header := make([]byte, 512)
	copy(header, "KDMV")
	binary.LittleEndian.PutUint64(header[12:], 2048) // 1 MiB
	if err := os.WriteFile(filepath.Join(dir, "image.vmdk"), header, 0o600); err != nil {
		t.Fatal(err)
	}
	manager := *client.ServiceContent.VirtualDiskManager
	wait := func(ref types.ManagedObjectReference, err error) error {
		if err != nil {
			return err
		}
		return object.NewTask(client, ref).Wait(ctx)
	}
	copyReq := &types.CopyVirtualDisk_Task{This: manager, SourceName: "[nfs-a] image.vmdk", SourceDatacenter: &dc.Self,
		DestName: "[nfs-a] cache/image.vmdk"}
	if err := os.MkdirAll(filepath.Join(dir, "cache"), 0o700); err != nil {
		t.Fatal(err)
	}
	res, err := methods.CopyVirtualDisk_Task(ctx, client, copyReq)
	if err := wait(res.Returnval, err); err != nil {
		t.Fatalf("copy without destDatacenter: %v", err)
	}
	if info, err := os.Stat(filepath.Join(dir, "cache", "image-flat.vmdk")); err != nil || info.Size() != 1<<20 {
		t.Fatalf("flat extent of the capacity expected: %v %v", info, err)
	}
	extend := func(kb int64) error {
		res, err := methods.ExtendVirtualDisk_Task(ctx, client, &types.ExtendVirtualDisk_Task{This: manager,
			Name: "[nfs-a] cache/image.vmdk", Datacenter: &dc.Self, NewCapacityKb: kb})
		return wait(res.Returnval, err)
	}
	if err := extend(4096); err != nil {
		t.Fatal(err)
	}
	descriptor, _ := os.ReadFile(filepath.Join(dir, "cache", "image.vmdk"))
	if info, _ := os.Stat(filepath.Join(dir, "cache", "image-flat.vmdk")); info.Size() != 4<<20 ||
		!strings.Contains(string(descriptor), `RW 8192 VMFS "image-flat.vmdk"`) {
		t.Fatalf("extend: size %d, descriptor %s", info.Size(), descriptor)
	}
	if err := extend(1024); err == nil {
		t.Error("a disk must not shrink")
	}
}

func TestFindAllByUuidFindsNovasVMByInstanceUuid(t *testing.T) {
	ctx, client := labSession(t)
	vm := simulator.Map.Any("VirtualMachine").(*simulator.VirtualMachine)
	res, err := methods.FindAllByUuid(ctx, client, &types.FindAllByUuid{This: *client.ServiceContent.SearchIndex,
		Uuid: vm.Config.InstanceUuid, VmSearch: true, InstanceUuid: types.NewBool(true)})
	if err != nil {
		t.Fatal(err)
	}
	if len(res.Returnval) != 1 || res.Returnval[0] != vm.Self {
		t.Errorf("got %v, want [%v]", res.Returnval, vm.Self)
	}
}

func TestFindByUuidFindsAVMByInstanceAndBiosUuidAndAHost(t *testing.T) {
	ctx, client := labSession(t)
	vm := simulator.Map.Any("VirtualMachine").(*simulator.VirtualMachine)
	host := simulator.Map.Any("HostSystem").(*simulator.HostSystem)
	find := func(uuid string, vmSearch bool, instance bool) *types.ManagedObjectReference {
		res, err := methods.FindByUuid(ctx, client, &types.FindByUuid{This: *client.ServiceContent.SearchIndex,
			Uuid: uuid, VmSearch: vmSearch, InstanceUuid: types.NewBool(instance)})
		if err != nil {
			t.Fatal(err)
		}
		return res.Returnval
	}
	if got := find(vm.Config.InstanceUuid, true, true); got == nil || *got != vm.Self {
		t.Errorf("by instance UUID: got %v, want %v", got, vm.Self)
	}
	if got := find(vm.Config.Uuid, true, false); got == nil || *got != vm.Self {
		t.Errorf("by BIOS UUID: got %v, want %v", got, vm.Self)
	}
	if got := find(host.Summary.Hardware.Uuid, false, false); got == nil || *got != host.Self {
		t.Errorf("host: got %v, want %v", got, host.Self)
	}
	if got := find("00000000-0000-0000-0000-000000000000", true, true); got != nil {
		t.Errorf("no such VM: got %v", got)
	}
}

func TestUploadsToAnESXiHostNameTheDatacenterItHolds(t *testing.T) {
	labModel(t)
	if got := datacenterWithDatastore("nfs-a"); got != "DC1" {
		t.Errorf("nfs-a: got %q", got)
	}
	if got := datacenterWithDatastore("no-such"); got != "" {
		t.Errorf("unknown datastore: got %q", got)
	}
}
