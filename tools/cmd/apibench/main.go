// Command apibench replays a generated capture through an analysis
// instance alone and then while clients call the statistics API on
// loopback, and prints the analyzer's rate both times and the API's
// latency (see package tools/apibench). make bench-api runs it.
//
// Synopsis:
//
//	apibench [-packets 2000000] [-clients 4] [-hosts 20000] [-dir DIR]
package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"log"
	"log/slog"
	"os"
	"os/signal"

	"github.com/multimeter-fw/multimeter/tools/apibench"
)

var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("apibench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg apibench.Config
	fs.IntVar(&cfg.Packets, "packets", 2_000_000, "packets in the generated capture")
	fs.IntVar(&cfg.Clients, "clients", 4, "concurrent API clients")
	fs.IntVar(&cfg.Hosts, "hosts", 20_000, "client hosts in the capture")
	fs.StringVar(&cfg.Dir, "dir", "", "scratch directory (default: a new one in $TMPDIR)")
	if err := fs.Parse(args); err != nil {
		return errUsage
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
