// Command benchimage builds the production image and prints the figures
// the project tracks: image sizes, build time, and the time from QEMU's
// start to the appliance's HTTPS API answering, under software emulation
// (TCG), on the fast path (-kernel/-initrd) and through UEFI and
// systemd-boot. Aims: initramfs under 40 MB, boot to API under 20 s.
//
// Synopsis:
//
//	benchimage [-profile production] [-version V] [-boots 3]
package main

import (
	"context"
	"crypto/tls"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/multimeter-fw/multimeter/tools/diskimage"
	"github.com/multimeter-fw/multimeter/tools/imagebuild"
	"github.com/multimeter-fw/multimeter/tools/qemu"
)

var errUsage = errors.New("usage")

const (
	aimInitramfsMB = 40
	aimBoot        = 20 * time.Second
)

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("benchimage", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg imagebuild.Config
	fs.StringVar(&cfg.Profile, "profile", "production", "image profile")
	fs.StringVar(&cfg.Version, "version", "dev", "firmware version")
	boots := fs.Int("boots", 3, "boots per path; the median is reported")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	os.Setenv("GOAMD64", "v1")
	os.Setenv("CGO_ENABLED", "0")
	res, err := imagebuild.Build(ctx, cfg, log)
	if err != nil {
		return err
	}
	size := func(name string) float64 {
		fi, err := os.Stat(res.Path(name))
		if err != nil {
			return 0
		}
		return float64(fi.Size()) / 1e6
	}
	fmt.Fprintf(stdout, "image %s (%s), kernel %s, %d modules\n", res.Dir, cfg.Profile, res.Kernel, res.Modules)
	fmt.Fprintf(stdout, "%-34s %10s\n", "figure", "value")
	fmt.Fprintf(stdout, "%-34s %8.1f s\n", "build time", res.Took.Seconds())
	fmt.Fprintf(stdout, "%-34s %7.1f MB  (aim < %d MB)\n", "initramfs (zstd)", float64(res.InitramfsSize)/1e6, aimInitramfsMB)
	fmt.Fprintf(stdout, "%-34s %7.1f MB\n", "initramfs (uncompressed cpio)", float64(res.CPIOSize)/1e6)
	fmt.Fprintf(stdout, "%-34s %7.1f MB\n", "kernel", size(imagebuild.VmlinuzFile))
	fmt.Fprintf(stdout, "%-34s %7.1f MB\n", "unified kernel image (slot)", size(imagebuild.UKIFile))
	fmt.Fprintf(stdout, "%-34s %7.1f MB\n", "factory disk image", size(imagebuild.DiskFile))
	for _, uefi := range []bool{false, true} {
		name := "boot to API ready, -kernel (TCG)"
		if uefi {
			name = "boot to API ready, UEFI (TCG)"
		}
		var times []time.Duration
		for range *boots {
			d, err := bootTime(ctx, res, uefi, log)
			if err != nil {
				return fmt.Errorf("%s: %w", name, err)
			}
			times = append(times, d)
		}
		slices.Sort(times)
		fmt.Fprintf(stdout, "%-34s %8.1f s  (aim < %v; min %.1f, max %.1f over %d boots)\n", name,
			times[len(times)/2].Seconds(), aimBoot, times[0].Seconds(), times[len(times)-1].Seconds(), len(times))
	}
	return nil
}

// bootTime boots a fresh copy of the image and measures from QEMU's start
// until the HTTPS API answers a request (any HTTP status).
func bootTime(ctx context.Context, res imagebuild.Result, uefi bool, log *slog.Logger) (time.Duration, error) {
	work, err := os.MkdirTemp("", "benchimage")
	if err != nil {
		return 0, err
	}
	defer os.RemoveAll(work)
	disk := filepath.Join(work, "disk.img")
	if err := diskimage.CopySparse(res.Path(imagebuild.DiskFile), disk); err != nil {
		return 0, err
	}
	cfg := qemu.Config{Disk: disk, WorkDir: work}
	if !uefi {
		cfg.Kernel, cfg.Initrd, cfg.Cmdline = res.Path(imagebuild.VmlinuzFile), res.Path(imagebuild.InitramfsFile), imagebuild.Cmdline
	}
	start := time.Now()
	vm, err := qemu.Start(ctx, cfg, log)
	if err != nil {
		return 0, err
	}
	defer vm.Shutdown(time.Minute)
	client := &http.Client{
		Timeout:   2 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}},
	}
	deadline := start.Add(5 * time.Minute)
	for time.Now().Before(deadline) {
		resp, err := client.Get("https://" + vm.HTTPSAddr() + "/API/info/system")
		if err == nil {
			resp.Body.Close()
			return time.Since(start), nil
		}
		select {
		case <-ctx.Done():
			return 0, ctx.Err()
		case <-vm.Done():
			return 0, fmt.Errorf("qemu exited: %v; console: %s", vm.Wait(), tail(vm.Console().String()))
		case <-time.After(100 * time.Millisecond):
		}
	}
	return 0, fmt.Errorf("API not ready after 5 minutes; console: %s", tail(vm.Console().String()))
}

func tail(s string) string {
	lines := strings.Split(s, "\n")
	return strings.Join(lines[max(0, len(lines)-20):], "\n")
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "benchimage:", err)
		}
		os.Exit(1)
	}
}
