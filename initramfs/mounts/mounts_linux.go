// Package mounts sets up the appliance's file systems: the kernel's
// pseudo file systems first thing in boot, and the data partition (found
// by its GPT label and type) that keeps configuration, users and
// certificates across reboots and updates.
//
//	err := mounts.Early()
//	dev, err := mounts.FindPartition(ctx, disklayout.DataLabel, disklayout.DataType, 10*time.Second)
//	err = mounts.MountData(dev, "/perm")
package mounts

import (
	"context"
	"errors"
	"fmt"
	"os"
	"time"

	"github.com/u-root/u-root/pkg/mount/block"
	"golang.org/x/sys/unix"
)

type pseudoFS struct {
	source, target, fstype string
	flags                  uintptr
	data                   string
}

// early are mounted in order; the root is the initramfs itself.
var early = []pseudoFS{
	{"proc", "/proc", "proc", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
	{"sysfs", "/sys", "sysfs", unix.MS_NOSUID | unix.MS_NODEV | unix.MS_NOEXEC, ""},
	{"devtmpfs", "/dev", "devtmpfs", unix.MS_NOSUID, "mode=0755"},
	{"devpts", "/dev/pts", "devpts", unix.MS_NOSUID | unix.MS_NOEXEC, "newinstance,ptmxmode=0666,gid=5,mode=0620"},
	{"tmpfs", "/dev/shm", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=1777"},
	{"tmpfs", "/run", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=0755"},
	{"tmpfs", "/tmp", "tmpfs", unix.MS_NOSUID | unix.MS_NODEV, "mode=1777"},
}

// Early mounts /proc, /sys, /dev, /dev/pts, /dev/shm, /run and /tmp. A file
// system that is already mounted (the kernel may have mounted devtmpfs) is
// not an error.
func Early() error {
	var errs []error
	for _, m := range early {
		if err := os.MkdirAll(m.target, 0o755); err != nil {
			errs = append(errs, fmt.Errorf("mounts: mkdir %s: %w", m.target, err))
			continue
		}
		if err := unix.Mount(m.source, m.target, m.fstype, m.flags, m.data); err != nil && !errors.Is(err, unix.EBUSY) {
			errs = append(errs, fmt.Errorf("mounts: mount %s on %s: %w", m.fstype, m.target, err))
		}
	}
	// /dev/ptmx must point at the devpts instance.
	os.Remove("/dev/ptmx")
	if err := os.Symlink("pts/ptmx", "/dev/ptmx"); err != nil {
		errs = append(errs, fmt.Errorf("mounts: /dev/ptmx: %w", err))
	}
	return errors.Join(errs...)
}

// FindPartition waits up to wait for a GPT partition with the given label
// and type GUID (disk drivers probe asynchronously) and returns its
// device path.
func FindPartition(ctx context.Context, label, typeGUID string, wait time.Duration) (string, error) {
	deadline := time.Now().Add(wait)
	for {
		devs, err := block.GetBlockDevices()
		if err == nil {
			// Each filter reads the partition tables of the disks in
			// devs, so both run on the full list and are intersected.
			found := intersect(devs.FilterPartType(typeGUID), devs.FilterPartLabel(label))
			switch len(found) {
			case 1:
				return found[0], nil
			case 0:
			default:
				return "", fmt.Errorf("mounts: %d partitions labelled %s: %v", len(found), label, found)
			}
		}
		if time.Now().After(deadline) {
			return "", fmt.Errorf("mounts: no partition labelled %s of type %s after %v (block devices: %v, %v)", label, typeGUID, wait, devs, err)
		}
		select {
		case <-ctx.Done():
			return "", ctx.Err()
		case <-time.After(200 * time.Millisecond):
		}
	}
}

func intersect(a, b block.BlockDevices) []string {
	var both []string
	for _, x := range a {
		for _, y := range b {
			if x.Name == y.Name {
				both = append(both, x.DevicePath())
			}
		}
	}
	return both
}

// MountData mounts the ext4 data partition dev on dir.
func MountData(dev, dir string) error {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return fmt.Errorf("mounts: mkdir %s: %w", dir, err)
	}
	if err := unix.Mount(dev, dir, "ext4", unix.MS_NOATIME|unix.MS_NODEV|unix.MS_NOSUID, ""); err != nil {
		return fmt.Errorf("mounts: mount %s on %s: %w", dev, dir, err)
	}
	return nil
}

// Unmount flushes and unmounts dir; if it is busy it is remounted
// read-only, which also leaves the file system clean.
func Unmount(dir string) error {
	unix.Sync()
	if err := unix.Unmount(dir, 0); err == nil || errors.Is(err, unix.EINVAL) {
		return nil
	}
	if err := unix.Mount("", dir, "", unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
		return fmt.Errorf("mounts: remount %s read-only: %w", dir, err)
	}
	return nil
}
