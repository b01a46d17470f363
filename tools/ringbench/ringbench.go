// Package ringbench measures the ring buffer next to its peers on the same
// file system, and prints figures and ratios (make bench-ringbuf):
//
//   - sustained write rate with indexing on, O_DIRECT and buffered, for a
//     small-frame mix and an enterprise-like mix, next to dd oflag=direct
//     conv=fsync writing the same bytes and tcpdump -w -C/-W on the same
//     pcap (medians of interleaved runs; CPU time per packet of each run);
//   - index size as a share of the data;
//   - extraction of one host for a one-minute window from a buffer of 20 GB
//     or more with a cold page cache, next to tcpdump -r with the
//     equivalent BPF over the same packets as plain pcap files.
//
// It needs root to drop the page cache, and dd and tcpdump.
package ringbench

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"runtime/pprof"
	"strings"
	"sync"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/extract"
	"github.com/multimeter-fw/multimeter/services/filter"
	"github.com/multimeter-fw/multimeter/services/ringbuf"
	"github.com/multimeter-fw/multimeter/services/ringbuf/ringbuftest"
	"github.com/multimeter-fw/multimeter/services/tap"
	"github.com/multimeter-fw/multimeter/tools/trafficgen"
)

// Config sizes the benchmark. Zero values mean the defaults.
type Config struct {
	Dir         string   // scratch directory on the file system under test
	WriteBytes  int64    // pcap size of the write-rate test, per mix; default 4 GiB
	Runs        int      // write-rate runs per mix (the median is printed); default 3
	Mixes       []string // traffic mixes of the write-rate test (default, enterprise); default both
	BufferBytes int64    // ring buffer size of the extraction test; default 20 GiB; < 0 skips it
	PPS         float64  // packet rate of the generated timeline; default 50,000
	Shards      int      // analyzer shards feeding the buffer; default 2
	// NoDropCaches skips dropping the page cache (not root): the
	// extraction figures are then warm.
	NoDropCaches bool
	// CPUProfile, if set, is where CPU profiles of the first O_DIRECT
	// write-rate run of each mix are written: the mix's key is inserted
	// before the extension (cpu.prof: cpu-default.prof, ...).
	CPUProfile string
}

func (c *Config) fillDefaults() {
	if c.WriteBytes == 0 {
		c.WriteBytes = 4 << 30
	}
	if c.Runs <= 0 {
		c.Runs = 3
	}
	if c.BufferBytes == 0 {
		c.BufferBytes = 20 << 30
	}
	if c.PPS == 0 {
		c.PPS = 50000
	}
	if c.Shards == 0 {
		c.Shards = 2
	}
}

// Run runs every measurement and prints the results to out.
func Run(ctx context.Context, cfg Config, out io.Writer, log *slog.Logger) error {
	cfg.fillDefaults()
	for _, tool := range []string{"dd", "tcpdump"} {
		if _, err := exec.LookPath(tool); err != nil {
			return fmt.Errorf("ringbench: %s not installed", tool)
		}
	}
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return err
	}
	b := &bench{cfg: cfg, out: out, log: log}
	if err := b.writeRate(ctx); err != nil {
		return err
	}
	if cfg.BufferBytes < 0 {
		return nil
	}
	return b.extraction(ctx)
}

type bench struct {
	cfg Config
	out io.Writer
	log *slog.Logger
}

func (b *bench) printf(format string, args ...any) { fmt.Fprintf(b.out, format, args...) }

func mbps(bytes int64, d time.Duration) float64 { return float64(bytes) / d.Seconds() / 1e6 }

// timed runs a command and returns its wall time.
func timed(ctx context.Context, name string, args ...string) (time.Duration, error) {
	start := time.Now()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput()
	if err != nil {
		return 0, fmt.Errorf("ringbench: %s: %w\n%s", name, err, out)
	}
	return time.Since(start), nil
}

// dropCaches empties the page cache so reads come from the disk.
func (b *bench) dropCaches() error {
	if b.cfg.NoDropCaches {
		return nil
	}
	if err := exec.Command("sync").Run(); err != nil {
		return err
	}
	if err := os.WriteFile("/proc/sys/vm/drop_caches", []byte("3\n"), 0); err != nil {
		return fmt.Errorf("ringbench: drop caches (run as root, or -no-drop-caches): %w", err)
	}
	return nil
}

func dirSize(dir, suffix string) (int64, error) {
	var n int64
	err := filepath.WalkDir(dir, func(p string, d os.DirEntry, err error) error {
		if err != nil || d.IsDir() || filepath.Ext(p) != suffix && suffix != "" {
			return err
		}
		st, err := d.Info()
		if err == nil {
			n += st.Size()
		}
		return err
	})
	return n, err
}

