package main

import (
	"bytes"
	"compress/zlib"
	"encoding/binary"
	"fmt"
	"io"
)

// writeStreamOptimized writes the disk of capacity bytes read from src as a
// streamOptimized VMDK, the format vCenter's ExportVm streams (VMware's
// "Virtual Disk Format 5.0", stream-optimized compressed sparse extent):
// a sparse extent header (GD at the end), the embedded descriptor, then for
// each grain table's span its non-zero grains (64 KiB, deflate-compressed,
// each behind a grain marker) and the grain table, then the grain
// directory, the footer (the header with the directory's offset) and the
// end-of-stream marker. All-zero grains are left out, as VMware does. It
// returns the bytes written.
func writeStreamOptimized(w io.Writer, src io.ReaderAt, capacity int64, name string) (int64, error) {
	const (
		sector       = 512
		grainSectors = 128
		grainBytes   = grainSectors * sector
		gtEntries    = 512
	)
	out := &sectorWriter{w: w}
	capacitySectors := (capacity + sector - 1) / sector
	grains := (capacitySectors + grainSectors - 1) / grainSectors
	tables := (grains + gtEntries - 1) / gtEntries

	descriptor := []byte(fmt.Sprintf("# Disk DescriptorFile\nversion=1\nCID=fffffffe\nparentCID=ffffffff\n"+
		"createType=\"streamOptimized\"\n\n# Extent description\nRW %d SPARSE \"%s\"\n\n"+
		"# The Disk Data Base\n#DDB\n\nddb.adapterType = \"lsilogic\"\nddb.virtualHWVersion = \"4\"\n",
		capacitySectors, name))
	descriptorSectors := (int64(len(descriptor)) + sector - 1) / sector
	header := func(gdOffset uint64) []byte {
		var h bytes.Buffer
		for _, v := range []interface{}{
			[]byte("KDMV"), uint32(3), uint32(1 | 1<<16 | 1<<17), // valid newline test, compressed grains, markers
			uint64(capacitySectors), uint64(grainSectors), uint64(1), uint64(descriptorSectors),
			uint32(gtEntries), uint64(0), gdOffset, uint64(1 + descriptorSectors),
			uint8(0), []byte("\n \r\n"), uint16(1), // clean; line-ending test characters; deflate
		} {
			_ = binary.Write(&h, binary.LittleEndian, v)
		}
		return h.Bytes()
	}
	marker := func(numSectors uint64, kind uint32) []byte {
		m := make([]byte, sector)
		binary.LittleEndian.PutUint64(m, numSectors)
		binary.LittleEndian.PutUint32(m[12:], kind)
		return m
	}
	const gdAtEnd = ^uint64(0)
	if err := out.sectors(header(gdAtEnd)); err != nil {
		return out.n, err
	}
	if err := out.sectors(descriptor); err != nil {
		return out.n, err
	}

	gd := make([]uint32, tables)
	grain := make([]byte, grainBytes)
	var compressed bytes.Buffer
	// The fastest level: a GiB of incompressible data takes a minute at the default one here.
	zw, _ := zlib.NewWriterLevel(&compressed, zlib.BestSpeed)
	for t := int64(0); t < tables; t++ {
		gt := make([]uint32, gtEntries)
		used := false
		for g := t * gtEntries; g < grains && g < (t+1)*gtEntries; g++ {
			for i := range grain {
				grain[i] = 0
			}
			if _, err := src.ReadAt(grain, g*grainBytes); err != nil && err != io.EOF {
				return out.n, err
			}
			if allZero(grain) {
				continue
			}
			compressed.Reset()
			zw.Reset(&compressed)
			_, _ = zw.Write(grain)
			if err := zw.Close(); err != nil {
				return out.n, err
			}
			gt[g-t*gtEntries] = uint32(out.n / sector)
			used = true
			var m [12]byte
			binary.LittleEndian.PutUint64(m[:], uint64(g*grainSectors))
			binary.LittleEndian.PutUint32(m[8:], uint32(compressed.Len()))
			if err := out.sectors(append(m[:], compressed.Bytes()...)); err != nil {
				return out.n, err
			}
		}
		if !used {
			continue // no grain table: the span reads as zeros
		}
		if err := out.sectors(marker(gtEntries*4/sector, 1)); err != nil {
			return out.n, err
		}
		gd[t] = uint32(out.n / sector)
		if err := out.sectors(uint32s(gt)); err != nil {
			return out.n, err
		}
	}
	if err := out.sectors(marker(uint64((len(gd)*4+sector-1)/sector), 2)); err != nil {
		return out.n, err
	}
	gdOffset := uint64(out.n / sector)
	if err := out.sectors(uint32s(gd)); err != nil {
		return out.n, err
	}
	if err := out.sectors(marker(1, 3)); err != nil {
		return out.n, err
	}
	if err := out.sectors(header(gdOffset)); err != nil {
		return out.n, err
	}
	return out.n, out.sectors(make([]byte, sector)) // end of stream
}

// sectorWriter writes whole sectors, padding with zeros, and counts bytes.
type sectorWriter struct {
	w io.Writer
	n int64
}

func (s *sectorWriter) sectors(p []byte) error {
	if pad := len(p) % 512; pad != 0 {
		p = append(p, make([]byte, 512-pad)...)
	}
	n, err := s.w.Write(p)
	s.n += int64(n)
	return err
}

func uint32s(v []uint32) []byte {
	b := make([]byte, 4*len(v))
	for i, x := range v {
		binary.LittleEndian.PutUint32(b[4*i:], x)
	}
	return b
}

func allZero(b []byte) bool {
	for _, x := range b {
		if x != 0 {
			return false
		}
	}
	return true
}
