package ringbuf

import (
	"bytes"
	"errors"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/ringbuf/ringbuftest"
	"github.com/multimeter-fw/multimeter/services/ringbuf/segment"
	"github.com/multimeter-fw/multimeter/services/tap"
	"github.com/multimeter-fw/multimeter/tools/trafficgen"
)

func testLog(t testing.TB) *slog.Logger {
	return slog.New(slog.NewTextHandler(io.Discard, nil))
}

// small is a buffer configuration with small segments, so tests see many.
func small(dirs ...string) BufferConfig {
	c := BufferConfig{SegmentBytes: 2 << 20, QueueBytes: 64 << 20, FlushMillis: 100}
	for _, d := range dirs {
		c.Devices = append(c.Devices, DeviceConfig{Path: d, MaxBytes: 1 << 30})
	}
	return c
}

// stored reads every packet of every segment of the buffer's devices
// directly from the files, keyed by Seq.
func stored(t *testing.T, b *Buffer) map[uint64]segment.Record {
	t.Helper()
	out := map[uint64]segment.Record{}
	for _, seg := range b.Snapshot().Segments {
		f, err := seg.OpenData()
		if err != nil {
			t.Fatalf("open %s: %v", seg.Name(), err)
		}
		s := segment.NewScanner(f)
		for {
			c, err := s.Next()
			if errors.Is(err, io.EOF) {
				break
			}
			if err != nil {
				t.Fatalf("%s: %v", seg.Name(), err)
			}
			for d := c.Data; len(d) > 0; {
				blk, _ := segment.NextBlock(d)
				var r segment.Record
				if ok, _ := segment.ParseEPB(blk, &r); ok {
					r.Data = bytes.Clone(r.Data)
					if _, dup := out[r.Seq]; dup {
						t.Fatalf("packet %d stored twice", r.Seq)
					}
					out[r.Seq] = r
				}
				d = d[blk.Len:]
			}
		}
		f.Close()
	}
	return out
}

