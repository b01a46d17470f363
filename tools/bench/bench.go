// Package bench measures the analysis engine against its peers on the
// same capture: our offline analysis in packets per second per core (all
// modules on) and allocations per packet, tshark and ndpiReader on the
// same file, the memory a tracked connection and IP cost, and how fast
// the statistics store answers while it is being filled.
//
//	r, err := bench.Run(ctx, bench.Config{Packets: 2_000_000}, os.Stdout)
//
// Figures are measured, never asserted: tests of this package only check
// that a short run completes.
package bench

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"runtime/pprof"
	"strings"
	"syscall"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/multimeter-fw/multimeter/services/capture"
	"github.com/multimeter-fw/multimeter/services/capture/filesource"
	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/engine"
	"github.com/multimeter-fw/multimeter/services/pcapfile"
	"github.com/multimeter-fw/multimeter/tools/trafficgen"
)

// Config shapes a benchmark run. The zero value is the full run.
type Config struct {
	Packets int    // generated mix size; default 2,000,000
	Dir     string // where the capture is written; default a temp dir
	Shards  int    // analyzer shards for the throughput run; default 1
	// StoreIPs and StoreConns size the store query benchmark; defaults
	// 1,000,000 and 2,000,000.
	StoreIPs, StoreConns int
	// MemoryConns sizes the memory measurement; default 200,000.
	MemoryConns int
	// OursOnly measures only our offline analysis (for profiling it):
	// no peers, memory or store queries.
	OursOnly bool
	// CPUProfile, if set, receives a CPU profile of the measured loops of
	// our offline analysis.
	CPUProfile io.Writer
	// Loops is how often the capture is analysed after a warm-up pass,
	// each loop continuing the traffic later in time; default 2.
	Loops int
}

func (c *Config) fillDefaults() {
	if c.Packets <= 0 {
		c.Packets = 2_000_000
	}
	if c.Shards <= 0 {
		c.Shards = 1
	}
	if c.StoreIPs <= 0 {
		c.StoreIPs = 1_000_000
	}
	if c.StoreConns <= 0 {
		c.StoreConns = 2_000_000
	}
	if c.Loops <= 0 {
		c.Loops = 2
	}
	if c.MemoryConns <= 0 {
		c.MemoryConns = 200_000
	}
}

// Report is what a run measured.
type Report struct {
	Packets int
	Ours    Throughput // steady state: the mean of the measured passes
	First   Throughput // the first pass, engine setup included
	// Read is reading the capture file with pcapfile alone: the part of
	// Ours that is reading the file, which the peers do too.
	Read      Throughput
	Tshark    Throughput // zero when tshark is missing
	NDPI      Throughput // zero when ndpiReader is missing
	Memory    Memory
	Queries   Queries
	AllocsPer float64 // allocations per packet over the measured loops
	Load      string  // the system's load averages before the run
}

// Throughput is one analyser's speed on the capture.
type Throughput struct {
	Wall, CPU time.Duration
	// Analyzer is the CPU time of our analyzer shards' threads (zero for
	// the peers): the figure per analyzer core, I/O and store threads
	// apart.
	Analyzer time.Duration
}

// PPS is packets per wall-clock second.
func (t Throughput) PPS(packets int) float64 { return rate(packets, t.Wall) }

// PPSPerCore is packets per CPU second (all threads).
func (t Throughput) PPSPerCore(packets int) float64 { return rate(packets, t.CPU) }

func rate(n int, d time.Duration) float64 {
	if d <= 0 {
		return 0
	}
	return float64(n) / d.Seconds()
}

