package ringbench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"sync"
	"syscall"
	"time"

	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/ringbuf"
	"github.com/multimeter-fw/multimeter/services/ringbuf/ringbuftest"
	"github.com/multimeter-fw/multimeter/services/tap"
	"github.com/multimeter-fw/multimeter/tools/trafficgen"
)

// mix is a traffic mix of the write-rate test.
type mix struct {
	name, key string
	gen       trafficgen.Config
}

// mixes are the write-rate test's mixes: the generator's default (small
// request/response exchanges, about 360-byte frames: the per-packet cost
// dominates) and an enterprise-like one (bulk transfers too, about
// 800-byte frames: the realistic figure).
var mixes = []mix{
	{"default mix", "default", trafficgen.Config{Seed: 1}},
	{"enterprise mix", "enterprise", trafficgen.Config{Seed: 1, BulkShare: trafficgen.EnterpriseBulkShare}},
}

// rateResult is one mix's figures (medians over the runs, MB/s).
type rateResult struct {
	mix          string
	avgFrame     float64
	ours, dd, td float64
}

// writeRate measures, for each mix, the ring buffer's sustained write
// rate next to its peers on the same file system:
//   - dd oflag=direct conv=fsync, with the ring buffer's batch size as
//     block size, writing as many bytes as the ring buffer did (data and
//     index);
//   - tcpdump -r -w -C/-W over the same packets as a pcap, its files
//     fsynced at the end like ours;
//   - the ring buffer, O_DIRECT, indexing on, fed from memory by one
//     goroutine per shard; its time includes Close (index written, every
//     segment fsynced).
//
// The machine is shared, so each is run cfg.Runs times, interleaved, and
// the medians are compared.
func (b *bench) writeRate(ctx context.Context) error {
	for _, key := range b.cfg.Mixes {
		if !slices.ContainsFunc(mixes, func(m mix) bool { return m.key == key }) {
			return fmt.Errorf("ringbench: unknown traffic mix %q (default, enterprise)", key)
		}
	}
	var results []rateResult
	for _, m := range mixes {
		if len(b.cfg.Mixes) > 0 && !slices.Contains(b.cfg.Mixes, m.key) {
			continue
		}
		r, err := b.writeRateMix(ctx, m)
		if err != nil {
			return err
		}
		results = append(results, r)
	}
	b.printf("\n== Write rate summary (ring buffer O_DIRECT, indexing on; medians of %d runs)\n", b.cfg.Runs)
	for _, r := range results {
		b.printf("%-44s %8.0f MB/s  (%.0f%% of dd at %.0f MB/s; %.1fx tcpdump at %.0f MB/s)\n",
			fmt.Sprintf("%s (%.0f-byte average frame)", r.mix, r.avgFrame), r.ours, 100*r.ours/r.dd, r.dd, r.ours/r.td, r.td)
	}
	return nil
}

