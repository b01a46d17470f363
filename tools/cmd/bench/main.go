// Command bench measures the analysis engine next to tshark and
// ndpiReader on the same generated capture, the memory per connection and
// IP, and the statistics store's query latencies (see package tools/bench).
//
// Synopsis:
//
//	bench [-n 2000000] [-shards 1] [-loops 2] [-dir DIR] [-short] [-ours-only [-level LEVEL]] [-cpuprofile FILE]
package main

import (
	"context"
	"errors"
	"flag"
	"io"
	"log"
	"os"
	"os/signal"

	"github.com/multimeter-fw/multimeter/tools/bench"
)

var errUsage = errors.New("usage")

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	n := fs.Int("n", 2_000_000, "packets in the generated mix")
	shards := fs.Int("shards", 1, "analyzer shards")
	short := fs.Bool("short", false, "a quick run with small sizes (CI)")
	loops := fs.Int("loops", 2, "measured passes after the warm-up pass (new conversations of the same hosts)")
	oursOnly := fs.Bool("ours-only", false, "measure only our offline analysis (no peers, memory, queries)")
	dir := fs.String("dir", "", "directory for the capture (default a temporary one)")
	level := fs.String("level", "all", "level of analysis of our offline analysis (capture, l2, l3, l4, all); other than all with -ours-only")
	cpuprofile := fs.String("cpuprofile", "", "write a CPU profile of the measured loops of our offline analysis to this file")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	cfg := bench.Config{Packets: *n, Shards: *shards, Dir: *dir, OursOnly: *oursOnly, Loops: *loops, Level: *level}
	if *cpuprofile != "" {
		f, err := os.Create(*cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		cfg.CPUProfile = f
	}
	if *short {
		cfg.Packets, cfg.StoreIPs, cfg.StoreConns, cfg.MemoryConns = 50_000, 20_000, 40_000, 20_000
	}
	_, err := bench.Run(ctx, cfg, stdout)
	return err
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