// Run generates the mix, measures everything and writes the report to w.
func Run(ctx context.Context, cfg Config, w io.Writer) (*Report, error) {
	cfg.fillDefaults()
	dir := cfg.Dir
	if dir == "" {
		d, err := os.MkdirTemp("", "mmbench")
		if err != nil {
			return nil, fmt.Errorf("bench: temp dir: %w", err)
		}
		defer os.RemoveAll(d)
		dir = d
	}
	path := filepath.Join(dir, "mix.pcap")
	fmt.Fprintf(w, "generating %d packets with trafficgen into %s\n", cfg.Packets, path)
	if err := writeMix(path, cfg.Packets); err != nil {
		return nil, err
	}
	passes := filepath.Join(dir, "passes.pcap")
	n, err := writePasses(path, passes, 1+cfg.Loops)
	if err != nil {
		return nil, err
	}
	r := &Report{Packets: n, Load: loadAverage()}
	if r.Read, err = readFile(path); err != nil {
		return nil, err
	}
	if r.First, r.Ours, r.AllocsPer, err = offline(ctx, passes, n, cfg.Shards, cfg.Loops, cfg.CPUProfile); err != nil {
		return nil, err
	}
	os.Remove(passes)
	if cfg.OursOnly {
		r.writeThroughput(w, cfg)
		return r, nil
	}
	r.Tshark, _ = peer(ctx, "tshark", "-q", "-z", "endpoints,ip", "-z", "conv,tcp", "-r", path)
	r.NDPI, _ = peer(ctx, "ndpiReader", "-i", path, "-q")
	r.Memory = measureMemory(cfg.MemoryConns)
	if r.Queries, err = queryStore(ctx, cfg.StoreIPs, cfg.StoreConns); err != nil {
		return nil, err
	}
	r.write(w, cfg)
	return r, nil
}

func writeMix(path string, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	if err := trafficgen.WritePcap(f, trafficgen.New(trafficgen.Config{Seed: 1}), n); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// writePasses writes the capture at mix passes times into path, each pass
// later in time than the one before by the capture's span, and returns
// the packets in one pass. Our analysis reads it like `multimeterd
// --replay`: the first pass warms the tables up, the later ones find the
// same addresses and ports again, as on a link that carries them for
// long.
func writePasses(mix, path string, passes int) (int, error) {
	first, last, n, err := span(mix)
	if err != nil {
		return 0, err
	}
	f, err := os.Create(path)
	if err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	defer f.Close()
	bw := bufio.NewWriterSize(f, 1<<20)
	pw := pcapgo.NewWriterNanos(bw)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	step := last - first + int64(time.Second)
	for pass := range passes {
		err := eachPacket(mix, func(p *decode.Packet, frame []byte) error {
			ci := gopacket.CaptureInfo{Timestamp: time.Unix(0, p.Timestamp+int64(pass)*step), CaptureLength: len(frame), Length: int(p.OrigLen)}
			return pw.WritePacket(ci, frame)
		})
		if err != nil {
			return 0, err
		}
	}
	if err := bw.Flush(); err != nil {
		return 0, fmt.Errorf("bench: %w", err)
	}
	return n, f.Close()
}

// span returns the first and last timestamps of the capture at path and
// its packet count.
func span(path string) (first, last int64, n int, err error) {
	err = eachPacket(path, func(p *decode.Packet, _ []byte) error {
		if n == 0 {
			first = p.Timestamp
		}
		last = p.Timestamp
		n++
		return nil
	})
	if err == nil && n == 0 {
		err = fmt.Errorf("bench: %s: no packets", path)
	}
	return first, last, n, err
}

// eachPacket calls fn with every packet of the capture at path.
func eachPacket(path string, fn func(p *decode.Packet, frame []byte) error) error {
	f, err := os.Open(path)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	defer f.Close()
	r, err := pcapfile.NewReader(f)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	var p decode.Packet
	for {
		frame, _, err := r.Next(&p)
		if err == io.EOF {
			return nil
		}
		if err != nil {
			return fmt.Errorf("bench: %s: %w", path, err)
		}
		if err := fn(&p, frame); err != nil {
			return fmt.Errorf("bench: %w", err)
		}
	}
}

// marking is the replay of the passes, calling mark before packet at
// (counted from 0) reaches the analysis: the measured passes start there.
type marking struct {
	*filesource.Source
	at   int
	mark func()
}

func (m *marking) Run(ctx context.Context, newHandler func(int) capture.Handler) error {
	return m.Source.Run(ctx, func(worker int) capture.Handler {
		return &markingHandler{Handler: newHandler(worker), left: m.at, mark: m.mark}
	})
}

type markingHandler struct {
	capture.Handler
	left int
	mark func()
}

func (h *markingHandler) Handle(p *decode.Packet, link decode.LinkType, frame []byte) {
	if h.left >= 0 {
		if h.left == 0 {
			h.mark()
		}
		h.left--
	}
	h.Handler.Handle(p, link, frame)
}

// readFile times reading the capture with pcapfile alone, the best of
// three passes (the file is in the page cache, as it is for the peers):
// the part of our figure that is reading the file.
func readFile(path string) (Throughput, error) {
	var best Throughput
	for i := range 3 {
		f, err := os.Open(path)
		if err != nil {
			return Throughput{}, fmt.Errorf("bench: %w", err)
		}
		wall, cpu := time.Now(), cpuTime()
		r, err := pcapfile.NewReader(f)
		if err != nil {
			f.Close()
			return Throughput{}, fmt.Errorf("bench: %w", err)
		}
		var p decode.Packet
		for err == nil {
			_, _, err = r.Next(&p)
		}
		t := Throughput{Wall: time.Since(wall), CPU: cpuTime() - cpu}
		f.Close()
		if err != io.EOF {
			return Throughput{}, fmt.Errorf("bench: %s: %w", path, err)
		}
		if i == 0 || t.CPU < best.CPU {
			best = t
		}
	}
	return best, nil
}

// loadAverage is the first three fields of /proc/loadavg, or "" where
// there is none.
func loadAverage() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return ""
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return ""
	}
	return strings.Join(f[:3], " ")
}

