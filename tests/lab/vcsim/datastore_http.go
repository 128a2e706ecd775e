package main

import (
	"net/http"

	"github.com/vmware/govmomi/simulator"
)

// serveDatastoreFiles serves datastore files over HTTPS at /folder/<path>?dcPath=&dsName=,
// as vCenter and ESXi do, and the HttpNfcLease upload URLs at /nfc/. Nova's VMware driver
// uploads images there (oslo.vmware's FileWriteHandle, with a generic service ticket) and
// imports streamOptimized ones through a lease. 0.24 has both handlers but only
// simulator.Service.NewServer registers them, which the lab does not use (server.go).
// As in 0.24, the ticket or session cookie is not checked.
//
// Nova uploads to an ESXi host of the datastore, by the host's name, at vCenter's port,
// and names the datacenter as ESXi does its only one: dcPath=ha-datacenter. The lab's
// simulator is vCenter and every host at once, so that name means the datacenter that
// has a datastore of that name.
//
// Beside them, the lab's own /lab/vm-disk writes into a VM's disk as its guest would
// (vm_disks.go).
func serveDatastoreFiles(mux *http.ServeMux, svc *simulator.Service) {
	mux.HandleFunc("/folder/", func(w http.ResponseWriter, r *http.Request) {
		query := r.URL.Query()
		if query.Get("dcPath") == "ha-datacenter" {
			if dc := datacenterWithDatastore(query.Get("dsName")); dc != "" {
				query.Set("dcPath", dc)
				r.URL.RawQuery = query.Encode()
			}
		}
		svc.ServeDatastore(w, r)
	})
	mux.HandleFunc("/nfc/", serveNFC) // export leases' disks (export_vm.go), else 0.24's import uploads
	serveVMDiskWrites(mux)
	serveNFCRate(mux)
}

// datacenterWithDatastore is the name of the one datacenter with a datastore named name, or "".
func datacenterWithDatastore(name string) string {
	found := ""
	for _, e := range simulator.Map.All("Datacenter") {
		dc := e.(*simulator.Datacenter)
		if datastoreNamed(dc, name) != nil {
			if found != "" {
				return ""
			}
			found = dc.Name
		}
	}
	return found
}
