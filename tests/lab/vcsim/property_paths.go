package main

import (
	"reflect"
	"regexp"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/simulator/vpx"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// propertyCollector answers property paths that select one element of an
// array property by its key, such as config.extraConfig["nvp.vm-uuid"].
// vCenter supports them (nova's VMware driver finds its VMs with exactly
// that path) and they let a client read one extra config key of every VM
// without the whole list; 0.24 answers them with InvalidProperty.
//
// It embeds the simulator's collector by value: the simulator makes one
// collector per session with reflect.New of the registered type.
type propertyCollector struct {
	simulator.PropertyCollector
}

// installPropertyCollector replaces the root PropertyCollector. The new
// one starts empty, as the per-session ones the simulator clones from it.
func installPropertyCollector() {
	pc := &propertyCollector{}
	pc.Self = vpx.ServiceContent.PropertyCollector
	simulator.Map.Put(pc)
}

var indexedPath = regexp.MustCompile(`^(.+)\["([^"]*)"\]$`)

type indexed struct{ base, key string }

func (pc *propertyCollector) RetrievePropertiesEx(ctx *simulator.Context, req *types.RetrievePropertiesEx) soap.HasFault {
	selected, fault := selectObjects(ctx, req.SpecSet) // traversal.go
	if fault != nil {
		return &methods.RetrievePropertiesExBody{Fault_: simulator.Fault("", fault)}
	}
	specs, wanted, direct := splitIndexedPaths(selected)
	plain := *req
	plain.SpecSet = specs
	if len(wanted) == 0 {
		return pc.PropertyCollector.RetrievePropertiesEx(ctx, &plain)
	}
	res := pc.PropertyCollector.RetrievePropertiesEx(ctx, &plain)
	body, ok := res.(*methods.RetrievePropertiesExBody)
	if !ok || body.Res == nil || body.Res.Returnval == nil {
		return res
	}
	for i := range body.Res.Returnval.Objects {
		selectIndexed(&body.Res.Returnval.Objects[i], wanted, direct)
	}
	return body
}

// splitIndexedPaths returns a copy of specs that asks for the whole array
// behind each indexed path, the indexed paths asked for, and the plain
// paths asked for (which stay in the answer).
func splitIndexedPaths(specs []types.PropertyFilterSpec) ([]types.PropertyFilterSpec, map[string]indexed, map[string]bool) {
	wanted := map[string]indexed{}
	direct := map[string]bool{}
	out := make([]types.PropertyFilterSpec, len(specs))
	for i, spec := range specs {
		out[i] = spec
		out[i].PropSet = make([]types.PropertySpec, len(spec.PropSet))
		for j, ps := range spec.PropSet {
			var paths []string
			seen := map[string]bool{}
			for _, path := range ps.PathSet {
				if m := indexedPath.FindStringSubmatch(path); m != nil {
					wanted[path] = indexed{base: m[1], key: m[2]}
					path = m[1]
				} else {
					direct[path] = true
				}
				if !seen[path] {
					seen[path] = true
					paths = append(paths, path)
				}
			}
			ps.PathSet = paths
			out[i].PropSet[j] = ps
		}
	}
	return out, wanted, direct
}

// selectIndexed replaces each array fetched for an indexed path by the
// element with the wanted key. An absent key yields no property, as in
// vCenter.
func selectIndexed(obj *types.ObjectContent, wanted map[string]indexed, direct map[string]bool) {
	var props []types.DynamicProperty
	for _, prop := range obj.PropSet {
		for path, want := range wanted {
			if want.base != prop.Name {
				continue
			}
			if element := elementWithKey(prop.Val, want.key); element != nil {
				props = append(props, types.DynamicProperty{Name: path, Val: element})
			}
		}
		if direct[prop.Name] {
			props = append(props, prop)
		}
	}
	obj.PropSet = props
}

// elementWithKey finds, in an ArrayOfXxx value, the element whose Key field
// equals key.
func elementWithKey(array interface{}, key string) interface{} {
	v := reflect.Indirect(reflect.ValueOf(array))
	if v.Kind() != reflect.Struct || v.NumField() != 1 || v.Field(0).Kind() != reflect.Slice {
		return nil
	}
	items := v.Field(0)
	for i := 0; i < items.Len(); i++ {
		item := items.Index(i)
		fields := reflect.Indirect(item)
		if fields.Kind() == reflect.Interface {
			fields = reflect.Indirect(fields.Elem())
		}
		if fields.Kind() != reflect.Struct {
			continue
		}
		if k := fields.FieldByName("Key"); k.IsValid() && k.Kind() == reflect.String && k.String() == key {
			return item.Interface()
		}
	}
	return nil
}
