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

	"github.com/multimeter-fw/multimeter/services/capture"
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
	// Read is reading the capture file with pcapfile alone (CPU time):
	// our analysis runs from memory, the peers read the file, so the
	// ratios add it to ours.
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
	frames, err := load(path)
	if err != nil {
		return nil, err
	}
	r := &Report{Packets: frames.len(), Load: loadAverage()}
	if r.Read, err = readFile(path); err != nil {
		return nil, err
	}
	if r.First, r.Ours, r.AllocsPer, err = offline(ctx, frames, cfg.Shards, cfg.Loops, cfg.CPUProfile); err != nil {
		return nil, err
	}
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

// frames is a capture held in memory, so the measurement is analysis,
// not disk or pcap parsing. The frames sit back to back in one buffer: a
// slice per frame would give the garbage collector millions of pointers
// to scan whenever the engine's history allocates.
type frames struct {
	buf  []byte
	ends []int // frame i is buf[ends[i-1]:ends[i]]
	ts   []int64
	span int64
}

func (f *frames) len() int { return len(f.ts) }

func (f *frames) frame(i int) []byte {
	start := 0
	if i > 0 {
		start = f.ends[i-1]
	}
	return f.buf[start:f.ends[i]]
}

func load(path string) (*frames, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	defer f.Close()
	r, err := pcapfile.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("bench: %w", err)
	}
	fr := &frames{}
	var p decode.Packet
	for {
		b, _, err := r.Next(&p)
		if err == io.EOF {
			break
		}
		if err != nil {
			return nil, fmt.Errorf("bench: %s: %w", path, err)
		}
		fr.buf = append(fr.buf, b...)
		fr.ends = append(fr.ends, len(fr.buf))
		fr.ts = append(fr.ts, p.Timestamp)
	}
	if len(fr.ts) == 0 {
		return nil, fmt.Errorf("bench: %s: no packets", path)
	}
	fr.span = fr.ts[len(fr.ts)-1] - fr.ts[0] + int64(time.Second)
	return fr, nil
}

// memSource replays frames from memory, loops times, each loop later in
// time than the one before. It can wait (lossless) and runs on the
// packets' clock, like a file. mark is called before the loop with index
// markLoop starts.
type memSource struct {
	f        *frames
	loops    int
	markLoop int
	mark     func()
}

func (m *memSource) CanWait() bool     { return true }
func (m *memSource) PacketClock() bool { return true }

func (m *memSource) Run(ctx context.Context, newHandler func(int) capture.Handler) error {
	h := newHandler(0)
	defer h.Flush()
	var p decode.Packet
	for loop := range m.loops {
		if ctx.Err() != nil {
			return nil
		}
		if loop == m.markLoop && m.mark != nil {
			m.mark()
		}
		off := int64(loop) * m.f.span
		for i := range m.f.len() {
			b := m.f.frame(i)
			p.Timestamp = m.f.ts[i] + off
			p.OrigLen = uint32(len(b))
			p.Port = 0
			h.Handle(&p, decode.LinkEthernet, b)
		}
	}
	return nil
}

// readFile times reading the capture with pcapfile, the best of three
// passes (the file is in the page cache, as it is for the peers).
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

// offline analyses the frames with every module on, in one run: a first
// pass warms the tables up, the measured passes that follow show the
// steady state (the pipeline's setup is not in them). first is the first
// pass on its own, engine setup included: every conversation new, every
// table touched for the first time, as for a peer that reads the file
// once.
func offline(ctx context.Context, f *frames, shards, measuredLoops int, profile io.Writer) (first, steady Throughput, allocs float64, err error) {
	start, startCPU := time.Now(), cpuTime()
	e, err := engine.New(engine.Config{Shards: shards, Clock: "packet"}, nil)
	if err != nil {
		return Throughput{}, Throughput{}, 0, err
	}
	var cpu0 time.Duration
	var wall0 time.Time
	var busy0 engine.Processed
	var m0, m1 runtime.MemStats
	src := &memSource{f: f, loops: 1 + measuredLoops, markLoop: 1, mark: func() {
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
	return first, steady, float64(m1.Mallocs-m0.Mallocs) / float64(measuredLoops*f.len()), nil
}
