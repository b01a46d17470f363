// Package diskimage builds the factory disk image (see package
// firmware/disklayout for the layout) from a unified kernel image and
// reads and writes files on the data partition of an image, with the
// standard Debian tools: sfdisk, mkfs.vfat and mtools, mkfs.ext4 and
// debugfs. Nothing is mounted and no loop device is needed.
//
//	err := diskimage.Build(ctx, diskimage.Config{Output: "disk.img", ESP: files})
//	data, err := diskimage.ReadDataFile(ctx, "disk.img", "tls/cert.pem")
package diskimage

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path"
	"path/filepath"
	"sort"
	"strings"

	"github.com/multimeter-fw/multimeter/firmware/disklayout"
)

const mib = 1 << 20

// File is a host file to put on the EFI system partition.
type File struct {
	Src string // path on the build host
	Dst string // path on the ESP, e.g. EFI/BOOT/BOOTX64.EFI
}

// Config describes one image. Zero sizes mean the disklayout defaults.
type Config struct {
	Output      string
	ESP         []File
	DataSeed    string // optional directory whose contents the data partition starts with
	ESPSizeMiB  int
	DataSizeMiB int
}

// Build writes the image to cfg.Output (replacing it).
func Build(ctx context.Context, cfg Config) error {
	if cfg.ESPSizeMiB == 0 {
		cfg.ESPSizeMiB = disklayout.ESPSizeMiB
	}
	if cfg.DataSizeMiB == 0 {
		cfg.DataSizeMiB = disklayout.DataSizeMiB
	}
	tmp, err := os.MkdirTemp(filepath.Dir(cfg.Output), ".diskimage")
	if err != nil {
		return fmt.Errorf("diskimage: %w", err)
	}
	defer os.RemoveAll(tmp)
	esp := filepath.Join(tmp, "esp.img")
	if err := buildESP(ctx, esp, cfg.ESPSizeMiB, cfg.ESP); err != nil {
		return err
	}
	data := filepath.Join(tmp, "data.img")
	if err := buildData(ctx, data, cfg.DataSizeMiB, cfg.DataSeed); err != nil {
		return err
	}
	disk := filepath.Join(tmp, "disk.img")
	total := int64(disklayout.AlignMiB+cfg.ESPSizeMiB+cfg.DataSizeMiB+1) * mib
	if err := os.WriteFile(disk, nil, 0o644); err != nil {
		return fmt.Errorf("diskimage: %w", err)
	}
	if err := os.Truncate(disk, total); err != nil {
		return fmt.Errorf("diskimage: %w", err)
	}
	const sector = 512
	espStart := int64(disklayout.AlignMiB) * mib
	dataStart := espStart + int64(cfg.ESPSizeMiB)*mib
	script := fmt.Sprintf("label: gpt\n"+
		"start=%d, size=%d, type=%s, name=%s\n"+
		"start=%d, size=%d, type=%s, name=%s\n",
		espStart/sector, int64(cfg.ESPSizeMiB)*mib/sector, disklayout.ESPType, disklayout.ESPLabel,
		dataStart/sector, int64(cfg.DataSizeMiB)*mib/sector, disklayout.DataType, disklayout.DataLabel)
	if err := runInput(ctx, script, "sfdisk", "--quiet", "--no-reread", "--no-tell-kernel", disk); err != nil {
		return err
	}
	if err := copyInto(disk, esp, espStart); err != nil {
		return err
	}
	if err := copyInto(disk, data, dataStart); err != nil {
		return err
	}
	if err := os.Rename(disk, cfg.Output); err != nil {
		return fmt.Errorf("diskimage: %w", err)
	}
	return nil
}

func buildESP(ctx context.Context, img string, sizeMiB int, files []File) error {
	if err := run(ctx, "mkfs.vfat", "-F", "32", "-n", "MM-ESP", "-C", img, fmt.Sprint(sizeMiB*1024)); err != nil {
		return err
	}
	dirs := map[string]bool{}
	for _, f := range files {
		for d := path.Dir(f.Dst); d != "." && d != "/"; d = path.Dir(d) {
			dirs[d] = true
		}
	}
	sorted := make([]string, 0, len(dirs))
	for d := range dirs {
		sorted = append(sorted, d)
	}
	sort.Strings(sorted) // parents before children
	for _, d := range sorted {
		if err := run(ctx, "mmd", "-i", img, "::/"+d); err != nil {
			return err
		}
	}
	for _, f := range files {
		if err := run(ctx, "mcopy", "-i", img, f.Src, "::/"+f.Dst); err != nil {
			return err
		}
	}
	return nil
}

func buildData(ctx context.Context, img string, sizeMiB int, seed string) error {
	args := []string{"-q", "-F", "-t", "ext4", "-L", disklayout.DataLabel, "-E", "root_owner=0:0"}
	if seed != "" {
		args = append(args, "-d", seed)
	}
	args = append(args, img, fmt.Sprintf("%dM", sizeMiB))
	return run(ctx, "mke2fs", args...)
}

