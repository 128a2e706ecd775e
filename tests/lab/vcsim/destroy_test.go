package main

import (
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/find"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/types"
)

// labServer serves the lab model through labHandler, as the lab's server does.
func labServer(t *testing.T) (context.Context, *vim25.Client, string) {
	_, _, _, model := labModel(t)
	return serveLab(t, model)
}

// serveLab serves model through labHandler and logs in.
func serveLab(t *testing.T, model *simulator.Model) (context.Context, *vim25.Client, string) {
	svc := model.Service
	svc.RegisterSDK(simulator.Map)
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

func destroy(ctx context.Context, t *testing.T, client *vim25.Client, ref types.ManagedObjectReference) {
	task, err := object.NewCommon(client, ref).Destroy(ctx)
	if err != nil {
		t.Fatalf("destroy %s: %v", ref, err)
	}
	if err := task.Wait(ctx); err != nil {
		t.Fatalf("destroy %s: %v", ref, err)
	}
}

func named(kind, name string) mo.Reference {
	for _, e := range simulator.Map.All(kind) {
		if e.(mo.Entity).Entity().Name == name {
			return e
		}
	}
	return nil
}

func TestDestroyingAClusterTakesItsHostsVMsAndUnsharedStorageAlong(t *testing.T) {
	ctx, client, _ := labServer(t)
	cluster := named("ClusterComputeResource", "Cluster-B").(*simulator.ClusterComputeResource)
	hosts := append([]types.ManagedObjectReference(nil), cluster.Host...)
	nfsB := named("Datastore", "nfs-b").Reference()
	nfsA := named("Datastore", "nfs-a").(*simulator.Datastore)
	mountsA := len(nfsA.Host)

	destroy(ctx, t, client, cluster.Self)

	if simulator.Map.Get(cluster.Self) != nil || named("ClusterComputeResource", "Cluster-B") != nil {
		t.Error("the cluster is still there")
	}
	for _, ref := range hosts {
		if simulator.Map.Get(ref) != nil {
			t.Errorf("host %s is still there", ref)
		}
	}
	for _, name := range []string{"legacy-app01", "legacy-db01"} {
		if named("VirtualMachine", name) != nil {
			t.Errorf("VM %s of a removed host is still registered", name)
		}
	}
	if simulator.Map.Get(nfsB) != nil {
		t.Error("nfs-b, mounted only by the cluster's hosts, is still there")
	}
	if named("ClusterComputeResource", "Cluster-A") == nil || len(nfsA.Host) != mountsA {
		t.Error("the other cluster or its storage changed")
	}
	dc := datacenterOf(named("ClusterComputeResource", "Cluster-A").Reference())
	if simulator.FindReference(dc.Datastore, nfsB) != nil {
		t.Error("the datacenter still lists nfs-b")
	}
	clusters, err := find.NewFinder(client).ClusterComputeResourceList(ctx, "*")
	if err != nil || len(clusters) != 1 {
		t.Errorf("a client sees %v (%v)", clusters, err)
	}
}

func TestDestroyingADatacenterTakesEverythingInItAlong(t *testing.T) {
	ctx, client, _ := labServer(t)
	root := object.NewRootFolder(client)
	created, err := root.CreateDatacenter(ctx, "DC-new")
	if err != nil {
		t.Fatal(err)
	}
	folders, err := created.Folders(ctx)
	if err != nil {
		t.Fatal(err)
	}
	cluster, err := folders.HostFolder.CreateCluster(ctx, "Cluster-new", types.ClusterConfigSpecEx{})
	if err != nil {
		t.Fatal(err)
	}
	task, err := cluster.AddHost(ctx, types.HostConnectSpec{HostName: "esx-new.lab.local"}, true, nil, nil)
	if err != nil || task.Wait(ctx) != nil {
		t.Fatalf("add host: %v", err)
	}

	// A cluster destroyed, another made in its place: the datacenter keeps what a new cluster needs.
	destroy(ctx, t, client, cluster.Reference())
	again, err := folders.HostFolder.CreateCluster(ctx, "Cluster-again", types.ClusterConfigSpecEx{})
	if err != nil {
		t.Fatal(err)
	}

	destroy(ctx, t, client, created.Reference())
	if simulator.Map.Get(again.Reference()) != nil {
		t.Error("the second cluster outlived its datacenter")
	}
	if simulator.Map.Get(created.Reference()) != nil || simulator.Map.Get(cluster.Reference()) != nil ||
		simulator.Map.Get(folders.HostFolder.Reference()) != nil || named("HostSystem", "esx-new.lab.local") != nil {
		t.Error("the datacenter or something in it is still there")
	}
	if simulator.FindReference(simulator.Map.Get(root.Reference()).(*simulator.Folder).ChildEntity, created.Reference()) != nil {
		t.Error("the root folder still lists the datacenter")
	}

	// The lab's own datacenter, with clusters, hosts, VMs, datastores and a distributed switch.
	lab := named("Datacenter", "DC1").Reference()
	destroy(ctx, t, client, lab)
	for _, kind := range []string{"Datacenter", "ClusterComputeResource", "HostSystem", "VirtualMachine", "Datastore"} {
		if left := simulator.Map.All(kind); len(left) != 0 {
			t.Errorf("%d %s left", len(left), kind)
		}
	}
}

func TestDestroyNeedsASession(t *testing.T) {
	_, _, base := labServer(t)
	cluster := named("ClusterComputeResource", "Cluster-A").Reference()
	body := `<?xml version="1.0" encoding="UTF-8"?><soapenv:Envelope xmlns:soapenv="http://schemas.xmlsoap.org/soap/envelope/">` +
		`<soapenv:Body><Destroy_Task xmlns="urn:vim25"><_this type="ClusterComputeResource">` + cluster.Value +
		`</_this></Destroy_Task></soapenv:Body></soapenv:Envelope>`
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
	if simulator.Map.Get(cluster) == nil {
		t.Error("the cluster was destroyed without a session")
	}
}
