package uki

import (
	"bytes"
	"context"
	"debug/pe"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

func TestBuild(t *testing.T) {
	if _, err := os.Stat(DefaultStub); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatalf("EFI stub missing under CI: %v", err)
		}
		t.Skipf("EFI stub not installed (make deps installs systemd-boot-efi): %v", err)
	}
	dir := t.TempDir()
	kernel := bytes.Repeat([]byte("K"), 3<<20+17)
	initrd := bytes.Repeat([]byte("I"), 1<<20+5)
	os.WriteFile(filepath.Join(dir, "vmlinuz"), kernel, 0o644)
	os.WriteFile(filepath.Join(dir, "initrd"), initrd, 0o644)
	out := filepath.Join(dir, "uki.efi")
	cfg := Config{Kernel: filepath.Join(dir, "vmlinuz"), Initrd: filepath.Join(dir, "initrd"),
		Cmdline: "console=ttyS0 multimeter.slot=a", OSRelease: "NAME=Multimeter\n", Output: out}
	if err := Build(context.Background(), cfg); err != nil {
		t.Fatalf("Build = %v", err)
	}

	// Read the sections back with binutils, the tool firmware-side
	// readers agree with, and check the layout with debug/pe.
	want := map[string][]byte{".osrel": []byte(cfg.OSRelease), ".cmdline": []byte(cfg.Cmdline + "\x00"), ".linux": kernel, ".initrd": initrd}
	for name, content := range want {
		dump := filepath.Join(dir, name+".bin")
		if out, err := exec.Command("objcopy", "-O", "binary", "--only-section="+name, out, dump).CombinedOutput(); err != nil {
			t.Fatalf("objcopy --only-section=%s: %v: %s", name, err, out)
		}
		got, _ := os.ReadFile(dump)
		if !bytes.Equal(got, content) {
			t.Errorf("section %s = %d bytes; want the %d bytes put in", name, len(got), len(content))
		}
	}
	f, err := pe.Open(out)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var prevEnd uint32
	for _, s := range f.Sections {
		if s.VirtualAddress < prevEnd {
			t.Errorf("section %s at %#x overlaps the previous one ending at %#x", s.Name, s.VirtualAddress, prevEnd)
		}
		size := s.VirtualSize
		if size == 0 {
			size = s.Size
		}
		prevEnd = s.VirtualAddress + size
	}
}
