package main

import (
	"context"
	"testing"

	"github.com/vmware/govmomi"
	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/types"
)

// labModel builds the default inventory in-process; the wrappers of
// extend.go are in place, the HTTP-level task hooks of server.go are not.
func labModel(t *testing.T) (context.Context, *vim25.Client, map[string]*simulator.HostSystem, *simulator.Model) {
	return labModelOf(t, "")
}

// labModelOf builds the inventory at path ("": the default one).
func labModelOf(t *testing.T, path string) (context.Context, *vim25.Client, map[string]*simulator.HostSystem, *simulator.Model) {
	inv, err := loadInventory(path)
	if err != nil {
		t.Fatal(err)
	}
	model, err := newModel(inv, t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(model.Remove)
	ctx := context.Background()
	client, err := vim25.NewClient(ctx, model.Service)
	if err != nil {
		t.Fatal(err)
	}
	hosts := map[string]*simulator.HostSystem{}
	for _, e := range simulator.Map.All("HostSystem") {
		host := e.(*simulator.HostSystem)
		hosts[host.Name] = host
	}
	return ctx, client, hosts, model
}

func TestNFSExportIsOneDatastoreMountedPerHost(t *testing.T) {
	ctx, client, hosts, _ := labModel(t)
	spec := types.HostNasVolumeSpec{RemoteHost: "nfs.lab.local", RemotePath: "/exports/nova", LocalPath: "nfs-nova",
		AccessMode: string(types.HostMountModeReadOnly), Type: "NFS"}
	var created []*object.Datastore
	for _, name := range []string{"esx-b1.lab.local", "esx-b2.lab.local"} {
		dss := object.NewHostDatastoreSystem(client, *hosts[name].ConfigManager.DatastoreSystem)
		ds, err := dss.CreateNasDatastore(ctx, spec)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		created = append(created, ds)
	}
	if created[0].Reference() != created[1].Reference() {
		t.Fatalf("two datastores for one export: %v", created)
	}
	ds := simulator.Map.Get(created[0].Reference()).(*simulator.Datastore)
	if ds.Name != "nfs-nova" || len(ds.Host) != 2 || ds.Host[1].MountInfo.AccessMode != "readOnly" {
		t.Errorf("datastore %s mounts %+v", ds.Name, ds.Host)
	}

	other := spec
	other.RemotePath = "/exports/other"
	dss3 := object.NewHostDatastoreSystem(client, *hosts["esx-b3.lab.local"].ConfigManager.DatastoreSystem)
	if _, err := dss3.CreateNasDatastore(ctx, other); err == nil {
		t.Error("a second export under the same name was accepted")
	}

	for i, name := range []string{"esx-b1.lab.local", "esx-b2.lab.local"} {
		dss := object.NewHostDatastoreSystem(client, *hosts[name].ConfigManager.DatastoreSystem)
		if err := dss.Remove(ctx, created[i]); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
	}
	if simulator.Map.Get(created[0].Reference()) != nil {
		t.Error("the datastore outlived its last mount")
	}
}

func TestStandardPortGroupsArePerHost(t *testing.T) {
	ctx, client, hosts, _ := labModel(t)
	spec := types.HostPortGroupSpec{Name: "br100", VlanId: 100, VswitchName: vSwitch}
	b1 := object.NewHostNetworkSystem(client, *hosts["esx-b1.lab.local"].ConfigManager.NetworkSystem)
	b2 := object.NewHostNetworkSystem(client, *hosts["esx-b2.lab.local"].ConfigManager.NetworkSystem)
	for _, ns := range []*object.HostNetworkSystem{b1, b2} {
		if err := ns.AddPortGroup(ctx, spec); err != nil {
			t.Fatal(err)
		}
	}
	if err := b1.AddPortGroup(ctx, spec); err == nil {
		t.Error("a port group was added twice to one host")
	}
	network := networkNamed(datacenterOf(hosts["esx-b1.lab.local"].Self), "br100")
	if network == nil || len(network.Host) != 2 {
		t.Fatalf("network br100: %+v", network)
	}
	if err := b1.RemovePortGroup(ctx, "br100"); err != nil {
		t.Fatal(err)
	}
	if len(network.Host) != 1 || findPortgroup(hosts["esx-b2.lab.local"].Config.Network, "br100") == nil {
		t.Errorf("removing from one host touched the other: %v", network.Host)
	}
}

func TestFirewallIsPerHost(t *testing.T) {
	ctx, client, hosts, _ := labModel(t)
	fs := object.NewHostFirewallSystem(client, *hosts["esx-a1.lab.local"].ConfigManager.FirewallSystem)
	if err := fs.EnableRuleset(ctx, "vnc"); err != nil {
		t.Fatal(err)
	}
	enabled := func(host string) interface{} {
		for _, rs := range hosts[host].Config.Firewall.Ruleset {
			if rs.Key == "vnc" {
				return rs.Enabled
			}
		}
		return nil
	}
	if enabled("esx-a1.lab.local") != true || enabled("esx-a2.lab.local") != false || enabled("esx-b3.lab.local") != nil {
		t.Errorf("vnc: a1 %v, a2 %v, b3 %v", enabled("esx-a1.lab.local"), enabled("esx-a2.lab.local"), enabled("esx-b3.lab.local"))
	}
}

func TestIndexedPropertyPath(t *testing.T) {
	_, _, _, model := labModel(t)
	// A session of its own, over HTTP: the in-process client's session kept
	// the collector it used while the inventory was built.
	server := model.Service.NewServer()
	defer server.Close()
	ctx := context.Background()
	c, err := govmomi.NewClient(ctx, server.URL, true)
	if err != nil {
		t.Fatal(err)
	}
	client := c.Client
	vm := simulator.Map.Any("VirtualMachine").(*simulator.VirtualMachine)
	req := types.RetrievePropertiesEx{
		This: client.ServiceContent.PropertyCollector,
		SpecSet: []types.PropertyFilterSpec{{
			ObjectSet: []types.ObjectSpec{{Obj: vm.Self}},
			PropSet: []types.PropertySpec{{Type: "VirtualMachine",
				PathSet: []string{"name", `config.extraConfig["govcsim"]`, `config.extraConfig["nvp.vm-uuid"]`}}},
		}},
	}
	res, err := methods.RetrievePropertiesEx(ctx, client, &req)
	if err != nil {
		t.Fatal(err)
	}
	props := map[string]interface{}{}
	for _, p := range res.Returnval.Objects[0].PropSet {
		props[p.Name] = p.Val
	}
	option, ok := props[`config.extraConfig["govcsim"]`].(types.OptionValue)
	if len(props) != 2 || props["name"] != vm.Name || !ok || option.Value != "TRUE" {
		t.Errorf("got %#v", props)
	}
	if _, found := props[`config.extraConfig["nvp.vm-uuid"]`]; found {
		t.Error("an absent key must yield no property")
	}
}
