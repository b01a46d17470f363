// Command livebench measures live capture over a veth pair in a throwaway
// network namespace: tcpreplay sends a generated capture at top speed (or
// at -pps) into one end, and our capture and tcpdump both receive on the
// other end in the same run. It prints the rate tcpreplay reached and, for each receiver,
// packets received and dropped by the kernel. With -analyze our packets go
// through the whole analysis engine (every module, the daemon's default
// configuration), and it also prints what the engine analysed and what it
// could not (overload). It needs root.
//
// Synopsis:
//
//	livebench [-n 1000000] [-pcap FILE] [-workers 1] [-block-size 1048576] [-block-count 64] [-mode sink|bridge] [-analyze] [-pps N] [-cpuprofile FILE]
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
	"path/filepath"
	"regexp"
	"runtime/pprof"
	"strconv"
	"sync/atomic"
	"syscall"
	"text/tabwriter"
	"time"

	"golang.org/x/sys/unix"

	"github.com/multimeter-fw/multimeter/services/capture"
	"github.com/multimeter-fw/multimeter/services/capture/live"
	"github.com/multimeter-fw/multimeter/services/capture/live/livetest"
	"github.com/multimeter-fw/multimeter/services/engine"
	"github.com/multimeter-fw/multimeter/tools/trafficgen"
)

var errUsage = errors.New("usage")

type options struct {
	n          int
	pcap       string
	workers    int
	blockSize  int
	blockCount int
	mode       live.Mode
	analyze    bool
	cpuprofile string
	pps        int
}

// speed is tcpreplay's option for the sending rate.
func (o *options) speed() string {
	if o.pps > 0 {
		return "--pps=" + strconv.Itoa(o.pps)
	}
	return "--topspeed"
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := flag.NewFlagSet("livebench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o options
	fs.IntVar(&o.n, "n", 1_000_000, "frames to generate (ignored with -pcap)")
	fs.StringVar(&o.pcap, "pcap", "", "send this capture instead of a generated one")
	fs.IntVar(&o.workers, "workers", 1, "I/O workers (rings) on the monitor port")
	fs.IntVar(&o.blockSize, "block-size", live.DefaultBlockSize, "ring block size in bytes")
	fs.IntVar(&o.blockCount, "block-count", live.DefaultBlockCount, "ring blocks per worker")
	mode := fs.String("mode", "sink", "sink, or bridge (forward to a second veth pair)")
	fs.IntVar(&o.pps, "pps", 0, "send at this many packets per second (default: tcpreplay's top speed)")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of our side of the run to this file")
	fs.BoolVar(&o.analyze, "analyze", false, "analyse the packets with the engine (every module) rather than only decode them")
	if err := fs.Parse(args); err != nil {
		return errUsage
	}
	var err error
	if o.mode, err = live.ParseMode(*mode); err != nil {
		fmt.Fprintln(stderr, err)
		return errUsage
	}
	if os.Geteuid() != 0 {
		return errors.New("livebench: needs root (network namespaces, packet sockets)")
	}
	if o.pcap == "" {
		dir, err := os.MkdirTemp("", "livebench")
		if err != nil {
			return err
		}
		defer os.RemoveAll(dir)
		o.pcap = filepath.Join(dir, "mix.pcap")
		if err := writeMix(o.pcap, o.n); err != nil {
			return err
		}
	}
	return bench(ctx, o, stdout)
}

func writeMix(file string, n int) error {
	f, err := os.Create(file)
	if err != nil {
		return err
	}
	if err := trafficgen.WritePcap(f, trafficgen.New(trafficgen.Config{Seed: 1}), n); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

func bench(ctx context.Context, o options, stdout io.Writer) error {
	ns, err := livetest.NewNetns("mmbench")
	if err != nil {
		return err
	}
	defer ns.Close()
	ports := []live.PortConfig{{Name: "mon0", Index: 0}}
	if err := ns.AddVeth("mon0", "feed0", 9000); err != nil {
		return err
	}
	if o.mode == live.Bridge {
		ports[0].Partner = "mon1"
		ports = append(ports, live.PortConfig{Name: "mon1", Index: 1, Partner: "mon0"})
		if err := ns.AddVeth("mon1", "feed1", 9000); err != nil {
			return err
		}
	}
	cfg := live.Config{Ports: ports, Mode: o.mode, WorkersPerPort: o.workers, BlockSize: o.blockSize, BlockCount: o.blockCount}
	var src *live.Source
	if err := ns.Do(func() (err error) { src, err = live.Open(cfg, nil); return err }); err != nil {
		return err
	}
	defer src.Close()
	td, err := ns.StartTcpdump(ctx, "mon0", "/dev/null", 0)
	if err != nil {
		return err
	}
	if o.cpuprofile != "" {
		f, err := os.Create(o.cpuprofile)
		if err != nil {
			return err
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return err
		}
		defer pprof.StopCPUProfile()
	}
	var decodeErrors atomic.Uint64
	var before unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &before)
	runCtx, stop := context.WithCancel(ctx)
	done := make(chan error, 1)
	var eng *engine.Engine
	if o.analyze {
		if eng, err = engine.New(engine.Config{}, nil); err != nil {
			stop()
			td.Stop()
			return err
		}
		go func() { done <- eng.Run(runCtx, src) }()
	} else {
		go func() {
			done <- src.Run(runCtx, func(int) capture.Handler { return &capture.Decoder{Errors: &decodeErrors} })
		}()
	}

	out, err := ns.Command(ctx, "tcpreplay", o.speed(), "--preload-pcap", "-i", "feed0", o.pcap).CombinedOutput()
	if err != nil {
		td.Stop()
		stop()
		<-done
		return fmt.Errorf("tcpreplay: %w: %s", err, out)
	}
	// Let both receivers empty their rings (tcpdump's block timeout is
	// one second) before reading the counters.
	time.Sleep(1500 * time.Millisecond)
	tdStats, err := td.Stop()
	stop()
	if runErr := <-done; runErr != nil {
		return runErr
	}
	if err != nil {
		return err
	}
	var after unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &after)
	_, link, err := ns.Link("mon0")
	if err != nil {
		return err
	}
	ours := src.Stats()[0]
	cpu := time.Duration(after.Utime.Nano() + after.Stime.Nano() - before.Utime.Nano() - before.Stime.Nano())
	if err := report(stdout, o, string(out), link, ours, tdStats, decodeErrors.Load(), cpu); err != nil {
		return err
	}
	if eng != nil {
		p := eng.Processed()
		fmt.Fprintf(stdout, "analysed by the engine (%d shard, every module): %d, not processed due to overload %d (%s %%)\n",
			eng.Config().Shards, p.Packets, p.Dropped, percent(p.Dropped, p.Packets+p.Dropped))
	}
	return nil
}

