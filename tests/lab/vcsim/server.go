package main

import (
	"bytes"
	"crypto/tls"
	"encoding/base64"
	"encoding/xml"
	"io"
	"log"
	"net"
	"net/http"
	"net/url"
	"time"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/types"
)

// newServer returns an HTTPS server for svc on listener.
//
// simulator.Service.NewServer is not used: it panics when the address is
// taken, cannot be shut down gracefully and leaves no place to hook calls.
// This is the part of it the lab needs.
func newServer(svc *simulator.Service, listener net.Listener, cert tls.Certificate, user *url.Userinfo) *http.Server {
	addr := listener.Addr().String()

	// The session manager checks logins against Listen's user info.
	svc.Listen = &url.URL{Scheme: "https", Host: addr, Path: "/sdk", User: user}
	sessions := simulator.Map.SessionManager()
	sessions.ServiceHostName = addr
	sessions.TLSCert = func() string { return base64.StdEncoding.EncodeToString(cert.Certificate[0]) }

	svc.RegisterSDK(simulator.Map) // serves /sdk on svc.ServeMux
	mux := svc.ServeMux
	// pyVmomi negotiates the API version from this file before logging in.
	mux.HandleFunc("/sdk/vimServiceVersions.xml", svc.ServiceVersions)
	mux.HandleFunc("/about", svc.About)

	// IdleTimeout: without it, ReadHeaderTimeout also bounds the wait for the
	// next request on a kept-alive connection, so a client idle for 30 s (a
	// test's pyVmomi session while a play runs) wrote its next call into a
	// closed socket and failed with SSLEOFError. vCenter waits much longer.
	return &http.Server{
		Handler:           labHandler(mux),
		TLSConfig:         &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 30 * time.Second,
		IdleTimeout:       10 * time.Minute,
		ErrorLog:          log.Default(),
	}
}

// labHandler is the simulator's SOAP handler with the lab's HTTP-level
// extensions: Destroy_Task of clusters and datacenters, ExportVm and
// QueryChangedDiskAreas (export_vm.go, cbt.go), the task hooks, the hosts'
// usage with DRS placement at power-on (capacity.go), and datastore searches
// without a spec or matchPattern (datastore_search.go); around them all, the
// count of SOAP requests by method (soap_requests.go).
func labHandler(mux http.Handler) http.Handler {
	return withSOAPCounts(soapRequests, withEntityDestroy(withLabVMMethods(withTaskHooks(withCapacity(withDatastoreSearch(mux))))))
}

// soapRequests counts the SOAP requests the server has served.
var soapRequests = newSOAPCounts()

// taskHooks complete SOAP methods whose effects the 0.24 simulator leaves
// out. A hook runs after the method's task has succeeded and before the
// client sees the response, so a client that waits for the task and then
// reads properties observes the completed change.
var taskHooks = map[string]func(*simulator.Method){
	"ReconfigureComputeResource_Task": reconfigureCluster,
	"EnterMaintenanceMode_Task":       func(*simulator.Method) { refreshSummaries() },
	"ExitMaintenanceMode_Task":        func(*simulator.Method) { refreshSummaries() },
	"AddHost_Task":                    hostsAdded,
	"AddStandaloneHost_Task":          hostsAdded,
	"AddDVPortgroup_Task":             addedPortgroups,
	"ReconfigureDVPortgroup_Task":     reconfiguredPortgroup,
	"Destroy_Task":                    destroyedPortgroup,
	"CreateVM_Task":                   vmDisksChanged,
	"ReconfigVM_Task":                 vmDisksChanged,
	"CloneVM_Task":                    vmDisksChanged,
	"CreateSnapshot_Task":             snapshotCreated,
	"RemoveSnapshot_Task":             snapshotsRemoved,
	"RemoveAllSnapshots_Task":         snapshotsRemoved,
	"RevertToSnapshot_Task":           snapshotReverted,
	"RevertToCurrentSnapshot_Task":    snapshotReverted,
}

func reconfigureCluster(m *simulator.Method) {
	req := m.Body.(*types.ReconfigureComputeResource_Task)
	cluster, ok := simulator.Map.Get(req.This).(*simulator.ClusterComputeResource)
	spec, isEx := req.Spec.(*types.ClusterConfigSpecEx)
	if !ok || !isEx {
		return
	}
	simulator.Map.WithLock(cluster, func() { applyClusterConfig(cluster, spec, req.Modify) })
}

// onSOAPCall wraps next so that handle reads the whole body of each SOAP call
// to /sdk; handle gives next a body to read again. Other requests go to next.
func onSOAPCall(next http.Handler, handle func(w http.ResponseWriter, r *http.Request, body []byte)) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Method != http.MethodPost || r.URL.Path != "/sdk" {
			next.ServeHTTP(w, r)
			return
		}
		body, err := io.ReadAll(r.Body)
		if err != nil {
			http.Error(w, err.Error(), http.StatusBadRequest)
			return
		}
		handle(w, r, body)
	})
}

