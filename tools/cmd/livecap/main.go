// Command livecap captures from monitor ports with the appliance's live
// capture and prints, every second and per port, packets, bits and kernel
// drops per second, and in bridge mode frames forwarded. Each packet is
// decoded, as the analysis would. It needs root (CAP_NET_RAW).
//
// Synopsis:
//
//	livecap -i eth1 [-i eth2]... [-bridge eth1,eth2]... [-workers 1] [-block-size 1048576] [-block-count 64]
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"github.com/multimeter-fw/multimeter/services/capture"
	"github.com/multimeter-fw/multimeter/services/capture/live"
)

var errUsage = errors.New("usage")

// listFlag collects a repeatable flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(v string) error { *l = append(*l, v); return nil }

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("livecap", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var ifaces, bridges listFlag
	var cfg live.Config
	fs.Var(&ifaces, "i", "monitor interface (repeatable)")
	fs.Var(&bridges, "bridge", "bridge two interfaces, as a,b (repeatable; they become monitor ports too)")
	fs.IntVar(&cfg.WorkersPerPort, "workers", 0, "I/O workers per port (default 1)")
	fs.IntVar(&cfg.BlockSize, "block-size", 0, "ring block size in bytes (default 1 MiB)")
	fs.IntVar(&cfg.BlockCount, "block-count", 0, "ring blocks per worker (default 64)")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	if len(ifaces)+len(bridges) == 0 {
		fmt.Fprintln(stderr, "livecap: no interface given (-i or -bridge)")
		return errUsage
	}
	ports, err := live.PortsOf(ifaces, bridges)
	if err != nil {
		fmt.Fprintln(stderr, err)
		return errUsage
	}
	cfg.Ports = ports
	if len(bridges) > 0 {
		cfg.Mode = live.Bridge
	}
	src, err := live.Open(cfg, nil)
	if err != nil {
		return err
	}
	defer src.Close()

	var decodeErrors atomic.Uint64
	done := make(chan error, 1)
	go func() {
		done <- src.Run(ctx, func(int) capture.Handler { return &capture.Decoder{Errors: &decodeErrors} })
	}()
	tick := time.NewTicker(time.Second)
	defer tick.Stop()
	prev, prevTime := src.Stats(), time.Now()
	for {
		select {
		case err := <-done:
			return err
		case now := <-tick.C:
			cur := src.Stats()
			if err := printStats(stdout, prev, cur, now.Sub(prevTime), src.Ports(), decodeErrors.Load()); err != nil {
				return err
			}
			prev, prevTime = cur, now
		}
	}
}

// printStats prints the counters' growth over elapsed as rates per second.
func printStats(w io.Writer, prev, cur []live.PortStats, elapsed time.Duration, infos []capture.PortInfo, decodeErrors uint64) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintf(tw, "%s\tlink\tpkt/s\tMbit/s\tdrops/s\tfreezes/s\tfwd/s\tfwd drops/s\tworker load %%\ttotal pkts\ttotal drops\t\n", time.Now().Format("15:04:05"))
	perSecond := func(d uint64) float64 { return float64(d) / elapsed.Seconds() }
	for i, c := range cur {
		p := prev[i]
		link := "down"
		if infos[i].LinkUp {
			link = fmt.Sprintf("%d Mb/s", infos[i].SpeedMbps)
		}
		load := 100 * float64(c.Busy-p.Busy) / float64(elapsed) / float64(len(c.Workers))
		fmt.Fprintf(tw, "%s\t%s\t%.0f\t%.1f\t%.0f\t%.0f\t%.0f\t%.0f\t%.1f\t%d\t%d\t\n", c.Name, link,
			perSecond(c.Packets-p.Packets), perSecond(c.Bytes-p.Bytes)*8/1e6,
			perSecond(c.KernelDrops-p.KernelDrops), perSecond(c.KernelFreezes-p.KernelFreezes),
			perSecond(c.Forwarded-p.Forwarded), perSecond(c.ForwardDrops-p.ForwardDrops),
			load, c.Packets, c.KernelDrops)
	}
	if decodeErrors > 0 {
		fmt.Fprintf(tw, "decode errors\t%d\t\n", decodeErrors)
	}
	return tw.Flush()
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, errUsage) {
			os.Exit(2)
		}
		log.Fatal(err)
	}
}
