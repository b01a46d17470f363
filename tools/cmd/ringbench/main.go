// Command ringbench measures the ring buffer next to dd and tcpdump and
// prints the figures (see package tools/ringbench). make bench-ringbuf runs
// it.
//
// Synopsis:
//
//	ringbench [-dir DIR] [-write-gb 4] [-runs 3] [-mixes default,enterprise] [-buffer-gb 20] [-pps 50000] [-shards 2] [-cpuprofile FILE] [-no-drop-caches]
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
	"strings"

	"github.com/multimeter-fw/multimeter/tools/ringbench"
)

var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("ringbench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var cfg ringbench.Config
	dir := fs.String("dir", "", "scratch directory on the file system to measure (default: a new one in $TMPDIR)")
	writeGB := fs.Float64("write-gb", 4, "size of the write-rate test in GB, per traffic mix")
	fs.IntVar(&cfg.Runs, "runs", 3, "write-rate runs per traffic mix (medians are compared)")
	mixes := fs.String("mixes", "default,enterprise", "traffic mixes of the write-rate test")
	bufferGB := fs.Float64("buffer-gb", 20, "ring buffer size of the extraction test in GB (negative: skip the extraction test)")
	fs.Float64Var(&cfg.PPS, "pps", 50000, "packet rate of the generated timeline")
	fs.IntVar(&cfg.Shards, "shards", 2, "analyzer shards feeding the buffer")
	fs.StringVar(&cfg.CPUProfile, "cpuprofile", "", "write CPU profiles of the first O_DIRECT write-rate run of each mix to FILE-<mix>.ext")
	fs.BoolVar(&cfg.NoDropCaches, "no-drop-caches", false, "do not drop the page cache (when not root)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	cfg.WriteBytes, cfg.BufferBytes = int64(*writeGB*(1<<30)), int64(*bufferGB*(1<<30))
	cfg.Dir = *dir
	cfg.Mixes = strings.Split(*mixes, ",")
	if cfg.Dir == "" {
		d, err := os.MkdirTemp("", "ringbench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		cfg.Dir = d
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
	return ringbench.Run(ctx, cfg, stdout, log)
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