// copyInto writes src into dst at off, skipping all-zero blocks so the
// image stays sparse.
func copyInto(dst, src string, off int64) error {
	in, err := os.Open(src)
	if err != nil {
		return fmt.Errorf("diskimage: %w", err)
	}
	defer in.Close()
	out, err := os.OpenFile(dst, os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("diskimage: %w", err)
	}
	buf := make([]byte, mib)
	zero := make([]byte, mib)
	for pos := off; ; {
		n, err := io.ReadFull(in, buf)
		if n > 0 && !bytes.Equal(buf[:n], zero[:n]) {
			if _, werr := out.WriteAt(buf[:n], pos); werr != nil {
				out.Close()
				return fmt.Errorf("diskimage: write %s: %w", dst, werr)
			}
		}
		pos += int64(n)
		if errors.Is(err, io.EOF) || errors.Is(err, io.ErrUnexpectedEOF) {
			break
		}
		if err != nil {
			out.Close()
			return fmt.Errorf("diskimage: read %s: %w", src, err)
		}
	}
	if err := out.Sync(); err != nil {
		out.Close()
		return fmt.Errorf("diskimage: sync %s: %w", dst, err)
	}
	return out.Close()
}

// CopySparse copies an image file, leaving holes where it has zeros.
func CopySparse(src, dst string) error {
	out, err := os.Create(dst)
	if err != nil {
		return fmt.Errorf("diskimage: %w", err)
	}
	fi, err := os.Stat(src)
	if err == nil {
		err = out.Truncate(fi.Size())
	}
	if cerr := out.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return fmt.Errorf("diskimage: %w", err)
	}
	return copyInto(dst, src, 0)
}

// Partition is one entry of an image's partition table.
type Partition struct {
	Name   string
	Type   string
	Start  int64 // bytes
	Size   int64 // bytes
	Device string
}

// Partitions reads the partition table of an image (or disk) with sfdisk.
func Partitions(ctx context.Context, img string) ([]Partition, error) {
	out, err := exec.CommandContext(ctx, "sfdisk", "--json", img).Output()
	if err != nil {
		return nil, fmt.Errorf("diskimage: sfdisk --json %s: %w", img, err)
	}
	var table struct {
		PartitionTable struct {
			Label      string `json:"label"`
			SectorSize int64  `json:"sectorsize"`
			Partitions []struct {
				Node  string `json:"node"`
				Start int64  `json:"start"`
				Size  int64  `json:"size"`
				Type  string `json:"type"`
				Name  string `json:"name"`
			} `json:"partitions"`
		} `json:"partitiontable"`
	}
	if err := json.Unmarshal(out, &table); err != nil {
		return nil, fmt.Errorf("diskimage: sfdisk --json %s: %w", img, err)
	}
	pt := table.PartitionTable
	if pt.SectorSize == 0 {
		pt.SectorSize = 512
	}
	var parts []Partition
	for _, p := range pt.Partitions {
		parts = append(parts, Partition{Name: p.Name, Type: p.Type, Start: p.Start * pt.SectorSize, Size: p.Size * pt.SectorSize, Device: p.Node})
	}
	return parts, nil
}

// dataPartition names the data partition of img in the syntax e2fsprogs
// accept for a file system at an offset inside an image.
func dataPartition(ctx context.Context, img string) (string, error) {
	parts, err := Partitions(ctx, img)
	if err != nil {
		return "", err
	}
	for _, p := range parts {
		if p.Name == disklayout.DataLabel {
			return fmt.Sprintf("%s?offset=%d", img, p.Start), nil
		}
	}
	return "", fmt.Errorf("diskimage: %s has no %s partition", img, disklayout.DataLabel)
}

// ReadDataFile returns the content of the file at path (relative to the
// root of the data partition) in img.
func ReadDataFile(ctx context.Context, img, name string) ([]byte, error) {
	fs, err := dataPartition(ctx, img)
	if err != nil {
		return nil, err
	}
	var stdout, stderr bytes.Buffer
	cmd := exec.CommandContext(ctx, "debugfs", "-R", "cat /"+strings.TrimPrefix(name, "/"), fs)
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("diskimage: read %s from %s: %w: %s", name, img, err, stderr.String())
	}
	// debugfs reports a missing file on stderr and still exits 0.
	if strings.Contains(stderr.String(), "File not found") {
		return nil, fmt.Errorf("diskimage: read %s from %s: %w", name, img, os.ErrNotExist)
	}
	return stdout.Bytes(), nil
}

// WriteDataFile creates or replaces the file at path (relative to the
// root of the data partition, in an existing directory) in img.
func WriteDataFile(ctx context.Context, img, name string, data []byte) error {
	fs, err := dataPartition(ctx, img)
	if err != nil {
		return err
	}
	src, err := os.CreateTemp("", "datafile")
	if err != nil {
		return fmt.Errorf("diskimage: %w", err)
	}
	defer os.Remove(src.Name())
	if _, err := src.Write(data); err != nil {
		src.Close()
		return fmt.Errorf("diskimage: %w", err)
	}
	src.Close()
	dst := "/" + strings.TrimPrefix(name, "/")
	script := fmt.Sprintf("rm %s\nwrite %s %s\n", dst, src.Name(), dst)
	return runInput(ctx, script, "debugfs", "-w", "-f", "-", fs)
}

func run(ctx context.Context, name string, args ...string) error {
	return runInput(ctx, "", name, args...)
}

func runInput(ctx context.Context, stdin, name string, args ...string) error {
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Stdin = strings.NewReader(stdin)
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("diskimage: %s %s: %w: %s", name, strings.Join(args, " "), err, strings.TrimSpace(string(out)))
	}
	return nil
}