func TestWriteRotateRead(t *testing.T) {
	dirs := []string{t.TempDir(), t.TempDir()}
	b, err := OpenBuffer(small(dirs...), testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	pkts := ringbuftest.Generate(trafficgen.Config{Seed: 5}, 60000)
	ringbuftest.Replay(b, pkts, 3)
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	st := b.Stats()
	if st.Packets != uint64(len(pkts)) || st.FlushedPackets != st.Packets || st.DroppedPackets != 0 {
		t.Errorf("Stats() = %+v; want %d packets, all flushed, none dropped", st, len(pkts))
	}
	if st.Oldest != pkts[0].Timestamp || st.Newest != pkts[len(pkts)-1].Timestamp {
		t.Errorf("Stats() covers %d..%d; want %d..%d", st.Oldest, st.Newest, pkts[0].Timestamp, pkts[len(pkts)-1].Timestamp)
	}
	// Segments on both devices, live ones searchable.
	perDev := map[int]int{}
	for _, s := range b.Snapshot().Segments {
		perDev[s.Device]++
	}
	if perDev[0] == 0 || perDev[1] == 0 {
		t.Errorf("segments per device = %v; want both devices used", perDev)
	}
	got := stored(t, b)
	if len(got) != len(pkts) {
		t.Fatalf("stored %d packets; want %d", len(got), len(pkts))
	}
	for _, p := range pkts {
		r := got[p.Meta.Seq]
		if !bytes.Equal(r.Data, p.Frame) || r.Timestamp != p.Timestamp || r.OrigLen != p.OrigLen {
			t.Fatalf("packet %d stored as %+v", p.Meta.Seq, r)
		}
	}
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	// Closed: every segment finished, renamed, indexed; tools read them.
	var files []string
	for _, d := range dirs {
		m, _ := filepath.Glob(filepath.Join(dirName(d, 0), "*"))
		files = append(files, m...)
	}
	var segs []string
	for _, f := range files {
		switch {
		case strings.HasSuffix(f, extData):
			segs = append(segs, f)
		case strings.HasSuffix(f, extIdx):
		default:
			t.Errorf("unexpected file %s after Close", f)
		}
	}
	if len(segs) < 10 {
		t.Errorf("%d segments; want rotation into many", len(segs))
	}
	if _, err := exec.LookPath("capinfos"); err == nil {
		out, err := exec.Command("capinfos", append([]string{"-T", "-r", "-c", "-M"}, segs...)...).CombinedOutput()
		if err != nil {
			t.Fatalf("capinfos: %v\n%s", err, out)
		}
		total := 0
		for _, l := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			f := strings.Split(l, "\t")
			n, err := strconv.Atoi(f[len(f)-1])
			if err != nil {
				t.Fatalf("capinfos line %q", l)
			}
			total += n
		}
		if total != len(pkts) {
			t.Errorf("capinfos counts %d packets; want %d", total, len(pkts))
		}
	}
	// Reopened, the catalog is rebuilt from the index files.
	b2, err := OpenBuffer(small(dirs...), testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	if n := len(b2.Snapshot().Segments); n != len(segs) {
		t.Errorf("reopened buffer has %d segments; want %d", n, len(segs))
	}
}

// TestFullDeletesOldest fills a device past its limit: the oldest whole
// segments go, only as many as needed.
func TestFullDeletesOldest(t *testing.T) {
	dir := t.TempDir()
	cfg := small(dir)
	cfg.Devices[0].MaxBytes = 12 << 20
	b, err := OpenBuffer(cfg, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	pkts := ringbuftest.Generate(trafficgen.Config{Seed: 6}, 120000)
	for i := 0; i < len(pkts); i += 10000 {
		ringbuftest.Replay(b, pkts[i:i+10000], 1)
		b.Flush()
	}
	st := b.Stats()
	if st.DiskUsage > st.DiskLimit || st.DiskLimit != 12<<20 {
		t.Errorf("disk usage %d, limit %d; want usage within the 12 MiB limit", st.DiskUsage, st.DiskLimit)
	}
	if st.DroppedPackets != 0 {
		t.Errorf("%d packets dropped; want 0 (old segments make room)", st.DroppedPackets)
	}
	// What is left is the newest packets, without gaps.
	got := stored(t, b)
	seqs := make([]uint64, 0, len(got))
	for s := range got {
		seqs = append(seqs, s)
	}
	slices.Sort(seqs)
	if len(seqs) == 0 || seqs[len(seqs)-1] != uint64(len(pkts)-1) || seqs[len(seqs)-1]-seqs[0] != uint64(len(seqs)-1) {
		t.Fatalf("kept packets %d..%d (%d); want the newest, contiguous", seqs[0], seqs[len(seqs)-1], len(seqs))
	}
	// Only as many as needed: with one more (oldest) segment the buffer
	// would not have fitted.
	var used int64
	for _, d := range b.devices {
		used += d.used
	}
	if used+int64(cfg.SegmentBytes) < 12<<20-2*int64(cfg.SegmentBytes) {
		t.Errorf("usage %d far below the limit: deleted more than needed", used)
	}
}

// TestQueueFullDrops stalls the writer and overfills the memory queue:
// what does not fit is dropped and counted, nothing is lost silently.
func TestQueueFullDrops(t *testing.T) {
	cfg := small(t.TempDir())
	cfg.QueueBytes = 4 << 20
	cfg.BatchBytes = 1 << 20
	b, err := OpenBuffer(cfg, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	stall := make(chan error)
	b.writers[0].queue <- item{flush: stall} // the writer blocks answering
	pkts := ringbuftest.Generate(trafficgen.Config{Seed: 7}, 40000)
	ringbuftest.Replay(b, pkts, 1)
	st := b.Stats()
	if st.DroppedPackets == 0 || st.BytesInFlight == 0 {
		t.Errorf("with the disk stalled: %+v; want drops and bytes in flight", st)
	}
	<-stall
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	st = b.Stats()
	if st.Packets+st.DroppedPackets != uint64(len(pkts)) {
		t.Errorf("recorded %d + dropped %d; want %d", st.Packets, st.DroppedPackets, len(pkts))
	}
	var wire uint64
	for _, p := range pkts {
		wire += uint64(p.OrigLen)
	}
	if st.WireBytes+st.DroppedBytes != wire {
		t.Errorf("recorded %d + dropped %d bytes; want %d", st.WireBytes, st.DroppedBytes, wire)
	}
	if st.BytesInFlight != 0 {
		t.Errorf("BytesInFlight = %d after Flush; want 0", st.BytesInFlight)
	}
}

// TestLosslessWaits stalls the writer of a lossless buffer: its shards
// wait for queue memory instead of dropping, and once the disk moves on
// every packet is recorded.
func TestLosslessWaits(t *testing.T) {
	cfg := small(t.TempDir())
	cfg.QueueBytes = 4 << 20
	cfg.BatchBytes = 1 << 20
	cfg.Lossless = true
	b, err := OpenBuffer(cfg, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	stall := make(chan error)
	b.writers[0].queue <- item{flush: stall}
	pkts := ringbuftest.Generate(trafficgen.Config{Seed: 7}, 40000)
	done := make(chan struct{})
	go func() {
		defer close(done)
		ringbuftest.Replay(b, pkts, 3)
	}()
	for b.pool.len() > 0 || b.InFlight() == 0 {
		time.Sleep(time.Millisecond)
	}
	select {
	case <-done:
		t.Fatalf("the replay finished with the disk stalled and the queue full: %+v", b.Stats())
	default:
	}
	<-stall
	<-done
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	st := b.Stats()
	if st.Packets != uint64(len(pkts)) || st.DroppedPackets != 0 {
		t.Errorf("recorded %d, dropped %d; want all %d recorded", st.Packets, st.DroppedPackets, len(pkts))
	}
	got := stored(t, b)
	for _, p := range pkts {
		if r, ok := got[p.Meta.Seq]; !ok || !bytes.Equal(r.Data, p.Frame) || r.Timestamp != p.Timestamp {
			t.Fatalf("packet %d not stored as it was", p.Meta.Seq)
		}
	}
}

// TestSearchableSoon checks that packets reach the live index without a
// Flush: the flush interval seals batches by itself.
func TestSearchableSoon(t *testing.T) {
	b, err := OpenBuffer(small(t.TempDir()), testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	pkts := ringbuftest.Generate(trafficgen.Config{Seed: 8}, 100)
	ringbuftest.Replay(b, pkts, 2)
	deadline := time.Now().Add(30 * time.Second)
	for {
		n := 0
		for _, s := range b.Snapshot().Segments {
			n += int(s.Packets)
		}
		if n == len(pkts) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d of %d packets searchable", n, len(pkts))
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestPacketAllocatesNothing(t *testing.T) {
	b, err := OpenBuffer(small(t.TempDir()), testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	rs, _ := compileRules([]Rule{{Condition: CondPort, Value: "443", Action: ActionL4}})
	b.rules.Store(&rs)
	pkts := ringbuftest.Generate(trafficgen.Config{Seed: 9}, 64)
	var ps [64]decode.Packet
	for i := range pkts {
		ps[i].Timestamp, ps[i].OrigLen = pkts[i].Timestamp, pkts[i].OrigLen
		decode.Decode(&ps[i], decode.LinkEthernet, pkts[i].Frame)
	}
	m := tap.Meta{}
	ringbuftest.Replay(b, pkts, 1) // warm up: batches' entry slices grown
	b.Flush()
	i := 0
	allocs := testing.AllocsPerRun(2000, func() {
		b.Packet(0, &ps[i%64], pkts[i%64].Frame, &m)
		i++
	})
	if allocs != 0 {
		t.Errorf("Packet allocates %v times per packet; want 0", allocs)
	}
}

func BenchmarkPacket(b *testing.B) {
	buf, err := OpenBuffer(BufferConfig{Devices: []DeviceConfig{{Path: b.TempDir(), MaxBytes: 1 << 30}}, QueueBytes: 64 << 20,
		SegmentBytes: 64 << 20}, testLog(b))
	if err != nil {
		b.Fatal(err)
	}
	defer buf.Close()
	pkts := ringbuftest.Generate(trafficgen.Config{Seed: 9}, 4096)
	ps := make([]decode.Packet, len(pkts))
	var bytes int64
	for i := range pkts {
		ps[i].Timestamp, ps[i].OrigLen = pkts[i].Timestamp, pkts[i].OrigLen
		decode.Decode(&ps[i], decode.LinkEthernet, pkts[i].Frame)
		bytes += int64(len(pkts[i].Frame))
	}
	m := tap.Meta{}
	b.SetBytes(bytes / int64(len(pkts)))
	b.ReportAllocs()
	for i := 0; b.Loop(); i++ {
		buf.Packet(0, &ps[i%len(ps)], pkts[i%len(ps)].Frame, &m)
	}
	buf.Flush()
	if st := buf.Stats(); st.DroppedPackets > 0 {
		b.ReportMetric(float64(st.DroppedPackets)/float64(b.N), "dropped/op")
	}
}

// TestWriteErrorEndsSegment makes the segments' chunk writes fail (their
// descriptors replaced by read-only ones) while writes are in flight: each
// segment ends after its last good chunk, the packets after it are
// dropped and counted, recording goes on in new segments, and what the
// files hold is exactly what the buffer reports recorded.
func TestWriteErrorEndsSegment(t *testing.T) {
	dir := t.TempDir()
	cfg := small(dir)
	cfg.SegmentBytes = 64 << 20 // no rotation by size: the failure ends the segments
	b, err := OpenBuffer(cfg, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	pkts := ringbuftest.Generate(trafficgen.Config{Seed: 11}, 60000)
	half := len(pkts) / 2
	ringbuftest.Replay(b, pkts[:half], 2)
	if err := b.Flush(); err != nil {
		t.Fatal(err)
	}
	// The writer is idle after Flush: swap each live segment's descriptor
	// for a read-only one of the same file.
	w := b.writers[0]
	if len(w.lanes) == 0 {
		t.Fatal("no live segment after Flush")
	}
	for _, l := range w.lanes {
		ro, err := os.Open(l.part)
		if err != nil {
			t.Fatal(err)
		}
		if err := unix.Dup2(int(ro.Fd()), int(l.f.Fd())); err != nil {
			t.Fatal(err)
		}
		ro.Close()
	}
	ringbuftest.Replay(b, pkts[half:], 2)
	b.Flush()
	if err := b.Close(); err == nil {
		t.Error("Close() = nil; want the write error")
	}
	st := b.Stats()
	if st.WriteErrors == 0 || st.DroppedPackets == 0 || st.Packets+st.DroppedPackets != uint64(len(pkts)) {
		t.Errorf("Stats() = %+v; want write errors, drops, and recorded + dropped = %d", st, len(pkts))
	}
	// Reopened: every file finished and indexed, nothing to recover, and
	// the files hold exactly the recorded packets.
	b2, err := OpenBuffer(cfg, testLog(t))
	if err != nil {
		t.Fatal(err)
	}
	defer b2.Close()
	indexed := uint64(0)
	for _, s := range b2.Snapshot().Segments {
		indexed += uint64(s.Packets)
	}
	got := stored(t, b2)
	if uint64(len(got)) != st.Packets || indexed != st.Packets {
		t.Errorf("files hold %d packets, indexed %d; want the %d recorded", len(got), indexed, st.Packets)
	}
	for _, p := range pkts {
		if r, ok := got[p.Meta.Seq]; ok && (!bytes.Equal(r.Data, p.Frame) || r.Timestamp != p.Timestamp) {
			t.Fatalf("packet %d stored as %+v", p.Meta.Seq, r)
		}
	}
}