func (b *bench) writeRateMix(ctx context.Context, m mix) (rateResult, error) {
	dir := filepath.Join(b.cfg.Dir, "write")
	defer os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return rateResult{}, err
	}
	in := filepath.Join(dir, "in.pcap")
	n, err := writeMix(in, m.gen, b.cfg.WriteBytes)
	if err != nil {
		return rateResult{}, err
	}
	st, err := os.Stat(in)
	if err != nil {
		return rateResult{}, err
	}
	inBytes := st.Size()
	pl, err := preload(in, b.cfg.Shards)
	if err != nil {
		return rateResult{}, err
	}
	res := rateResult{mix: m.name, avgFrame: float64(pl.bytes) / float64(pl.packets)}
	b.printf("\n== Ring buffer write rate, %s (%d packets, %.0f-byte average frame, %.2f GB pcap, %d shards, indexing on)\n",
		m.name, n, res.avgFrame, float64(inBytes)/1e9, b.cfg.Shards)

	var ours, dds, tds []float64
	for run := range b.cfg.Runs {
		if err := ctx.Err(); err != nil {
			return res, err
		}
		profile := ""
		if run == 0 {
			profile = m.key
		}
		r, err := b.ringRun(pl, filepath.Join(dir, "rb"), ringbuf.IODirect, profile)
		if err != nil {
			return res, err
		}
		ours = append(ours, r.rate)
		if run == 0 {
			b.printf("%-44s %8.2f %%   (%.1f bytes per packet; data %.2f GB, index %.1f MB)\n", "index size / data size",
				100*float64(r.idx)/float64(r.data), float64(r.idx)/float64(pl.packets), float64(r.data)/1e9, float64(r.idx)/1e6)
		}
		dd, err := b.ddRun(ctx, filepath.Join(dir, "dd.bin"), r.data+r.idx)
		if err != nil {
			return res, err
		}
		dds = append(dds, dd)
		td, err := tcpdumpRun(ctx, in, filepath.Join(dir, "tcpdump"), inBytes)
		if err != nil {
			return res, err
		}
		tds = append(tds, td)
		b.printf("%-44s %8.0f MB/s  (dd %.0f MB/s, tcpdump %.0f MB/s; %.0f MB/s of packets, %.2f Mpps; CPU %.0f ns/packet; dropped %d)\n",
			fmt.Sprintf("run %d: ring buffer direct", run+1), r.rate, dd, td, mbps(pl.bytes, r.d), float64(pl.packets)/r.d.Seconds()/1e6,
			float64(r.cpu.Nanoseconds())/float64(pl.packets), r.dropped)
	}
	res.ours, res.dd, res.td = median(ours), median(dds), median(tds)
	b.printf("%-44s %8.0f MB/s\n", fmt.Sprintf("dd bs=%dk oflag=direct conv=fsync", b.batchBytes()>>10), res.dd)
	b.printf("%-44s %8.0f MB/s  (%.0f%% of dd)\n", "tcpdump -r in.pcap -w out -C 100 -W 10, sync", res.td, 100*res.td/res.dd)
	b.printf("%-44s %8.0f MB/s  (%.0f%% of dd, %.1fx tcpdump)\n", "ring buffer direct", res.ours, 100*res.ours/res.dd, res.ours/res.td)
	r, err := b.ringRun(pl, filepath.Join(dir, "rb"), ringbuf.IOBuffered, "")
	if err != nil {
		return res, err
	}
	b.printf("%-44s %8.0f MB/s  (%.0f%% of dd; one run)\n", "ring buffer buffered", r.rate, 100*r.rate/res.dd)
	return res, nil
}

func median(xs []float64) float64 {
	s := slices.Clone(xs)
	slices.Sort(s)
	return s[len(s)/2]
}

// batchBytes is the ring buffer's write size, dd's block size.
func (b *bench) batchBytes() int64 { return ringbuf.DefaultBatchBytes }

// ringResult is one ring buffer run.
type ringResult struct {
	rate      float64 // MB/s written, data and index
	d         time.Duration
	cpu       time.Duration // user and system time of the process: the cost, whatever else runs
	data, idx int64
	dropped   uint64
}

// ringRun records the preloaded packets into a new ring buffer in dir,
// then removes it; profile names its CPU profile (none: not profiled).
func (b *bench) ringRun(pl *preloaded, dir, mode, profile string) (ringResult, error) {
	defer os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return ringResult{}, err
	}
	buf, err := ringbuf.OpenBuffer(ringbuf.BufferConfig{IO: mode, QueueBytes: 1 << 30, SegmentBytes: 512 << 20,
		BatchBytes: b.batchBytes(), Devices: []ringbuf.DeviceConfig{{Path: dir, MaxBytes: 4 * b.cfg.WriteBytes}}}, b.log)
	if err != nil {
		return ringResult{}, err
	}
	stopProfile, err := b.startProfile(profile)
	if err != nil {
		buf.Close()
		return ringResult{}, err
	}
	cpu0 := cpuTime()
	start := time.Now()
	pl.feed(buf)
	if err := buf.Close(); err != nil {
		return ringResult{}, err
	}
	r := ringResult{d: time.Since(start), cpu: cpuTime() - cpu0, dropped: buf.Stats().DroppedPackets}
	if err := stopProfile(); err != nil {
		return r, err
	}
	if r.data, err = dirSize(dir, ".pcapng"); err != nil {
		return r, err
	}
	if r.idx, err = dirSize(dir, ".idx"); err != nil {
		return r, err
	}
	r.rate = mbps(r.data+r.idx, r.d)
	return r, nil
}

// cpuTime is the user and system time the process has used.
func cpuTime() time.Duration {
	var ru syscall.Rusage
	if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
		return 0
	}
	return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
}

// ddRun writes bytes (rounded up to whole blocks) with dd, O_DIRECT, with
// an fsync at the end, and returns the rate.
func (b *bench) ddRun(ctx context.Context, path string, bytes int64) (float64, error) {
	defer os.Remove(path)
	bs := b.batchBytes()
	count := (bytes + bs - 1) / bs
	d, err := timed(ctx, "dd", "if=/dev/zero", "of="+path, fmt.Sprintf("bs=%d", bs), fmt.Sprintf("count=%d", count),
		"oflag=direct", "conv=fsync")
	if err != nil {
		return 0, err
	}
	return mbps(count*bs, d), nil
}

