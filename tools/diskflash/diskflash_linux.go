// Package diskflash writes a factory disk image to a block device (a disk or
// a USB stick), refusing a device that is mounted or in use and reading
// the written bytes back to verify them.
//
//	d, err := diskflash.Inspect(dev, img) // refuses a mounted, too small or non-disk device
//	err = diskflash.Write(ctx, img, dev, progress)
package diskflash

import (
	"bufio"
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"

	"golang.org/x/sys/unix"
)

// ErrMounted is returned for a device that is mounted or has a mounted
// partition.
var ErrMounted = errors.New("device is mounted")

// Device describes a target block device.
type Device struct {
	Path  string
	Name  string // kernel name, e.g. sdb
	Size  int64
	Model string // from sysfs, when the device reports one
}

func (d Device) String() string {
	s := fmt.Sprintf("%s (%.1f GB", d.Path, float64(d.Size)/1e9)
	if d.Model != "" {
		s += ", " + d.Model
	}
	return s + ")"
}

// Inspect checks that path is a whole block device that nothing has
// mounted (itself or a partition) and that img fits on it.
func Inspect(path, img string) (Device, error) {
	return inspect(path, img, "/sys", "/proc/self/mountinfo")
}

func inspect(path, img, sys, mountinfo string) (Device, error) {
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		return Device{}, fmt.Errorf("diskflash: %s: %w", path, err)
	}
	if st.Mode&unix.S_IFMT != unix.S_IFBLK {
		return Device{}, fmt.Errorf("diskflash: %s is not a block device", path)
	}
	major, minor := unix.Major(st.Rdev), unix.Minor(st.Rdev)
	devDir, err := filepath.EvalSymlinks(filepath.Join(sys, "dev", "block", fmt.Sprintf("%d:%d", major, minor)))
	if err != nil {
		return Device{}, fmt.Errorf("diskflash: %s: %w", path, err)
	}
	if _, err := os.Stat(filepath.Join(devDir, "partition")); err == nil {
		return Device{}, fmt.Errorf("diskflash: %s is a partition; give the whole disk", path)
	}
	d := Device{Path: path, Name: filepath.Base(devDir)}
	if model, err := os.ReadFile(filepath.Join(devDir, "device", "model")); err == nil {
		d.Model = strings.TrimSpace(string(model))
	}
	// The disk and its partitions, by major:minor.
	ids := map[string]bool{fmt.Sprintf("%d:%d", major, minor): true}
	entries, _ := os.ReadDir(devDir)
	for _, e := range entries {
		if dev, err := os.ReadFile(filepath.Join(devDir, e.Name(), "dev")); err == nil && strings.HasPrefix(e.Name(), d.Name) {
			ids[strings.TrimSpace(string(dev))] = true
		}
	}
	if where, err := mounted(mountinfo, ids); err != nil {
		return Device{}, err
	} else if where != "" {
		return Device{}, fmt.Errorf("diskflash: %s: %w on %s; unmount it first", path, ErrMounted, where)
	}
	f, err := os.Open(path)
	if err != nil {
		return Device{}, fmt.Errorf("diskflash: %w", err)
	}
	defer f.Close()
	if d.Size, err = f.Seek(0, io.SeekEnd); err != nil {
		return Device{}, fmt.Errorf("diskflash: size of %s: %w", path, err)
	}
	fi, err := os.Stat(img)
	if err != nil {
		return Device{}, fmt.Errorf("diskflash: %w", err)
	}
	if fi.Size() > d.Size {
		return Device{}, fmt.Errorf("diskflash: image %s (%d bytes) does not fit on %s", img, fi.Size(), d)
	}
	return d, nil
}

// mounted returns the mount point of the first mount of a device in ids
// (major:minor), reading mountinfo.
func mounted(mountinfo string, ids map[string]bool) (string, error) {
	f, err := os.Open(mountinfo)
	if err != nil {
		return "", fmt.Errorf("diskflash: %w", err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		fields := strings.Fields(sc.Text())
		if len(fields) > 4 && ids[fields[2]] {
			return fields[4], nil
		}
	}
	return "", sc.Err()
}

// Write copies img onto the device, flushes it, reads it back to compare
// checksums and asks the kernel to re-read the partition table. The
// device is opened exclusively, so the kernel refuses it if it is in use
// (mounted, a RAID or LVM member) even after Inspect.
func Write(ctx context.Context, img, dev string, progress func(written, total int64)) error {
	in, err := os.Open(img)
	if err != nil {
		return fmt.Errorf("diskflash: %w", err)
	}
	defer in.Close()
	fi, err := in.Stat()
	if err != nil {
		return fmt.Errorf("diskflash: %w", err)
	}
	out, err := os.OpenFile(dev, os.O_RDWR|unix.O_EXCL, 0)
	if err != nil {
		return fmt.Errorf("diskflash: open %s exclusively: %w", dev, err)
	}
	defer out.Close()
	want := sha256.New()
	buf := make([]byte, 4<<20)
	var written int64
	for {
		if err := ctx.Err(); err != nil {
			return fmt.Errorf("diskflash: %w (the device holds a partial image)", err)
		}
		n, rerr := io.ReadFull(in, buf)
		if n > 0 {
			want.Write(buf[:n])
			if _, err := out.Write(buf[:n]); err != nil {
				return fmt.Errorf("diskflash: write %s: %w", dev, err)
			}
			written += int64(n)
			if progress != nil {
				progress(written, fi.Size())
			}
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		}
		if rerr != nil {
			return fmt.Errorf("diskflash: read %s: %w", img, rerr)
		}
	}
	if err := out.Sync(); err != nil {
		return fmt.Errorf("diskflash: flush %s: %w", dev, err)
	}
	// Drop cached pages so the read-back comes from the device.
	unix.Fadvise(int(out.Fd()), 0, 0, unix.FADV_DONTNEED)
	got := sha256.New()
	if _, err := io.Copy(got, io.NewSectionReader(out, 0, written)); err != nil {
		return fmt.Errorf("diskflash: read back %s: %w", dev, err)
	}
	if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		return fmt.Errorf("diskflash: %s does not read back what was written", dev)
	}
	// Let the kernel see the new partitions (not an error if it cannot).
	unix.IoctlSetInt(int(out.Fd()), unix.BLKRRPART, 0)
	return nil
}