// withTaskHooks runs taskHooks around next, the simulator's SOAP handler.
func withTaskHooks(next http.Handler) http.Handler {
	return onSOAPCall(next, func(w http.ResponseWriter, r *http.Request, body []byte) {
		r.Body = io.NopCloser(bytes.NewReader(body))

		method, hook := hookFor(body)
		if hook == nil {
			next.ServeHTTP(w, r)
			return
		}

		owner := snapshotOwner(method) // before the call: RemoveSnapshot_Task unregisters the snapshot
		restore := preserveCloneSource(method)
		res := newBufferedResponse()
		next.ServeHTTP(res, r)
		task := responseTask(res.body.Bytes())
		succeeded := task != nil && task.Info.State == types.TaskInfoStateSuccess
		if succeeded {
			hook(method)
		}
		if restore != nil {
			var clone *types.ManagedObjectReference
			if succeeded {
				if ref, ok := task.Info.Result.(types.ManagedObjectReference); ok {
					clone = &ref
				}
			}
			restore(clone)
		}
		if owner != nil {
			taskOnVM(task, owner)
		}
		res.copyTo(w)
	})
}

// hookFor decodes the SOAP request only when it may call a hooked method:
// decoding every request would double the simulator's XML work.
func hookFor(body []byte) (*simulator.Method, func(*simulator.Method)) {
	for name := range taskHooks {
		if !bytes.Contains(body, []byte(name)) {
			continue
		}
		method, err := simulator.UnmarshalBody(types.TypeFunc(), body)
		if err != nil {
			return nil, nil
		}
		return method, taskHooks[method.Name]
	}
	return nil, nil
}

// taskSucceeded reports whether a SOAP response returns a Task that has
// completed successfully. Simulator tasks run synchronously, so the task
// is already finished when the response is written.
func taskSucceeded(response []byte) bool {
	task := responseTask(response)
	return task != nil && task.Info.State == types.TaskInfoStateSuccess
}

// responseTask is the Task a SOAP response returns, or nil.
func responseTask(response []byte) *simulator.Task {
	var envelope struct {
		Body struct {
			Response struct {
				Returnval struct {
					Type  string `xml:"type,attr"`
					Value string `xml:",chardata"`
				} `xml:"returnval"`
			} `xml:",any"`
		}
	}
	if err := xml.Unmarshal(response, &envelope); err != nil {
		return nil
	}
	returnval := envelope.Body.Response.Returnval
	if returnval.Type != "Task" {
		return nil
	}
	ref := types.ManagedObjectReference{Type: "Task", Value: returnval.Value}
	task, _ := simulator.Map.Get(ref).(*simulator.Task)
	return task
}

// snapshotOwner is the VM of the snapshot a method is called on, or nil.
func snapshotOwner(m *simulator.Method) *simulator.VirtualMachine {
	if snapshot, ok := simulator.Map.Get(m.This).(*simulator.VirtualMachineSnapshot); ok {
		vm, _ := simulator.Map.Get(snapshot.Vm).(*simulator.VirtualMachine)
		return vm
	}
	return nil
}

// taskOnVM makes a snapshot's task (RemoveSnapshot_Task,
// RevertToSnapshot_Task) the VM's, as in vCenter: 0.24 gives it the
// snapshot as info.entity, which is no ManagedEntity, and pyVmomi fails to
// read the task ("expected type vim.ManagedEntity, but got vim.vm.Snapshot").
func taskOnVM(task *simulator.Task, vm *simulator.VirtualMachine) {
	if task == nil {
		return
	}
	simulator.Map.WithLock(task, func() {
		simulator.Map.Update(task, []types.PropertyChange{
			{Name: "info.entity", Val: vm.Self}, {Name: "info.entityName", Val: vm.Name},
		})
	})
}

// bufferedResponse holds a response back until the hook has run.
type bufferedResponse struct {
	header http.Header
	status int
	body   bytes.Buffer
}

func newBufferedResponse() *bufferedResponse {
	return &bufferedResponse{header: http.Header{}, status: http.StatusOK}
}

func (b *bufferedResponse) Header() http.Header         { return b.header }
func (b *bufferedResponse) Write(p []byte) (int, error) { return b.body.Write(p) }
func (b *bufferedResponse) WriteHeader(status int)      { b.status = status }

func (b *bufferedResponse) copyTo(w http.ResponseWriter) {
	for key, values := range b.header {
		w.Header()[key] = values
	}
	w.WriteHeader(b.status)
	_, _ = w.Write(b.body.Bytes())
}
