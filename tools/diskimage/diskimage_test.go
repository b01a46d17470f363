package diskimage

import (
	"bytes"
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/multimeter-fw/multimeter/firmware/disklayout"
	"github.com/multimeter-fw/multimeter/tools/peertest"
)

func needTools(t *testing.T) {
	t.Helper()
	peertest.Need(t, "sfdisk", "mkfs.vfat", "mmd", "mcopy", "mke2fs", "debugfs", "mdir", "blkid")
}

func TestBuildAndDataFiles(t *testing.T) {
	needTools(t)
	ctx := context.Background()
	dir := t.TempDir()
	uki := filepath.Join(dir, "uki.efi")
	os.WriteFile(uki, []byte("not really a PE file"), 0o644)
	seed := filepath.Join(dir, "seed")
	os.MkdirAll(filepath.Join(seed, "tls"), 0o700)
	os.WriteFile(filepath.Join(seed, "hello.txt"), []byte("hello\n"), 0o644)
	img := filepath.Join(dir, "disk.img")
	err := Build(ctx, Config{Output: img, ESPSizeMiB: 64, DataSizeMiB: 32, DataSeed: seed, ESP: []File{
		{Src: uki, Dst: "EFI/Linux/" + disklayout.UKIName("a", 3)},
		{Src: uki, Dst: "EFI/BOOT/BOOTX64.EFI"},
	}})
	if err != nil {
		t.Fatalf("Build = %v", err)
	}

	parts, err := Partitions(ctx, img)
	if err != nil {
		t.Fatal(err)
	}
	if len(parts) != 2 || parts[0].Name != disklayout.ESPLabel || !strings.EqualFold(parts[0].Type, disklayout.ESPType) ||
		parts[1].Name != disklayout.DataLabel || !strings.EqualFold(parts[1].Type, disklayout.DataType) ||
		parts[0].Start != 1<<20 || parts[1].Size != 32<<20 {
		t.Fatalf("Partitions(%s) = %+v; want the ESP then the data partition", img, parts)
	}

	// The ESP is a FAT file system holding the slot image under its
	// boot-counted name (mtools reads it at the partition's offset).
	out, err := exec.Command("mdir", "-b", "-i", img+"@@"+itoa(parts[0].Start), "::/EFI/Linux").CombinedOutput()
	if err != nil || !strings.Contains(string(out), "multimeter-a+3.efi") {
		t.Errorf("mdir EFI/Linux = %q, %v; want multimeter-a+3.efi", out, err)
	}
	// The data partition is ext4 with its label.
	out, err = exec.Command("blkid", "-p", "-O", itoa(parts[1].Start), "-o", "export", img).CombinedOutput()
	if err != nil || !strings.Contains(string(out), "TYPE=ext4") || !strings.Contains(string(out), "LABEL="+disklayout.DataLabel) {
		t.Errorf("blkid of the data partition = %q, %v; want ext4 labelled %s", out, err, disklayout.DataLabel)
	}

	got, err := ReadDataFile(ctx, img, "hello.txt")
	if err != nil || string(got) != "hello\n" {
		t.Errorf("ReadDataFile(hello.txt) = %q, %v; want the seeded content", got, err)
	}
	if _, err := ReadDataFile(ctx, img, "missing"); err == nil {
		t.Error("ReadDataFile(missing) = nil error; want not found")
	}
	for _, content := range []string{`{"mode":"dhcp"}`, `{"mode":"static","address":"10.0.2.50/24"}`} {
		if err := WriteDataFile(ctx, img, "network.json", []byte(content)); err != nil {
			t.Fatalf("WriteDataFile = %v", err)
		}
		got, err := ReadDataFile(ctx, img, "network.json")
		if err != nil || !bytes.Equal(got, []byte(content)) {
			t.Errorf("ReadDataFile after WriteDataFile(%s) = %q, %v", content, got, err)
		}
	}
	// The file system is still clean after the writes.
	parts, _ = Partitions(ctx, img)
	out, err = exec.Command("e2fsck", "-n", "-f", img+"?offset="+itoa(parts[1].Start)).CombinedOutput()
	if err != nil {
		t.Errorf("e2fsck = %v: %s", err, out)
	}
}

func itoa(n int64) string { return strconv.FormatInt(n, 10) }
