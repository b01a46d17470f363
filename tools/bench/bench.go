// Package bench measures the analysis engine against its peers on the
// same capture: our offline analysis in packets per second per core (all
// modules on) and allocations per packet, what each lower level of
// analysis costs, tshark and ndpiReader on the same file, the memory a
// tracked connection and IP cost, and how fast the statistics store
// answers while it is being filled.
//
//	r, err := bench.Run(ctx, bench.Config{Packets: 2_000_000}, os.Stdout)
//
// Figures are measured, never asserted: tests of this package only check
// that a short run completes.
package bench

import (
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

	"github.com/multimeter-fw/multimeter/services/analysis"
	"github.com/multimeter-fw/multimeter/services/capture"
	"github.com/multimeter-fw/multimeter/services/capture/filesource"
	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/engine"
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
	// Level is the level of analysis of the main run (capture, l2, l3,
	// l4, all); default all. The peers' ratios and aims are for all.
	Level string
	// Loops is how many passes are analysed after the warm-up pass,
	// each pass the traffic continuing later in time in new conversations of
	// the same hosts; default 2.
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
	if c.Level == "" {
		c.Level = analysis.LevelAll.String()
	}
}

// Report is what a run measured.
type Report struct {
	Packets int
	Ours    Throughput // steady state: the mean of the measured passes
	First   Throughput // the first pass, engine setup included
	// Read is reading the capture file as our analysis does, alone: the part of
	// Ours that is reading the file, which the peers do too.
	Read Throughput
	// Levels are the measured passes at each level of analysis below
	// all (capture, l2, l3, l4): what the per-packet work costs without
	// the figures of the levels above it.
	Levels    []LevelThroughput
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

// LevelThroughput is our offline analysis at one level of analysis.
type LevelThroughput struct {
	Level analysis.Level
	Throughput
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
	level, err := analysis.ParseLevel(cfg.Level)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	if level != analysis.LevelAll && !cfg.OursOnly {
		return nil, fmt.Errorf("bench: level %s is for runs of our analysis alone (OursOnly): the peers compare with all", level)
	}
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
	passes := filepath.Join(dir, "passes.pcap")
	fmt.Fprintf(w, "generating %d packets with trafficgen into %s, and %d passes of as many for our analysis into %s\n",
		cfg.Packets, path, 1+cfg.Loops, passes)
	if err := writePasses(path, cfg.Packets, 1); err != nil {
		return nil, err
	}
	if err := writePasses(passes, cfg.Packets, 1+cfg.Loops); err != nil {
		return nil, err
	}
	defer os.Remove(passes)
	n := cfg.Packets
	r := &Report{Packets: n, Load: loadAverage()}
	if r.Read, err = readFile(path); err != nil {
		return nil, err
	}
	if r.First, r.Ours, r.AllocsPer, err = offline(ctx, passes, n, cfg.Shards, level, cfg.Loops, cfg.CPUProfile); err != nil {
		return nil, err
	}
	if cfg.OursOnly {
		r.writeThroughput(w, cfg)
		return r, nil
	}
	for l := analysis.LevelCapture; l < analysis.LevelAll; l++ {
		_, t, _, err := offline(ctx, passes, n, cfg.Shards, l, cfg.Loops, nil)
		if err != nil {
			return nil, err
		}
		r.Levels = append(r.Levels, LevelThroughput{Level: l, Throughput: t})
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

// passGap is how long after the last packet of one pass the next starts.
const passGap = 2 * time.Second

// writePasses writes passes mixes of n packets into path, one after the
// other in time (trafficgen.WritePasses). The first is the mix the peers
// read; our analysis reads them all like `multimeterd --replay`: the
// first pass also sets the engine up, the later ones show the steady
// state, tables in place and conversations still new to them.
func writePasses(path string, n, passes int) error {
	f, err := os.Create(path)
	if err != nil {
		return fmt.Errorf("bench: %w", err)
	}
	defer f.Close()
	if err := trafficgen.WritePasses(f, trafficgen.Config{Seed: 1}, n, passes, passGap); err != nil {
		return err
	}
	return f.Close()
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

// readFile times reading the capture as our analysis does (filesource:
// the file memory-mapped, each record's frame copied out) with nothing
// after it, the best of three runs.
func readFile(path string) (Throughput, error) {
	var best Throughput
	for i := range 3 {
		src, err := filesource.Open(path, filesource.Config{})
		if err != nil {
			return Throughput{}, fmt.Errorf("bench: %w", err)
		}
		wall, cpu := time.Now(), cpuTime()
		var h copyingHandler
		err = src.Run(context.Background(), func(int) capture.Handler { return &h })
		t := Throughput{Wall: time.Since(wall), CPU: cpuTime() - cpu}
		if err != nil {
			return Throughput{}, fmt.Errorf("bench: %w", err)
		}
		if i == 0 || t.CPU < best.CPU {
			best = t
		}
	}
	return best, nil
}

// copyingHandler copies each frame, as the engine copies it into a batch.
type copyingHandler struct{ buf [1 << 16]byte }

func (h *copyingHandler) Handle(_ *decode.Packet, _ decode.LinkType, frame []byte) {
	copy(h.buf[:], frame)
}
func (h *copyingHandler) Flush() {}

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

// offline analyses the capture at path, passes of n packets, at level
// (all: every module on), as `multimeterd --replay` does: a first pass
// warms the tables up, the measured passes that follow show the steady
// state (the pipeline's setup is not in them). first is the first pass on its own,
// engine setup included: every conversation new, every table touched for
// the first time, as for a peer that reads the file once.
func offline(ctx context.Context, path string, n, shards int, level analysis.Level, measuredLoops int, profile io.Writer) (first, steady Throughput, allocs float64, err error) {
	file, err := filesource.Open(path, filesource.Config{})
	if err != nil {
		return Throughput{}, Throughput{}, 0, err
	}
	start, startCPU := time.Now(), cpuTime()
	e, err := engine.New(engine.Config{Shards: shards, Clock: "packet", Level: &level}, nil)
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
