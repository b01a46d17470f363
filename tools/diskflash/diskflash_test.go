package diskflash

import (
	"bytes"
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"golang.org/x/sys/unix"
)

// loopDevice attaches a file of size bytes as a loop device.
func loopDevice(t *testing.T, size int64, partitioned bool) (dev, backing string) {
	t.Helper()
	backing = filepath.Join(t.TempDir(), "disk")
	if err := os.WriteFile(backing, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(backing, size); err != nil {
		t.Fatal(err)
	}
	if partitioned {
		cmd := exec.Command("sfdisk", "--quiet", backing)
		cmd.Stdin = strings.NewReader("label: gpt\nsize=4MiB, type=linux\n")
		if out, err := cmd.CombinedOutput(); err != nil {
			t.Skipf("sfdisk: %v: %s", err, out)
		}
	}
	out, err := exec.Command("losetup", "--find", "--show", "--partscan", backing).CombinedOutput()
	if err != nil {
		t.Skipf("no loop devices here: losetup: %v: %s", err, out)
	}
	dev = strings.TrimSpace(string(out))
	t.Cleanup(func() { exec.Command("losetup", "-d", dev).Run() })
	if partitioned {
		// The partition scan may not have run yet.
		exec.Command("partx", "--add", dev).Run()
	}
	return dev, backing
}

// partitionNode returns the device node of a partition, making one from
// sysfs where no udev does.
func partitionNode(t *testing.T, path string) string {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		return path
	}
	dev, err := os.ReadFile(filepath.Join("/sys/class/block", filepath.Base(path), "dev"))
	if err != nil {
		t.Skipf("no partition %s: %v", path, err)
	}
	var major, minor uint32
	if _, err := fmt.Sscanf(string(dev), "%d:%d", &major, &minor); err != nil {
		t.Fatal(err)
	}
	node := filepath.Join(t.TempDir(), filepath.Base(path))
	if err := unix.Mknod(node, unix.S_IFBLK|0o600, int(unix.Mkdev(major, minor))); err != nil {
		t.Skipf("mknod %s: %v", node, err)
	}
	return node
}

func writeImage(t *testing.T, size int) (string, []byte) {
	t.Helper()
	data := make([]byte, size)
	rand.Read(data)
	img := filepath.Join(t.TempDir(), "disk.img")
	if err := os.WriteFile(img, data, 0o644); err != nil {
		t.Fatal(err)
	}
	return img, data
}

func TestInspectRefuses(t *testing.T) {
	img, _ := writeImage(t, 1<<20)
	small, _ := loopDevice(t, 512<<10, false)
	if _, err := Inspect(img, img); err == nil || !strings.Contains(err.Error(), "not a block device") {
		t.Errorf("Inspect(regular file) = %v; want not a block device", err)
	}
	if _, err := Inspect(small, img); err == nil || !strings.Contains(err.Error(), "does not fit") {
		t.Errorf("Inspect(512 KiB device, 1 MiB image) = %v; want does not fit", err)
	}
	disk, _ := loopDevice(t, 16<<20, true)
	part := partitionNode(t, disk+"p1")
	if _, err := Inspect(part, img); err == nil || !strings.Contains(err.Error(), "partition") {
		t.Errorf("Inspect(%s) = %v; want a partition refusal", part, err)
	}
	// A mounted partition makes the whole disk off limits.
	if out, err := exec.Command("mkfs.ext4", "-q", part).CombinedOutput(); err != nil {
		t.Fatalf("mkfs.ext4: %v: %s", err, out)
	}
	mnt := t.TempDir()
	if out, err := exec.Command("mount", part, mnt).CombinedOutput(); err != nil {
		t.Skipf("mount: %v: %s", err, out)
	}
	defer exec.Command("umount", mnt).Run()
	if _, err := Inspect(disk, img); !errors.Is(err, ErrMounted) {
		t.Errorf("Inspect(disk with a mounted partition) = %v; want ErrMounted", err)
	}
	if err := Write(context.Background(), img, disk, nil); err == nil {
		t.Error("Write(disk with a mounted partition) = nil; want the exclusive open to fail")
	}
}

func TestWrite(t *testing.T) {
	img, data := writeImage(t, 3<<20+4096)
	dev, backing := loopDevice(t, 8<<20, false)
	d, err := Inspect(dev, img)
	if err != nil {
		t.Fatalf("Inspect = %v", err)
	}
	if d.Size != 8<<20 {
		t.Errorf("Inspect(%s).Size = %d; want %d", dev, d.Size, 8<<20)
	}
	var last int64
	if err := Write(context.Background(), img, dev, func(w, total int64) { last = w }); err != nil {
		t.Fatalf("Write = %v", err)
	}
	if last != int64(len(data)) {
		t.Errorf("progress ended at %d; want %d", last, len(data))
	}
	got, err := os.ReadFile(backing)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got[:len(data)], data) {
		t.Error("the device's backing file does not hold the image")
	}
}
