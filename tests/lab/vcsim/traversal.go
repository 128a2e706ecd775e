package main

import (
	"reflect"
	"strings"

	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/mo"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// The PropertyCollector selects objects as vCenter does: a TraversalSpec
// applies only to objects of its type (or a subtype), and each object is
// visited once per traversal. 0.24 follows a TraversalSpec's path on any
// object that happens to have a property of that name and never stops, so
// the recursive spec of oslo.vmware (and so of nova's VMware driver: its
// cluster lookup, vm_util.get_cluster_ref_by_name) loops between a pool's
// "vm" and a VM's "resourcePool" until the simulator dies of a stack
// overflow. Here the selection is done first, and the simulator's collector
// reads the properties of the objects selected, listed one by one.

func (pc *propertyCollector) RetrieveProperties(ctx *simulator.Context, req *types.RetrieveProperties) soap.HasFault {
	specs, fault := selectObjects(ctx, req.SpecSet)
	if fault != nil {
		return &methods.RetrievePropertiesBody{Fault_: simulator.Fault("", fault)}
	}
	plain := *req
	plain.SpecSet = specs
	return pc.PropertyCollector.RetrieveProperties(ctx, &plain)
}

// selectObjects returns specs whose object sets list every object the
// original traversals select, with no traversal left.
func selectObjects(ctx *simulator.Context, specs []types.PropertyFilterSpec) ([]types.PropertyFilterSpec, types.BaseMethodFault) {
	out := make([]types.PropertyFilterSpec, len(specs))
	for i, spec := range specs {
		out[i] = spec
		if !hasTraversal(spec) {
			continue
		}
		s := &selection{ctx: ctx, named: map[string]*types.TraversalSpec{}, visited: map[visit]bool{}, seen: map[types.ManagedObjectReference]bool{}}
		for _, o := range spec.ObjectSet {
			s.collectNames(o.SelectSet)
		}
		for _, o := range spec.ObjectSet {
			if lookup(ctx, o.Obj) == nil {
				if isTrue(spec.ReportMissingObjectsInResults) {
					s.add(o.Obj) // the simulator reports it as missing
					continue
				}
				return nil, &types.ManagedObjectNotFound{Obj: o.Obj}
			}
			if !isTrue(o.Skip) || len(o.SelectSet) == 0 {
				s.add(o.Obj)
			}
			if fault := s.follow(o.Obj, o.SelectSet); fault != nil {
				return nil, fault
			}
		}
		out[i].ObjectSet = make([]types.ObjectSpec, len(s.refs))
		for j, ref := range s.refs {
			out[i].ObjectSet[j] = types.ObjectSpec{Obj: ref, Skip: types.NewBool(false)}
		}
	}
	return out, nil
}

func hasTraversal(spec types.PropertyFilterSpec) bool {
	for _, o := range spec.ObjectSet {
		if len(o.SelectSet) > 0 {
			return true
		}
	}
	return false
}

type visit struct {
	obj  types.ManagedObjectReference
	spec *types.TraversalSpec
}

type selection struct {
	ctx     *simulator.Context
	named   map[string]*types.TraversalSpec
	visited map[visit]bool
	seen    map[types.ManagedObjectReference]bool
	refs    []types.ManagedObjectReference
}

// collectNames records every named TraversalSpec, at any depth: a
// SelectionSpec may name one defined anywhere in the filter spec.
func (s *selection) collectNames(set []types.BaseSelectionSpec) {
	for _, ss := range set {
		ts, ok := ss.(*types.TraversalSpec)
		if !ok || (ts.Name != "" && s.named[ts.Name] == ts) {
			continue
		}
		if ts.Name != "" {
			s.named[ts.Name] = ts
		}
		s.collectNames(ts.SelectSet)
	}
}

func (s *selection) add(ref types.ManagedObjectReference) {
	if !s.seen[ref] {
		s.seen[ref] = true
		s.refs = append(s.refs, ref)
	}
}

func (s *selection) follow(ref types.ManagedObjectReference, set []types.BaseSelectionSpec) types.BaseMethodFault {
	for _, ss := range set {
		ts, ok := ss.(*types.TraversalSpec)
		if !ok {
			ts = s.named[ss.GetSelectionSpec().Name]
			if ts == nil {
				return &types.InvalidArgument{InvalidProperty: "selectSet"}
			}
		}
		obj := lookup(s.ctx, ref)
		if obj == nil || !isKindOf(ref, obj, ts.Type) || s.visited[visit{ref, ts}] {
			continue
		}
		s.visited[visit{ref, ts}] = true
		var next []types.ManagedObjectReference
		s.ctx.WithLock(ref, func() { next = references(obj, ts.Path) })
		for _, child := range next {
			if lookup(s.ctx, child) == nil {
				continue
			}
			if !isTrue(ts.Skip) {
				s.add(child)
			}
			if fault := s.follow(child, ts.SelectSet); fault != nil {
				return fault
			}
		}
	}
	return nil
}

// lookup finds an object as the simulator's collector does: through the
// session, which also holds per-session objects such as views.
func lookup(ctx *simulator.Context, ref types.ManagedObjectReference) mo.Reference {
	if ctx.Session != nil {
		return ctx.Session.Get(ref)
	}
	return simulator.Map.Get(ref)
}

// isKindOf reports whether obj is of the managed object type kind, or of a
// type derived from it (a ClusterComputeResource is a ComputeResource, and
// both are ManagedEntities): its mo struct embeds a struct of that name.
func isKindOf(ref types.ManagedObjectReference, obj mo.Reference, kind string) bool {
	if ref.Type == kind {
		return true
	}
	return embeds(reflect.Indirect(reflect.ValueOf(obj)).Type(), kind, 0)
}

func embeds(t reflect.Type, kind string, depth int) bool {
	if t.Kind() != reflect.Struct || depth > 8 {
		return false
	}
	for i := 0; i < t.NumField(); i++ {
		f := t.Field(i)
		if !f.Anonymous {
			continue
		}
		ft := f.Type
		if ft.Kind() == reflect.Ptr {
			ft = ft.Elem()
		}
		if ft.Name() == kind && strings.HasSuffix(ft.PkgPath(), "vim25/mo") {
			return true
		}
		if embeds(ft, kind, depth+1) {
			return true
		}
	}
	return false
}

// references returns the object references held by the property name of
// obj (one reference or a list), found by its mo tag.
func references(obj mo.Reference, name string) []types.ManagedObjectReference {
	v, ok := moField(reflect.Indirect(reflect.ValueOf(obj)), name, 0)
	if !ok {
		return nil
	}
	switch value := v.Interface().(type) {
	case types.ManagedObjectReference:
		return []types.ManagedObjectReference{value}
	case *types.ManagedObjectReference:
		if value != nil {
			return []types.ManagedObjectReference{*value}
		}
	case []types.ManagedObjectReference:
		return value
	}
	return nil
}

func moField(v reflect.Value, name string, depth int) (reflect.Value, bool) {
	if v.Kind() != reflect.Struct || depth > 8 {
		return reflect.Value{}, false
	}
	t := v.Type()
	for i := 0; i < t.NumField(); i++ {
		if tag := t.Field(i).Tag.Get("mo"); tag == name {
			return v.Field(i), true
		}
	}
	for i := 0; i < t.NumField(); i++ {
		if t.Field(i).Anonymous {
			if found, ok := moField(reflect.Indirect(v.Field(i)), name, depth+1); ok {
				return found, true
			}
		}
	}
	return reflect.Value{}, false
}

func isTrue(b *bool) bool { return b != nil && *b }
