package main

import (
	"bytes"
	"io"
	"net/http"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"
)

// SearchDatastore_Task and SearchDatastoreSubFolders_Task without a
// searchSpec, or with one that has no matchPattern, as vCenter answers them:
// every file of the folder (of each folder, recursively), with only its path
// unless details are asked for; FileNotFound only when the folder itself is
// missing. 0.24 dereferences the nil spec once the folder has a file (a
// panic: the connection drops and the call never gets its task), and with no
// matchPattern it returns nothing. Nova's VMware driver sends no spec in
// ds_util.get_sub_folders, which imagecache.enlist_image calls at every spawn
// on the image's cache folder: the second spawn of an image hung there.
//
// The browser is not wrapped (its searches are the library's own): the call
// is completed here, at the HTTP level, and given to the library's method.

// searchAll is the spec vCenter applies when none, or no matchPattern, is sent.
var searchAll = []string{"*"}

// withDatastoreSearch completes the search spec of the datastore searches
// that 0.24 cannot run and calls the library's browser with it; every other
// call goes to next.
func withDatastoreSearch(next http.Handler) http.Handler {
	return onSOAPCall(next, func(w http.ResponseWriter, r *http.Request, body []byte) {
		r.Body = io.NopCloser(bytes.NewReader(body))
		browser, search := incompleteSearch(body)
		if search == nil {
			next.ServeHTTP(w, r)
			return
		}
		if res := checkSession(next, r); res.status != http.StatusOK {
			res.copyTo(w) // the simulator's NotAuthenticated fault
			return
		}
		var response string
		var task types.ManagedObjectReference
		simulator.Map.WithLock(browser, func() { response, task = search(browser) })
		writeTask(w, response, task)
	})
}

// incompleteSearch decodes a datastore search whose spec needs completing and
// returns its browser and the search to run with the completed spec.
func incompleteSearch(body []byte) (*simulator.HostDatastoreBrowser,
	func(*simulator.HostDatastoreBrowser) (string, types.ManagedObjectReference)) {
	if !bytes.Contains(body, []byte("SearchDatastore")) {
		return nil, nil
	}
	method, err := simulator.UnmarshalBody(types.TypeFunc(), body)
	if err != nil {
		return nil, nil
	}
	browser, ok := simulator.Map.Get(method.This).(*simulator.HostDatastoreBrowser)
	if !ok {
		return nil, nil // the simulator's own fault
	}
	switch req := method.Body.(type) {
	case *types.SearchDatastore_Task:
		spec, ok := completeSpec(req.SearchSpec)
		if !ok {
			return nil, nil
		}
		call := *req
		call.SearchSpec = spec
		return browser, func(b *simulator.HostDatastoreBrowser) (string, types.ManagedObjectReference) {
			res := b.SearchDatastoreTask(&call).(*methods.SearchDatastore_TaskBody)
			return "SearchDatastore_TaskResponse", res.Res.Returnval
		}
	case *types.SearchDatastoreSubFolders_Task:
		spec, ok := completeSpec(req.SearchSpec)
		if !ok {
			return nil, nil
		}
		call := *req
		call.SearchSpec = spec
		return browser, func(b *simulator.HostDatastoreBrowser) (string, types.ManagedObjectReference) {
			res := b.SearchDatastoreSubFoldersTask(&call).(*methods.SearchDatastoreSubFolders_TaskBody)
			return "SearchDatastoreSubFolders_TaskResponse", res.Res.Returnval
		}
	}
	return nil, nil
}

// completeSpec is spec with vCenter's defaults where 0.24 has none (a nil
// spec, no matchPattern), and whether anything was completed. A nil query
// already means every file type in 0.24, and nil details only the path.
func completeSpec(spec *types.HostDatastoreBrowserSearchSpec) (*types.HostDatastoreBrowserSearchSpec, bool) {
	if spec != nil && len(spec.MatchPattern) > 0 {
		return spec, false
	}
	complete := types.HostDatastoreBrowserSearchSpec{}
	if spec != nil {
		complete = *spec
	}
	complete.MatchPattern = searchAll
	return &complete, true
}
