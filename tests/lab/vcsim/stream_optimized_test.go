package main

import (
	"bytes"
	"crypto/sha256"
	"math/rand"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// TestStreamOptimizedIsReadByQemuImg writes a disk with data in a few
// grains and grain tables as a streamOptimized VMDK and has qemu-img (the
// converter a migration uses) check it and convert it back to raw bytes.
func TestStreamOptimizedIsReadByQemuImg(t *testing.T) {
	qemuImg, err := exec.LookPath("qemu-img")
	if err != nil {
		t.Skip("qemu-img not installed")
	}
	dir := t.TempDir()
	disk := make([]byte, 70*mib+512*3) // three grain tables' spans, the last grain partial
	random := rand.New(rand.NewSource(16))
	for _, at := range []int{0, 5*int(mib) + 7, 33 * int(mib), len(disk) - 1000} {
		random.Read(disk[at : at+1000])
	}
	copy(disk[40*mib:], bytes.Repeat([]byte("compressible "), 100000))
	raw := filepath.Join(dir, "disk.raw")
	must(t, os.WriteFile(raw, disk, 0o600))

	src, err := os.Open(raw)
	must(t, err)
	defer src.Close()
	vmdk := filepath.Join(dir, "disk-0.vmdk")
	out, err := os.Create(vmdk)
	must(t, err)
	n, err := writeStreamOptimized(out, src, int64(len(disk)), "disk-0.vmdk")
	must(t, err)
	must(t, out.Close())
	if st, _ := os.Stat(vmdk); st.Size() != n || n%512 != 0 || n > int64(len(disk))/4 {
		t.Errorf("stream of %d bytes (file %d) for a %d-byte disk of mostly zeros", n, st.Size(), len(disk))
	}

	if msg, err := exec.Command(qemuImg, "check", "-f", "vmdk", vmdk).CombinedOutput(); err != nil {
		t.Errorf("qemu-img check: %v\n%s", err, msg)
	}
	info, err := exec.Command(qemuImg, "info", "-f", "vmdk", vmdk).CombinedOutput()
	t.Logf("%s", info)
	if err != nil || !bytes.Contains(info, []byte("create type: streamOptimized")) {
		t.Fatalf("qemu-img info: %v\n%s", err, info)
	}
	back := filepath.Join(dir, "back.raw")
	if msg, err := exec.Command(qemuImg, "convert", "-f", "vmdk", "-O", "raw", vmdk, back).CombinedOutput(); err != nil {
		t.Fatalf("qemu-img convert: %v\n%s", err, msg)
	}
	got, err := os.ReadFile(back)
	must(t, err)
	// qemu-img rounds the size up to whole sectors; the disk here is whole sectors.
	if sha256.Sum256(got) != sha256.Sum256(disk) {
		t.Errorf("converted back: %d bytes, not the disk's %d", len(got), len(disk))
	}
}
