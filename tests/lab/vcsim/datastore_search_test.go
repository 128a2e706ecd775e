package main

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/task"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"
)

// imageCache serves the lab and lays out nova's image cache on nfs-a:
// vmware_base/<image>/<image>.vmdk. It returns nfs-a's browser.
func imageCache(t *testing.T) (context.Context, *vim25.Client, types.ManagedObjectReference, string) {
	_, _, _, model := labModel(t)
	ctx, client, base := serveLab(t, model)
	dc := datacenterOf(simulator.Map.Any("HostSystem").Reference())
	ds := datastoreNamed(dc, "nfs-a")
	dir := filepath.Join(ds.Info.GetDatastoreInfo().Url, "vmware_base", "img-1")
	if err := os.MkdirAll(dir, 0o700); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"img-1.vmdk", "img-1-flat.vmdk"} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("x"), 0o600); err != nil {
			t.Fatal(err)
		}
	}
	return ctx, client, ds.Browser, base
}

// search runs SearchDatastore_Task (or, recurse, SearchDatastoreSubFolders_Task)
// and returns the task's result.
func search(ctx context.Context, t *testing.T, client *vim25.Client, browser types.ManagedObjectReference,
	path string, spec *types.HostDatastoreBrowserSearchSpec, recurse bool) (types.AnyType, error) {
	var ref types.ManagedObjectReference
	if recurse {
		res, err := methods.SearchDatastoreSubFolders_Task(ctx, client,
			&types.SearchDatastoreSubFolders_Task{This: browser, DatastorePath: path, SearchSpec: spec})
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		ref = res.Returnval
	} else {
		res, err := methods.SearchDatastore_Task(ctx, client,
			&types.SearchDatastore_Task{This: browser, DatastorePath: path, SearchSpec: spec})
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		ref = res.Returnval
	}
	info, err := object.NewTask(client, ref).WaitForResult(ctx, nil)
	if err != nil {
		return nil, err
	}
	return info.Result, nil
}

func paths(result types.AnyType) []string {
	var out []string
	if res, ok := result.(types.HostDatastoreBrowserSearchResults); ok {
		for _, f := range res.File {
			out = append(out, f.GetFileInfo().Path)
		}
	}
	return out
}

// novaSpec is ds_util.search_datastore_spec (file_exists, file_size): a
// matchPattern and details, no query.
func novaSpec(name string) *types.HostDatastoreBrowserSearchSpec {
	return &types.HostDatastoreBrowserSearchSpec{MatchPattern: []string{name},
		Details: &types.FileQueryFlags{FileSize: true, FileOwner: types.NewBool(false)}}
}

func TestNovasFileExistsFindsACachedImage(t *testing.T) {
	ctx, client, browser, _ := imageCache(t)
	res, err := search(ctx, t, client, browser, "[nfs-a] vmware_base/img-1", novaSpec("img-1.vmdk"), false)
	if err != nil {
		t.Fatal(err)
	}
	if got := paths(res); len(got) != 1 || got[0] != "img-1.vmdk" {
		t.Fatalf("got %v", got)
	}
	if size := res.(types.HostDatastoreBrowserSearchResults).File[0].GetFileInfo().FileSize; size != 1 {
		t.Errorf("fileSize %d", size)
	}
	// An absent file in an existing folder: an empty result, no fault.
	res, err = search(ctx, t, client, browser, "[nfs-a] vmware_base/img-1", novaSpec("other.vmdk"), false)
	if err != nil || len(paths(res)) != 0 {
		t.Fatalf("absent file: %v %v", paths(res), err)
	}
	// A folder that does not exist: FileNotFound (nova's first spawn of an image).
	_, err = search(ctx, t, client, browser, "[nfs-a] vmware_base/img-2", novaSpec("img-2.vmdk"), false)
	if _, ok := taskFault(err).(*types.FileNotFound); !ok {
		t.Fatalf("missing folder: %v", err)
	}
}

// TestSearchWithoutSpecListsTheFolder is nova's ds_util.get_sub_folders
// (imagecache's timestamp check at every spawn, and its ageing): no
// searchSpec at all, which 0.24 dereferences.
func TestSearchWithoutSpecListsTheFolder(t *testing.T) {
	ctx, client, browser, _ := imageCache(t)
	res, err := search(ctx, t, client, browser, "[nfs-a] vmware_base/img-1", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	if got := paths(res); len(got) != 2 {
		t.Fatalf("no spec: got %v, want both files", got)
	}
	res, err = search(ctx, t, client, browser, "[nfs-a] vmware_base", nil, false)
	if err != nil {
		t.Fatal(err)
	}
	files := res.(types.HostDatastoreBrowserSearchResults).File
	if _, ok := files[0].(*types.FolderFileInfo); len(files) != 1 || !ok || files[0].GetFileInfo().Path != "img-1" {
		t.Fatalf("base folder: got %v", paths(res))
	}
	_, err = search(ctx, t, client, browser, "[nfs-a] vmware_base/img-2", nil, false)
	if _, ok := taskFault(err).(*types.FileNotFound); !ok {
		t.Fatalf("missing folder: %v", err)
	}
	// A spec without matchPattern (or query) matches every file too.
	res, err = search(ctx, t, client, browser, "[nfs-a] vmware_base/img-1",
		&types.HostDatastoreBrowserSearchSpec{Details: &types.FileQueryFlags{FileSize: true}}, false)
	if err != nil || len(paths(res)) != 2 {
		t.Fatalf("no matchPattern: %v %v", paths(res), err)
	}
	// And the recursive search.
	res, err = search(ctx, t, client, browser, "[nfs-a] vmware_base", nil, true)
	if err != nil {
		t.Fatal(err)
	}
	var all []string
	for _, r := range res.(types.ArrayOfHostDatastoreBrowserSearchResults).HostDatastoreBrowserSearchResults {
		for _, f := range r.File {
			all = append(all, r.FolderPath+" "+f.GetFileInfo().Path)
		}
	}
	if len(all) != 3 {
		t.Fatalf("sub folders: got %v", all)
	}
}

func TestSearchNeedsASession(t *testing.T) {
	_, _, browser, base := imageCache(t)
	body := `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">` +
		`<soapenv:Body><SearchDatastore_Task xmlns="urn:vim25"><_this type="HostDatastoreBrowser">` + browser.Value +
		`</_this><datastorePath>[nfs-a] vmware_base/img-1</datastorePath></SearchDatastore_Task></soapenv:Body></soapenv:Envelope>`
	res, err := http.Post(base+"/sdk", "text/xml", strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	var answer strings.Builder
	_, _ = io.Copy(&answer, res.Body)
	if res.StatusCode != http.StatusInternalServerError || !strings.Contains(answer.String(), "NotAuthenticated") {
		t.Errorf("without a session: %d %s", res.StatusCode, answer.String())
	}
}

// taskFault is the fault of a failed task, or nil.
func taskFault(err error) types.BaseMethodFault {
	if taskErr, ok := err.(task.Error); ok {
		return taskErr.Fault()
	}
	return nil
}
