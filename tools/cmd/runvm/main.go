// Command runvm boots a built image (images/out/<profile>/) under QEMU
// with the serial console on the terminal and the appliance's HTTPS on
// https://localhost:8443. Ctrl-C, or `runvm -stop` from another terminal
// (make stop), presses the VM's power button and waits for the appliance
// to power off cleanly.
//
// Synopsis:
//
//	runvm [-profile debug] [-fast] [-port 8443] [-work .cache/run]
//	runvm -stop [-work .cache/run]
//
// The boot disk is a fresh copy of the factory image on every start.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/multimeter-fw/multimeter/tools/diskimage"
	"github.com/multimeter-fw/multimeter/tools/imagebuild"
	"github.com/multimeter-fw/multimeter/tools/monitorfeed"
	"github.com/multimeter-fw/multimeter/tools/qemu"
)

var errUsage = errors.New("usage")

type options struct {
	profile string
	fast    bool
	port    int
	work    string
	out     string
	stop    bool
	rate    int
	nvme    int
	ahci    int
}

func run(ctx context.Context, args []string, stdin io.Reader, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("runvm", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.StringVar(&o.profile, "profile", "debug", "image profile to boot: debug or production")
	fs.BoolVar(&o.fast, "fast", false, "boot kernel and initramfs directly instead of through UEFI and systemd-boot")
	fs.IntVar(&o.port, "port", 8443, "host port forwarded to the appliance's HTTPS port")
	fs.StringVar(&o.work, "work", ".cache/run", "work directory (disk copy, sockets, serial log)")
	fs.StringVar(&o.out, "out", "images/out", "image output directory")
	fs.BoolVar(&o.stop, "stop", false, "power off the VM running from the work directory")
	fs.IntVar(&o.nvme, "nvme", 0, "extra empty 1 GiB NVMe disks")
	fs.IntVar(&o.ahci, "ahci", 0, "extra empty 1 GiB SATA (AHCI) disks")
	fs.IntVar(&o.rate, "traffic", 1000, "frames per second the traffic generator feeds into the monitor port (0: none)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	if o.stop {
		if _, err := qemu.QMP(qemu.QMPSocket(o.work), "system_powerdown", nil); err != nil {
			return fmt.Errorf("no VM running from %s: %w", o.work, err)
		}
		fmt.Fprintln(stdout, "runvm: power button pressed; the VM powers off")
		return nil
	}
	if _, err := qemu.QMP(qemu.QMPSocket(o.work), "query-status", nil); err == nil {
		return fmt.Errorf("a VM is already running from %s (make stop ends it)", o.work)
	}
	dir := filepath.Join(o.out, o.profile)
	disk := filepath.Join(o.work, "disk.img")
	if err := os.MkdirAll(o.work, 0o755); err != nil {
		return err
	}
	if err := diskimage.CopySparse(filepath.Join(dir, imagebuild.DiskFile), disk); err != nil {
		return fmt.Errorf("%w (make image builds it)", err)
	}
	cfg := qemu.Config{Disk: disk, HTTPSPort: o.port, MonitorPort: true, TPM: true, WorkDir: o.work, Output: stdout, Input: stdin}
	for i := range o.nvme + o.ahci {
		kind := "nvme"
		if i >= o.nvme {
			kind = "ahci"
		}
		d := qemu.Disk{Path: filepath.Join(o.work, fmt.Sprintf("%s%d.img", kind, i)), Kind: kind}
		if err := qemu.CreateDisk(d.Path, 1<<30); err != nil {
			return err
		}
		cfg.ExtraDisks = append(cfg.ExtraDisks, d)
	}
	if o.fast {
		cmdline, err := os.ReadFile(filepath.Join(dir, imagebuild.CmdlineFile))
		if err != nil {
			return err
		}
		cfg.Kernel = filepath.Join(dir, imagebuild.VmlinuzFile)
		cfg.Initrd = filepath.Join(dir, imagebuild.InitramfsFile)
		cfg.Cmdline = strings.TrimSpace(string(cmdline))
	}
	vm, err := qemu.Start(context.Background(), cfg, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "runvm: booting %s; UI on https://localhost:%d ; Ctrl-C or make stop powers it off\n", dir, o.port)
	feedCtx, stopFeed := context.WithCancel(context.Background())
	fed := make(chan error, 1)
	go func() {
		if o.rate <= 0 {
			fed <- nil
			return
		}
		fed <- monitorfeed.Run(feedCtx, monitorfeed.Config{
			Socket: qemu.MonitorSocket(o.work), Peer: qemu.MonitorPeerSocket(o.work), Rate: o.rate}, log)
	}()
	defer func() {
		stopFeed()
		if err := <-fed; err != nil {
			fmt.Fprintln(stderr, "runvm: traffic:", err)
		}
	}()
	select {
	case <-vm.Done():
	case <-ctx.Done():
		fmt.Fprintln(stderr, "\nrunvm: powering off")
		if !vm.Shutdown(2 * time.Minute) {
			return errors.New("the guest did not power off in time; QEMU was stopped")
		}
	}
	return vm.Wait()
}

func main() {
	// A closed terminal or pipe must not end the runner before the VM
	// has powered off.
	signal.Ignore(syscall.SIGPIPE, syscall.SIGHUP)
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdin, os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "runvm:", err)
		}
		os.Exit(1)
	}
}
