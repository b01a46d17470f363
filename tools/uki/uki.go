// Package uki builds a unified kernel image: systemd's EFI stub with the
// kernel, the initramfs, the kernel command line and an os-release added
// as PE sections, so one signed file is one bootable firmware slot.
//
//	err := uki.Build(ctx, uki.Config{Kernel: "vmlinuz", Initrd: "initramfs.cpio.zst",
//		Cmdline: "console=ttyS0 multimeter.slot=a", OSRelease: osrel, Output: "slot-a.efi"})
//
// The sections are placed after the stub's own, each aligned, with
// objcopy (binutils).
package uki

import (
	"context"
	"debug/pe"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

// DefaultStub is where Debian's systemd-boot-efi package installs the stub.
const DefaultStub = "/usr/lib/systemd/boot/efi/linuxx64.efi.stub"

// sectionAlign keeps the added sections clear of each other and of the
// stub, on page boundaries.
const sectionAlign = 0x10000

// Config names the inputs and the output. A zero Stub means DefaultStub.
type Config struct {
	Stub      string
	Kernel    string
	Initrd    string
	Cmdline   string
	OSRelease string // content of the .osrel section
	Output    string
}

type section struct {
	name, file string
}

// Build writes the unified kernel image to cfg.Output.
func Build(ctx context.Context, cfg Config) error {
	if cfg.Stub == "" {
		cfg.Stub = DefaultStub
	}
	next, err := stubEnd(cfg.Stub)
	if err != nil {
		return err
	}
	tmp, err := os.MkdirTemp("", "uki")
	if err != nil {
		return fmt.Errorf("uki: %w", err)
	}
	defer os.RemoveAll(tmp)
	osrel := filepath.Join(tmp, "os-release")
	cmdline := filepath.Join(tmp, "cmdline")
	if err := os.WriteFile(osrel, []byte(cfg.OSRelease), 0o644); err != nil {
		return fmt.Errorf("uki: %w", err)
	}
	// The stub passes the section as is; a NUL ends the string.
	if err := os.WriteFile(cmdline, []byte(cfg.Cmdline+"\x00"), 0o644); err != nil {
		return fmt.Errorf("uki: %w", err)
	}
	args := []string{}
	for _, s := range []section{{".osrel", osrel}, {".cmdline", cmdline}, {".linux", cfg.Kernel}, {".initrd", cfg.Initrd}} {
		fi, err := os.Stat(s.file)
		if err != nil {
			return fmt.Errorf("uki: %s: %w", s.name, err)
		}
		vma := align(next, sectionAlign)
		args = append(args,
			"--add-section", s.name+"="+s.file,
			"--change-section-vma", fmt.Sprintf("%s=%#x", s.name, vma))
		next = vma + uint64(fi.Size())
	}
	args = append(args, cfg.Stub, cfg.Output)
	if out, err := exec.CommandContext(ctx, "objcopy", args...).CombinedOutput(); err != nil {
		return fmt.Errorf("uki: objcopy %s: %w: %s", strings.Join(args, " "), err, out)
	}
	return nil
}

// stubEnd is the first virtual address after the stub's sections.
func stubEnd(stub string) (uint64, error) {
	f, err := pe.Open(stub)
	if err != nil {
		return 0, fmt.Errorf("uki: open stub %s: %w", stub, err)
	}
	defer f.Close()
	var end uint64
	for _, s := range f.Sections {
		end = max(end, uint64(s.VirtualAddress)+uint64(max(s.VirtualSize, s.Size)))
	}
	return end, nil
}

func align(v, a uint64) uint64 { return (v + a - 1) &^ (a - 1) }
