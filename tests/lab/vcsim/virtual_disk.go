package main

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/vmware/govmomi/object"
	"github.com/vmware/govmomi/simulator"
	"github.com/vmware/govmomi/vim25"
	"github.com/vmware/govmomi/vim25/methods"
	"github.com/vmware/govmomi/vim25/soap"
	"github.com/vmware/govmomi/vim25/types"
)

// virtualDiskManager copies and extends virtual disks as nova's VMware driver
// asks vCenter to when it caches an image and sizes an instance's root disk:
//
//   - CopyVirtualDisk_Task without destDatacenter copies within the source's
//     datacenter, as the API reference says (0.24: InvalidArgument "dc");
//   - a single-file source (monolithicSparse or streamOptimized, such as an
//     image nova has just uploaded) is converted into a flat disk, a
//     descriptor and its -flat extent (0.24 copies "-flat" files only, and
//     fails with FileNotFound);
//   - ExtendVirtualDisk_Task grows a flat disk (0.24: not implemented).
//
// Disk contents are not converted: the extent is a sparse file of the disk's
// capacity (the simulator runs no guest).
type virtualDiskManager struct {
	*simulator.VirtualDiskManager
}

func installVirtualDiskManager() {
	si := simulator.Map.Get(vim25.ServiceInstance).(*simulator.ServiceInstance)
	if existing, ok := simulator.Map.Get(*si.Content.VirtualDiskManager).(*simulator.VirtualDiskManager); ok {
		simulator.Map.Put(&virtualDiskManager{existing})
	}
}

// datastoreFile resolves "[datastore] path" in a datacenter to the backing file.
func datastoreFile(dc *types.ManagedObjectReference, name string) (string, types.BaseMethodFault) {
	var p object.DatastorePath
	if !p.FromString(name) {
		return "", &types.InvalidDatastorePath{DatastorePath: name}
	}
	if dc == nil {
		return "", &types.InvalidArgument{InvalidProperty: "datacenter"}
	}
	datacenter, ok := simulator.Map.Get(*dc).(*simulator.Datacenter)
	if !ok {
		return "", &types.ManagedObjectNotFound{Obj: *dc}
	}
	ds := datastoreNamed(datacenter, p.Datastore)
	if ds == nil {
		return "", &types.InvalidDatastore{Name: p.Datastore}
	}
	return filepath.Join(ds.Info.GetDatastoreInfo().Url, p.Path), nil
}

func flatName(descriptor string) string {
	return strings.TrimSuffix(descriptor, ".vmdk") + "-flat.vmdk"
}

// diskCapacity returns the capacity in bytes of the disk at path: from the
// header of a single-file (sparse) disk, or from the size of a flat extent.
func diskCapacity(path string) (int64, bool, error) {
	f, err := os.Open(path)
	if err != nil {
		return 0, false, err
	}
	defer f.Close()
	header := make([]byte, 20)
	if _, err := io.ReadFull(f, header); err == nil && bytes.Equal(header[:4], []byte("KDMV")) {
		sectors := binary.LittleEndian.Uint64(header[12:20])
		return int64(sectors) * 512, true, nil
	}
	info, err := os.Stat(flatName(path))
	if err != nil {
		return 0, false, err
	}
	return info.Size(), false, nil
}

var extentLine = regexp.MustCompile(`(?m)^RW \d+ (VMFS|FLAT) "([^"]+)"`)

func writeFlatDisk(path string, capacity int64, copyFrom string) error {
	flat := flatName(path)
	out, err := os.Create(flat)
	if err != nil {
		return err
	}
	defer out.Close()
	if copyFrom != "" {
		in, err := os.Open(copyFrom)
		if err != nil {
			return err
		}
		defer in.Close()
		if _, err := io.Copy(out, in); err != nil {
			return err
		}
	}
	if err := out.Truncate(capacity); err != nil {
		return err
	}
	return os.WriteFile(path, flatDescriptor(capacity, filepath.Base(flat)), 0o600)
}

// flatDescriptor is the descriptor of a flat (VMFS) disk of capacity bytes
// whose extent is the file extent, in the same folder.
func flatDescriptor(capacity int64, extent string) []byte {
	return []byte(fmt.Sprintf("# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\ncreateType=\"vmfs\"\n\n"+
		"# Extent description\nRW %d VMFS \"%s\"\n\n# The Disk Data Base\nddb.adapterType = \"lsilogic\"\n",
		capacity/512, extent))
}

// growFlatDisk grows the flat disk whose descriptor is at path to newCapacity
// bytes: its extent, and the extent's size in the descriptor.
func growFlatDisk(path string, newCapacity int64) error {
	if err := os.Truncate(flatName(path), newCapacity); err != nil {
		return err
	}
	descriptor, err := os.ReadFile(path)
	if err != nil {
		return err
	}
	updated := extentLine.ReplaceAll(descriptor, []byte(fmt.Sprintf(`RW %d $1 "$2"`, newCapacity/512)))
	return os.WriteFile(path, updated, 0o600)
}

func fileFault(err error) types.BaseMethodFault {
	if os.IsNotExist(err) {
		return &types.FileNotFound{}
	}
	return &types.CannotAccessFile{}
}

func (m *virtualDiskManager) CopyVirtualDiskTask(_ *simulator.Context, req *types.CopyVirtualDisk_Task) soap.HasFault {
	task := simulator.CreateTask(m, "copyVirtualDisk", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		destDC := req.DestDatacenter
		if destDC == nil {
			destDC = req.SourceDatacenter
		}
		src, fault := datastoreFile(req.SourceDatacenter, req.SourceName)
		if fault != nil {
			return nil, fault
		}
		dst, fault := datastoreFile(destDC, req.DestName)
		if fault != nil {
			return nil, fault
		}
		if _, err := os.Stat(dst); err == nil && !isTrue(req.Force) {
			return nil, &types.FileAlreadyExists{FileFault: types.FileFault{File: req.DestName}}
		}
		capacity, sparse, err := diskCapacity(src)
		if err != nil {
			return nil, fileFault(err)
		}
		copyFrom := flatName(src)
		if sparse {
			copyFrom = ""
		}
		if err := writeFlatDisk(dst, capacity, copyFrom); err != nil {
			return nil, &types.CannotCreateFile{FileFault: types.FileFault{File: req.DestName}}
		}
		return nil, nil
	})
	return &methods.CopyVirtualDisk_TaskBody{Res: &types.CopyVirtualDisk_TaskResponse{Returnval: task.Run()}}
}

func (m *virtualDiskManager) ExtendVirtualDiskTask(_ *simulator.Context, req *types.ExtendVirtualDisk_Task) soap.HasFault {
	task := simulator.CreateTask(m, "extendVirtualDisk", func(*simulator.Task) (types.AnyType, types.BaseMethodFault) {
		path, fault := datastoreFile(req.Datacenter, req.Name)
		if fault != nil {
			return nil, fault
		}
		capacity, sparse, err := diskCapacity(path)
		if err != nil {
			return nil, fileFault(err)
		}
		newCapacity := req.NewCapacityKb * 1024
		if sparse || newCapacity < capacity {
			// vCenter grows flat disks only, and never shrinks one.
			return nil, &types.InvalidArgument{InvalidProperty: "newCapacityKb"}
		}
		if err := growFlatDisk(path, newCapacity); err != nil {
			return nil, fileFault(err)
		}
		return nil, nil
	})
	return &methods.ExtendVirtualDisk_TaskBody{Res: &types.ExtendVirtualDisk_TaskResponse{Returnval: task.Run()}}
}
