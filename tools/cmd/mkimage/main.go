// Command mkimage builds the appliance image of one profile into
// images/out/<profile>/ (see package imagebuild), or only fetches the
// kernel package.
//
// Synopsis:
//
//	mkimage [-profile production|debug] [-model virtual] [-version V] [-out DIR] [-fetch-kernel]
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

	"github.com/multimeter-fw/multimeter/tools/imagebuild"
	"github.com/multimeter-fw/multimeter/tools/kernelpkg"
)

var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("mkimage", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg imagebuild.Config
	fs.StringVar(&cfg.Profile, "profile", "production", "build profile: production or debug")
	fs.StringVar(&cfg.Model, "model", "virtual", "model profile (hal/model)")
	fs.StringVar(&cfg.Version, "version", "dev", "firmware version")
	fs.StringVar(&cfg.RepoDir, "repo", ".", "repository root")
	fs.StringVar(&cfg.OutDir, "out", "", "output directory (default REPO/images/out)")
	fetchOnly := fs.Bool("fetch-kernel", false, "only fetch and unpack the kernel package")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	log := slog.New(slog.NewTextHandler(stderr, nil))
	if *fetchOnly {
		k, err := kernelpkg.Fetch(ctx, kernelpkg.Config{CacheDir: filepath.Join(cfg.RepoDir, ".cache", "kernel")}, log)
		if err != nil {
			return err
		}
		fmt.Fprintln(stdout, k)
		return nil
	}
	// Go code for the image runs on QEMU's default CPU model.
	os.Setenv("GOAMD64", "v1")
	os.Setenv("CGO_ENABLED", "0")
	res, err := imagebuild.Build(ctx, cfg, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "%s: kernel %s, %d modules, initramfs %.1f MiB (%.1f MiB uncompressed), built in %s\n",
		res.Dir, res.Kernel, res.Modules, float64(res.InitramfsSize)/(1<<20), float64(res.CPIOSize)/(1<<20), res.Took.Round(100_000_000))
	return nil
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if !errors.Is(err, errUsage) {
			fmt.Fprintln(os.Stderr, "mkimage:", err)
		}
		os.Exit(1)
	}
}