// cpuTime is the process's user plus system time.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// offline analyses the capture at path, passes of n packets, with every
// module on, as `multimeterd --replay` does: a first pass warms the tables
// up, the measured passes that follow show the steady state (the
// pipeline's setup is not in them). first is the first pass on its own,
// engine setup included: every conversation new, every table touched for
// the first time, as for a peer that reads the file once.
func offline(ctx context.Context, path string, n, shards, measuredLoops int, profile io.Writer) (first, steady Throughput, allocs float64, err error) {
	file, err := filesource.Open(path, filesource.Config{})
	if err != nil {
		return Throughput{}, Throughput{}, 0, err
	}
	start, startCPU := time.Now(), cpuTime()
	e, err := engine.New(engine.Config{Shards: shards, Clock: "packet"}, nil)
	if err != nil {
		return Throughput{}, Throughput{}, 0, err
	}
	var cpu0 time.Duration
	var wall0 time.Time
	var busy0 engine.Processed
	var m0, m1 runtime.MemStats
	src := &marking{Source: file, at: n, mark: func() {
		runtime.ReadMemStats(&m0)
		if profile != nil {
			// A profile already running elsewhere only loses this one.
			_ = pprof.StartCPUProfile(profile)
		}
		cpu0, wall0, busy0 = cpuTime(), time.Now(), e.Processed()
		first = Throughput{Wall: wall0.Sub(start), CPU: cpu0 - startCPU, Analyzer: busy0.Busy}
	}}
	err = e.Run(ctx, src)
	if profile != nil {
		pprof.StopCPUProfile()
	}
	if err != nil {
		return Throughput{}, Throughput{}, 0, err
	}
	steady = Throughput{
		Wall:     time.Since(wall0) / time.Duration(measuredLoops),
		CPU:      (cpuTime() - cpu0) / time.Duration(measuredLoops),
		Analyzer: (e.Processed().Busy - busy0.Busy) / time.Duration(measuredLoops),
	}
	runtime.ReadMemStats(&m1)
	return first, steady, float64(m1.Mallocs-m0.Mallocs) / float64(measuredLoops*n), nil
}