var (
	actualRe = regexp.MustCompile(`Actual: (\d+) packets \((\d+) bytes\) sent in ([\d.]+) seconds`)
	ratedRe  = regexp.MustCompile(`Rated: [\d.]+ Bps, ([\d.]+) Mbps, ([\d.]+) pps`)
)

func report(w io.Writer, o options, replay string, link livetest.LinkStats, ours live.PortStats, td livetest.TcpdumpStats, decodeErrors uint64, cpu time.Duration) error {
	a, r := actualRe.FindStringSubmatch(replay), ratedRe.FindStringSubmatch(replay)
	if a == nil || r == nil {
		return fmt.Errorf("tcpreplay: unexpected output %q", replay)
	}
	fmt.Fprintf(w, "live capture over veth, %s mode, %d worker(s), ring %d x %d bytes per worker\n", o.mode, o.workers, o.blockCount, o.blockSize)
	fmt.Fprintf(w, "tcpreplay %s: %s packets (%s bytes) in %s s: %s pps, %s Mbps\n", o.speed(), a[1], a[2], a[3], r[2], r[1])
	fmt.Fprintf(w, "mon0 received %d packets (kernel link counter)\n\n", link.RXPackets)
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "receiver\treceived\tdropped by kernel\tdrop %\t")
	row := func(name string, received, dropped uint64) {
		fmt.Fprintf(tw, "%s\t%d\t%d\t%s\t\n", name, received, dropped, percent(dropped, received+dropped))
	}
	row("multimeter live", ours.Packets, ours.KernelDrops)
	row("tcpdump", td.Received-td.KernelDrops, td.KernelDrops)
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(w, "\nour CPU time: %.2f s (%.0f ns per packet, in-kernel forwarding included)\n", cpu.Seconds(), float64(cpu.Nanoseconds())/float64(max(ours.Packets, 1)))
	if o.mode == live.Bridge {
		fmt.Fprintf(w, "forwarded %d, not forwarded %d, TX errors %d\n", ours.Forwarded, ours.ForwardDrops, ours.ForwardErrors)
	}
	if decodeErrors > 0 {
		fmt.Fprintf(w, "decode errors: %d\n", decodeErrors)
	}
	return nil
}

func percent(part, whole uint64) string {
	if whole == 0 {
		return "-"
	}
	return strconv.FormatFloat(100*float64(part)/float64(whole), 'f', 2, 64)
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