// startProfile starts a CPU profile, if they are asked for, named for
// key (none: no profile); the function it returns stops it.
func (b *bench) startProfile(key string) (func() error, error) {
	if key == "" || b.cfg.CPUProfile == "" {
		return func() error { return nil }, nil
	}
	ext := filepath.Ext(b.cfg.CPUProfile)
	f, err := os.Create(strings.TrimSuffix(b.cfg.CPUProfile, ext) + "-" + key + ext)
	if err != nil {
		return nil, fmt.Errorf("ringbench: cpu profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("ringbench: cpu profile: %w", err)
	}
	return func() error {
		pprof.StopCPUProfile()
		return f.Close()
	}, nil
}

// pcapFile is one plain pcap file of the extraction test's copy.
type pcapFile struct {
	path        string
	first, last int64
	f           *os.File
	bw          *bufio.Writer
	w           *pcapgo.Writer
	size        int64
	firstSet    bool
}

func (b *bench) extraction(ctx context.Context) error {
	dir := filepath.Join(b.cfg.Dir, "extract")
	defer os.RemoveAll(dir)
	rbDir, pcapDir := filepath.Join(dir, "rb"), filepath.Join(dir, "pcap")
	for _, d := range []string{rbDir, pcapDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	cfg := ringbuf.BufferConfig{QueueBytes: 512 << 20, Devices: []ringbuf.DeviceConfig{{Path: rbDir, MaxBytes: b.cfg.BufferBytes + 4<<30}}}
	buf, err := ringbuf.OpenBuffer(cfg, b.log)
	if err != nil {
		return err
	}
	b.printf("\n== Extraction: one host, one minute, cold page cache (buffer >= %.0f GB, %.0f packets/s timeline)\n",
		float64(b.cfg.BufferBytes)/1e9, b.cfg.PPS)
	start := time.Now()
	files, packets, err := b.fill(ctx, buf, pcapDir)
	if err != nil {
		buf.Close()
		return err
	}
	if err := buf.Close(); err != nil {
		return err
	}
	data, _ := dirSize(rbDir, ".pcapng")
	idx, _ := dirSize(rbDir, ".idx")
	b.printf("%-44s %8.2f GB in %d packets (%.1f s of traffic; built in %s; index %.2f %% of data)\n", "ring buffer",
		float64(data)/1e9, packets, float64(files[len(files)-1].last-files[0].first)/1e9, time.Since(start).Round(time.Second),
		100*float64(idx)/float64(data))

	// The daemon has the buffer open; the page cache is cold.
	buf, err = ringbuf.OpenBuffer(cfg, b.log)
	if err != nil {
		return err
	}
	defer buf.Close()
	host := "10.1.0.77"
	mid := files[0].first + (files[len(files)-1].last-files[0].first)/2
	q := extract.Query{Start: mid, End: mid + 60e9, Filter: filter.MustParse("ip==" + host)}
	if err := b.dropCaches(); err != nil {
		return err
	}
	t0 := time.Now()
	var n int64
	w := extract.NewWriter(io.Discard, extract.FormatPcap, extract.WholePacket)
	res, err := extract.Search(ctx, buf.Snapshot(), q, func(p *extract.Packet) error { n++; return w.WritePacket(p) })
	if err != nil {
		return err
	}
	w.Flush()
	ours := time.Since(t0)
	b.printf("%-44s %8.3f s   (%d packets; %d segments searched, %d skipped; %d read)\n", "ring buffer: ip=="+host+", 1 minute",
		ours.Seconds(), n, res.SegmentsSearched, res.SegmentsSkipped, res.Candidates)

	// tcpdump over the plain pcap files that overlap the minute (a user
	// picks them by time), then over all of them.
	var overlap []string
	var all []string
	for _, f := range files {
		all = append(all, f.path)
		if f.last >= q.Start && f.first < q.End {
			overlap = append(overlap, f.path)
		}
	}
	// The BPF equivalent of ip==host (IP packets, not ARP); tagged frames
	// need the vlan primitive to be looked into.
	bpf := fmt.Sprintf("ip host %s or (vlan and ip host %s)", host, host)
	for _, set := range []struct {
		name  string
		files []string
	}{{"overlapping the minute", overlap}, {"all", all}} {
		if err := b.dropCaches(); err != nil {
			return err
		}
		outFile := filepath.Join(dir, "tcpdump.pcap")
		t0 := time.Now()
		got := int64(0)
		for _, f := range set.files {
			if _, err := timed(ctx, "tcpdump", "-Z", "root", "-r", f, "-w", outFile, bpf); err != nil {
				return err
			}
			pk, err := ringbuftest.ReadPcap(outFile)
			if err != nil {
				return err
			}
			for _, p := range pk {
				if p.Timestamp >= q.Start && p.Timestamp < q.End {
					got++
				}
			}
		}
		d := time.Since(t0)
		os.Remove(outFile)
		b.printf("%-44s %8.3f s   (%d files; %d packets in the minute)  ours is %.0fx faster\n",
			fmt.Sprintf("tcpdump -r '%s', %s", bpf, set.name), d.Seconds(), len(set.files), got, d.Seconds()/ours.Seconds())
		if got != n {
			return fmt.Errorf("ringbench: tcpdump found %d packets, the ring buffer %d", got, n)
		}
	}
	return nil
}

// fill generates traffic until the ring buffer holds BufferBytes, writing
// the same packets as plain 1 GB pcap files.
func (b *bench) fill(ctx context.Context, buf *ringbuf.Buffer, pcapDir string) ([]*pcapFile, int64, error) {
	g := trafficgen.New(trafficgen.Config{Seed: 2, PacketsPerSecond: b.cfg.PPS})
	type item struct {
		p     decode.Packet
		frame []byte
		seq   uint64
	}
	const batch = 4096
	chans := make([]chan []item, b.cfg.Shards)
	free := make(chan []item, 4*b.cfg.Shards)
	var wg sync.WaitGroup
	for s := range chans {
		chans[s] = make(chan []item, 2)
		wg.Add(1)
		go func() {
			defer wg.Done()
			var m tap.Meta
			for items := range chans[s] {
				for i := range items {
					m.Seq = items[i].seq
					buf.Packet(s, &items[i].p, items[i].frame, &m)
				}
				select {
				case free <- items[:0]:
				default:
				}
			}
		}()
	}
	defer func() {
		for _, c := range chans {
			close(c)
		}
		wg.Wait()
	}()
	var files []*pcapFile
	var cur *pcapFile
	open := func() error {
		path := filepath.Join(pcapDir, fmt.Sprintf("part-%04d.pcap", len(files)))
		f, err := os.Create(path)
		if err != nil {
			return err
		}
		cur = &pcapFile{path: path, f: f, bw: bufio.NewWriterSize(f, 4<<20)}
		cur.w = pcapgo.NewWriterNanos(cur.bw)
		files = append(files, cur)
		return cur.w.WriteFileHeader(65535, layers.LinkTypeEthernet)
	}
	closeCur := func() error {
		if cur == nil {
			return nil
		}
		return errors.Join(cur.bw.Flush(), cur.f.Close())
	}
	pending := make([][]item, b.cfg.Shards)
	var written, seq int64
	for written < b.cfg.BufferBytes {
		if ctx.Err() != nil {
			return nil, 0, ctx.Err()
		}
		if cur == nil || cur.size >= 1<<30 {
			if err := closeCur(); err != nil {
				return nil, 0, err
			}
			if err := open(); err != nil {
				return nil, 0, err
			}
		}
		frame, ts := g.Next(make([]byte, 0, 1600))
		var it item
		it.p.Timestamp, it.p.OrigLen = ts.UnixNano(), uint32(len(frame))
		decode.Decode(&it.p, decode.LinkEthernet, frame)
		it.frame, it.seq = frame, uint64(seq)
		seq++
		if err := cur.w.WritePacket(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(frame), Length: len(frame)}, frame); err != nil {
			return nil, 0, err
		}
		if !cur.firstSet {
			cur.first, cur.firstSet = it.p.Timestamp, true
		}
		cur.last = it.p.Timestamp
		cur.size += int64(len(frame) + 16)
		written += int64(len(frame) + 56)
		s := ringbuftest.Shard(&it.p, b.cfg.Shards)
		if pending[s] == nil {
			select {
			case pending[s] = <-free:
			default:
				pending[s] = make([]item, 0, batch)
			}
		}
		pending[s] = append(pending[s], it)
		if len(pending[s]) == batch {
			// Recording must keep up for the comparison to be fair: wait
			// while the memory queue is half full instead of dropping.
			for buf.InFlight() > 256<<20 {
				time.Sleep(time.Millisecond)
			}
			chans[s] <- pending[s]
			pending[s] = nil
		}
	}
	for s, p := range pending {
		if len(p) > 0 {
			chans[s] <- p
		}
	}
	if err := closeCur(); err != nil {
		return nil, 0, err
	}
	if st := buf.Stats(); st.DroppedPackets > 0 {
		return nil, 0, fmt.Errorf("ringbench: ring buffer dropped %d packets while filling", st.DroppedPackets)
	}
	return files, seq, nil
}