// tcpdumpRun has tcpdump write the pcap in to a ring of ten 100 MB files
// and fsyncs them, and returns the rate in pcap bytes.
func tcpdumpRun(ctx context.Context, in, dir string, inBytes int64) (float64, error) {
	defer os.RemoveAll(dir)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return 0, err
	}
	start := time.Now()
	if _, err := timed(ctx, "tcpdump", "-Z", "root", "-r", in, "-w", filepath.Join(dir, "out"), "-C", "100", "-W", "10"); err != nil {
		return 0, err
	}
	files, err := filepath.Glob(filepath.Join(dir, "out*"))
	if err != nil {
		return 0, err
	}
	if _, err := timed(ctx, "sync", files...); err != nil {
		return 0, err
	}
	return mbps(inBytes, time.Since(start)), nil
}

// writeMix writes a pcap of about size bytes of the mix; it returns the
// number of packets.
func writeMix(path string, gen trafficgen.Config, size int64) (int, error) {
	// The average frame of the mix, from a sample of it.
	g := trafficgen.New(gen)
	const sample = 20000
	var sampled int64
	var buf []byte
	for range sample {
		frame, _ := g.Next(buf[:0])
		sampled += int64(len(frame))
		buf = frame
	}
	n := int(size / (sampled/sample + 16))
	f, err := os.Create(path)
	if err != nil {
		return 0, err
	}
	if err := trafficgen.WritePcap(f, trafficgen.New(gen), n); err != nil {
		f.Close()
		return 0, err
	}
	return n, f.Close()
}

// preloaded is a pcap read into memory, decoded and sharded, so the write
// test measures the ring buffer rather than reading and decoding. Each
// shard's frames lie back to back in one buffer and its decoded packets in
// one slice, in the order they are fed, like a capture ring: reading them
// streams through memory, and the garbage collector has no pointers to
// chase.
type preloaded struct {
	shards  []shardFeed
	packets int
	bytes   int64
}

// shardFeed is one shard's packets: frame i is data[off[i]:off[i+1]].
type shardFeed struct {
	pkts []decode.Packet
	seq  []uint64
	data []byte
	off  []int
}

// preload reads a pcap into memory for feed.
func preload(path string, shards int) (*preloaded, error) {
	pk, err := ringbuftest.ReadPcap(path)
	if err != nil {
		return nil, err
	}
	pl := &preloaded{shards: make([]shardFeed, shards), packets: len(pk)}
	var p decode.Packet
	which := make([]int, len(pk))
	size := make([]int, shards)
	count := make([]int, shards)
	for i := range pk {
		decode.Decode(&p, decode.LinkEthernet, pk[i].Frame)
		s := ringbuftest.Shard(&p, shards)
		which[i] = s
		size[s] += len(pk[i].Frame)
		count[s]++
	}
	for s := range pl.shards {
		pl.shards[s] = shardFeed{pkts: make([]decode.Packet, 0, count[s]), seq: make([]uint64, 0, count[s]),
			data: make([]byte, 0, size[s]), off: append(make([]int, 0, count[s]+1), 0)}
	}
	for i := range pk {
		f := &pl.shards[which[i]]
		f.pkts = f.pkts[:len(f.pkts)+1]
		p := &f.pkts[len(f.pkts)-1]
		*p = decode.Packet{}
		p.Timestamp, p.OrigLen = pk[i].Timestamp, pk[i].OrigLen
		start := len(f.data)
		f.data = append(f.data, pk[i].Frame...)
		f.off = append(f.off, len(f.data))
		decode.Decode(p, decode.LinkEthernet, f.data[start:])
		f.seq = append(f.seq, uint64(i))
		pl.bytes += int64(len(pk[i].Frame))
	}
	// Collect the millions of frames read now: sweeping them must not be
	// charged to the first run.
	pk = nil
	runtime.GC()
	return pl, nil
}

// feed hands the preloaded packets to buf, one goroutine per shard, as
// fast as it records them: a feeder waits while the memory queue is half
// full, so the rate measured is the sustained one, without drops.
func (pl *preloaded) feed(buf *ringbuf.Buffer) {
	half := buf.Config().QueueBytes / 2
	var wg sync.WaitGroup
	for s := range pl.shards {
		f := &pl.shards[s]
		wg.Add(1)
		go func() {
			defer wg.Done()
			var m tap.Meta
			for i := range f.pkts {
				if i%1024 == 0 {
					for buf.InFlight() > half {
						time.Sleep(100 * time.Microsecond)
					}
				}
				m.Seq = f.seq[i]
				buf.Packet(s, &f.pkts[i], f.data[f.off[i]:f.off[i+1]], &m)
			}
		}()
	}
	wg.Wait()
}
