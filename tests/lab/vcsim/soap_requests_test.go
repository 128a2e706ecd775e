package main

import (
	"encoding/json"
	"net/http"
	"strings"
	"testing"

	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/property"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// soapCountsAt reads the counts with an HTTP method (GET reads, POST and DELETE also reset).
func soapCountsAt(t *testing.T, base, method string) soapCountsJSON {
	t.Helper()
	req, err := http.NewRequest(method, base+soapRequestsPath, nil)
	if err != nil {
		t.Fatal(err)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		t.Fatalf("%s %s: status %d", method, soapRequestsPath, res.StatusCode)
	}
	var counts soapCountsJSON
	if err := json.NewDecoder(res.Body).Decode(&counts); err != nil {
		t.Fatal(err)
	}
	return counts
}

func TestSOAPRequestsAreCountedByMethodAndReset(t *testing.T) {
	ctx, client, base := labServer(t)
	hosts, err := find.NewFinder(client).HostSystemList(ctx, "/DC1/host/Cluster-A/*")
	if err != nil {
		t.Fatal(err)
	}
	soapCountsAt(t, base, http.MethodDelete) // the login and the finder's reads
	var content []mo.HostSystem
	pc := property.DefaultCollector(client)
	for i := 0; i < 3; i++ {
		if err := pc.Retrieve(ctx, []types.ManagedObjectReference{hosts[0].Reference()}, []string{"name"}, &content); err != nil {
			t.Fatal(err)
		}
	}

	counts := soapCountsAt(t, base, http.MethodGet)
	if counts.Methods["RetrieveProperties"] != 3 || counts.Total != 3 {
		t.Fatalf("3 reads of the host, counted %+v", counts)
	}
	sum := 0
	for method, n := range counts.Methods {
		if strings.ContainsAny(method, ":<> ") || method == "Body" || method == "Envelope" {
			t.Errorf("method %q is not an element name inside the Body", method)
		}
		sum += n
	}
	if sum != counts.Total || counts.Total == 0 {
		t.Fatalf("total %d, methods %v", counts.Total, counts.Methods)
	}

	again := soapCountsAt(t, base, http.MethodGet)
	if again.Total != counts.Total {
		t.Fatalf("GET changed the counts: %d then %d", counts.Total, again.Total)
	}
	if reset := soapCountsAt(t, base, http.MethodPost); reset.Total != counts.Total {
		t.Fatalf("POST returns the counts before the reset: %d, not %d", reset.Total, counts.Total)
	}
	if after := soapCountsAt(t, base, http.MethodGet); after.Total != 0 || len(after.Methods) != 0 {
		t.Fatalf("counts after the reset: %+v", after)
	}
}

func TestSOAPRequestCountNeedsNoSessionAndRefusesOtherMethods(t *testing.T) {
	_, _, base := labServer(t)
	req, _ := http.NewRequest(http.MethodPut, base+soapRequestsPath, nil)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusMethodNotAllowed {
		t.Fatalf("PUT: status %d", res.StatusCode)
	}
	// A request without a session cookie reads the counts: the bench needs no login.
	soapCountsAt(t, base, http.MethodGet)
}

func TestSOAPMethodIsTheFirstElementOfTheBody(t *testing.T) {
	body := `<?xml version="1.0" encoding="UTF-8"?>
<soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/"><soapenv:Header><operationID>x</operationID></soapenv:Header>
<soapenv:Body><ReconfigureComputeResource_Task xmlns="urn:vim25"><_this type="ClusterComputeResource">domain-c7</_this><spec/></ReconfigureComputeResource_Task></soapenv:Body></soapenv:Envelope>`
	if got := soapMethod([]byte(body)); got != "ReconfigureComputeResource_Task" {
		t.Fatalf("method %q", got)
	}
	if got := soapMethod([]byte("not xml")); got != "(unreadable)" {
		t.Fatalf("method of garbage %q", got)
	}
}
