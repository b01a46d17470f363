// Command apibench replays a generated capture through an analysis
// instance alone, then while clients call the statistics API on loopback
// at a steady rate, then while they call it as fast as they can, and
// prints the analyzer's rate each time and the API's latency (see package
// tools/apibench). make bench-api runs it.
//
// Synopsis:
//
//	apibench [-packets 4000000] [-clients 4] [-hosts 20000] [-rate 200] [-dir DIR] [-cpuprofile FILE]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"log/slog"
	"os"
	"os/signal"
	"runtime/pprof"

	"github.com/multimeter-fw/multimeter/tools/apibench"
)

var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("apibench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg apibench.Config
	fs.IntVar(&cfg.Packets, "packets", 4_000_000, "packets in the generated capture")
	fs.IntVar(&cfg.Clients, "clients", 4, "concurrent API clients")
	fs.IntVar(&cfg.Hosts, "hosts", 20_000, "client hosts in the capture")
	fs.IntVar(&cfg.Rate, "rate", 200, "requests per second of all clients in the paced run")
	fs.StringVar(&cfg.Dir, "dir", "", "scratch directory (default: a new one in $TMPDIR)")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of the whole run to this file")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("apibench: cpu profile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	if cfg.Dir == "" {
		d, err := os.MkdirTemp("", "apibench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		cfg.Dir = d
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return apibench.Run(ctx, cfg, stdout, log)
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		log.Fatal(err)
	}
}
