package engine

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/multimeter-fw/multimeter/services/analysis"
	"github.com/multimeter-fw/multimeter/services/analysis/iface"
	"github.com/multimeter-fw/multimeter/services/capture"
	"github.com/multimeter-fw/multimeter/services/capture/filesource"
	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/l7proto"
	"github.com/multimeter-fw/multimeter/services/stats"
	"github.com/multimeter-fw/multimeter/services/tap"
	"github.com/multimeter-fw/multimeter/tools/peertest"
	"github.com/multimeter-fw/multimeter/tools/trafficgen"
)

// pushSource is a capture.Source the test feeds: each slice sent is
// handed over packet by packet, then flushed. Closing the channel ends it.
type pushSource struct {
	c       chan []int // indices into f
	f       *frames
	canWait bool
	clock   bool
	runs    atomic.Int32
}

func newPushSource(f *frames, canWait bool) *pushSource {
	return &pushSource{c: make(chan []int), f: f, canWait: canWait, clock: true}
}

func (s *pushSource) CanWait() bool     { return s.canWait }
func (s *pushSource) PacketClock() bool { return s.clock }

func (s *pushSource) Run(ctx context.Context, newHandler func(int) capture.Handler) error {
	s.runs.Add(1)
	h := newHandler(0)
	defer h.Flush()
	var p decode.Packet
	for {
		select {
		case <-ctx.Done():
			return nil
		case idx, ok := <-s.c:
			if !ok {
				return nil
			}
			for _, i := range idx {
				p.Timestamp = s.f.ts[i]
				p.OrigLen = uint32(len(s.f.data[i]))
				p.Port = 0
				h.Handle(&p, decode.LinkEthernet, s.f.data[i])
			}
			h.Flush()
		}
	}
}

func span(from, to int) []int {
	var idx []int
	for i := from; i < to; i++ {
		idx = append(idx, i)
	}
	return idx
}

// counter is a sink that counts packets.
// counter counts the packets a sink is handed, and those not marked
// Repeat (the ones a recorder keeps).
type counter struct{ n, fresh atomic.Uint64 }

func (c *counter) Packet(_ int, p *decode.Packet, _ []byte, _ *tap.Meta) {
	c.n.Add(1)
	if !p.Repeat {
		c.fresh.Add(1)
	}
}

// waitFor polls cond (the shards work asynchronously); it fails the test
// only if cond never holds within a generous minute.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(time.Minute); !cond(); {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
		time.Sleep(time.Millisecond)
	}
}

func runAsync(t *testing.T, e *Engine, src capture.Source) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := e.Run(ctx, src); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return func() {
		cancel()
		wg.Wait()
	}
}

func TestAttachDetachWhileRunning(t *testing.T) {
	f := genFrames(3000, trafficgen.Config{Seed: 5})
	e, err := New(testConfig(2), nil)
	if err != nil {
		t.Fatal(err)
	}
	all, some := &counter{}, &counter{}
	defer e.Attach(all)()
	src := newPushSource(f, true)
	stop := runAsync(t, e, src)
	defer stop()

	src.c <- span(0, 1000)
	waitFor(t, "1000 packets", func() bool { return all.n.Load() == 1000 })
	detach := e.Attach(some)
	src.c <- span(1000, 2000)
	waitFor(t, "2000 packets", func() bool { return all.n.Load() == 2000 })
	detach()
	detach() // twice is fine
	src.c <- span(2000, 3000)
	waitFor(t, "3000 packets", func() bool { return all.n.Load() == 3000 })
	if got := some.n.Load(); got != 1000 {
		t.Errorf("sink attached for 1000 packets saw %d", got)
	}
}

func TestRestartAppliesConfigAndClears(t *testing.T) {
	f := genFrames(4000, trafficgen.Config{Seed: 6})
	e, err := New(testConfig(1), nil)
	if err != nil {
		t.Fatal(err)
	}
	seen := &counter{}
	defer e.Attach(seen)()
	src := newPushSource(f, true)
	stop := runAsync(t, e, src)
	defer stop()
	src.c <- span(0, 2000)
	waitFor(t, "2000 packets", func() bool { return seen.n.Load() == 2000 })

	cfg := testConfig(3)
	l2 := analysis.LevelL2
	cfg.Level = &l2
	if err := e.Restart(cfg, true); err != nil {
		t.Fatal(err)
	}
	if e.Restarting() || !e.Running() {
		t.Errorf("after Restart returned: restarting %v, running %v; want processing running again", e.Restarting(), e.Running())
	}
	if got := e.Stats().IP.IPs.Len(0); got != 0 {
		t.Errorf("after a clearing restart %d IPs remain", got)
	}
	waitFor(t, "the source to run again", func() bool { return src.runs.Load() == 2 })
	src.c <- span(2000, 4000)
	waitFor(t, "4000 packets", func() bool { return seen.n.Load() == 4000 })
	waitFor(t, "three shards reporting load", func() bool { return len(e.Load().Shards) == 3 })
	stop()
	st := e.Stats()
	if got := st.IP.IPs.Len(0); got != 0 {
		t.Errorf("at level l2, %d IPs were counted", got)
	}
	if got := st.MAC.MACs.Len(0); got == 0 {
		t.Error("at level l2, no MACs were counted")
	}
	if err := e.Restart(Config{Shards: -1, Balance: "nonsense"}, false); err == nil {
		t.Error("Restart accepted an invalid config")
	}
}

func TestLoadIsIdleOnceProcessingStops(t *testing.T) {
	f := genFrames(2000, trafficgen.Config{Seed: 7})
	e, err := New(testConfig(2), nil)
	if err != nil {
		t.Fatal(err)
	}
	src := newPushSource(f, true)
	stop := runAsync(t, e, src)
	defer stop()
	src.c <- span(0, 2000)
	waitFor(t, "a load report with packets", func() bool {
		var n uint64
		for _, s := range e.Load().Shards {
			n += s.Packets
		}
		return n > 0
	})
	close(src.c) // the source ends: processing stops
	stop()
	l := e.Load()
	if len(l.Shards) != 2 {
		t.Fatalf("idle load report has %d shards, want 2", len(l.Shards))
	}
	for _, s := range l.Shards {
		if s.Load != 0 || s.Packets != 0 || s.Dropped != 0 || s.QueueDepth != 0 || s.QueueCapacity == 0 {
			t.Errorf("shard %d after processing stopped: %+v, want idle with its capacity", s.Shard, s)
		}
	}
}

// stoppedSource is a file being read when the replay is stopped: it
// hands over n packets, notices the stop, and returns; its handler's
// last batches go out after the stop.
type stoppedSource struct {
	f      *frames
	n      int
	handed chan struct{} // closed once the n packets are handed over
}

func (s *stoppedSource) CanWait() bool     { return true }
func (s *stoppedSource) PacketClock() bool { return true }

func (s *stoppedSource) Run(ctx context.Context, newHandler func(int) capture.Handler) error {
	h := newHandler(0)
	defer h.Flush()
	var p decode.Packet
	for i := range s.n {
		p.Timestamp, p.OrigLen, p.Port = s.f.ts[i], uint32(len(s.f.data[i])), 0
		h.Handle(&p, decode.LinkEthernet, s.f.data[i])
	}
	close(s.handed)
	<-ctx.Done()
	return nil
}

// TestStoppedFileKeepsWhatItRead: a file source counts what it read as
// handed to the analysis (an upload's packetsRead); a stop must not lose
// the batches it hands over while stopping.
func TestStoppedFileKeepsWhatItRead(t *testing.T) {
	f := genFrames(1000, trafficgen.Config{Seed: 9})
	for round := range 8 {
		e, err := New(testConfig(4), nil)
		if err != nil {
			t.Fatal(err)
		}
		seen := &counter{}
		e.Attach(seen)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error)
		src := &stoppedSource{f: f, n: 1000, handed: make(chan struct{})}
		go func() { done <- e.Run(ctx, src) }()
		<-src.handed
		cancel()
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		if got := seen.n.Load(); got != 1000 {
			t.Fatalf("round %d: the analysis saw %d of the 1000 packets read before the stop", round, got)
		}
	}
}

// blockingSink holds the shard on its first packet until released.
type blockingSink struct {
	release chan struct{}
	once    sync.Once
	started chan struct{}
}

func (b *blockingSink) Packet(int, *decode.Packet, []byte, *tap.Meta) {
	b.once.Do(func() {
		close(b.started)
		<-b.release
	})
}

func TestOverloadIsCountedNotSilent(t *testing.T) {
	f := genFrames(20000, trafficgen.Config{Seed: 8})
	cfg := testConfig(1)
	cfg.QueuePackets = batchPackets // one batch of room
	e, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	sink := &blockingSink{release: make(chan struct{}), started: make(chan struct{})}
	e.Attach(sink)
	src := newPushSource(f, false) // a live port: cannot wait
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error)
	go func() { done <- e.Run(ctx, src) }()
	src.c <- span(0, 1)
	<-sink.started
	src.c <- span(1, len(f.data))
	// The source takes this only once it has handed every packet above
	// on: the shard must stay blocked until then, or it keeps up.
	src.c <- nil
	close(sink.release)
	close(src.c)
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	var dropped uint64
	for _, it := range e.Interfaces() {
		dropped += it.NotProcessed.Packets
	}
	got, _ := e.Stats().Interfaces.Ports.Get(iface.Key{Port: 0}, stats.Query{SkipHistory: true})
	processed := got.AllTime.RxPackets
	if dropped == 0 {
		t.Error("no packets counted as not processed due to overload")
	}
	if processed+dropped != uint64(len(f.data)) {
		t.Errorf("processed %d + not processed %d = %d; fed %d", processed, dropped, processed+dropped, len(f.data))
	}
}

func TestWallClockAdvancesWhenIdle(t *testing.T) {
	f := genFrames(100, trafficgen.Config{Seed: 9})
	cfg := testConfig(2)
	cfg.Clock = "wall"
	e, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	src := newPushSource(f, false)
	stop := runAsync(t, e, src)
	defer stop()
	src.c <- span(0, 100)
	start := time.Now().Unix()
	// Seconds go on without packets: the store completes them (with
	// zeros), so "last second" follows the clock.
	waitFor(t, "two idle seconds", func() bool { return e.Stats().Store.Now() >= start+2 })
	ips, _ := e.Stats().IP.List(stats.ListQuery{Query: stats.Query{SkipHistory: true}})
	if len(ips) == 0 {
		t.Fatal("no IPs counted")
	}
	for _, ip := range ips {
		if !ip.LastSecond.IsZero() {
			t.Errorf("IP %s counts %+v in an idle last second", ip.Key.Addr, ip.LastSecond)
		}
	}
}

// TestReplayRunsOnTheCaptureClock checks last second and intervals against
// tshark on the same seconds of the capture.
func TestReplayRunsOnTheCaptureClock(t *testing.T) {
	peertest.Need(t, "tshark")
	path := genPcap(t, 40000, trafficgen.Config{Seed: 10, PacketsPerSecond: 5000})
	e := replay(t, path, testConfig(2))
	st := e.Stats()
	now := st.Store.Now()
	first := trafficgen.Config{}.Start
	if first.IsZero() {
		first = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if now < first.Unix()+7 || now > first.Unix()+9 {
		t.Fatalf("Now() = %d; want the capture's last second (about %d)", now, first.Unix()+8)
	}
	for _, q := range []stats.Query{{}, {Start: now - 3, End: now}} {
		from, to := now, now+1
		if q.Start != 0 {
			from, to = q.Start, q.End
		}
		filter := "frame.time_epoch >= " + itoa(from) + " && frame.time_epoch < " + itoa(to)
		eps := tsharkTables(t, path, filter).ips
		q.SkipHistory = true
		for a, want := range eps {
			got, ok := st.IP.Get(0, decode.AddrFromNetip(a), q)
			if !ok {
				t.Errorf("IP %s not found", a)
				continue
			}
			c := got.Interval
			if g := (endpoint{c.TxPackets, c.TxBytes, c.RxPackets, c.RxBytes}); g != want {
				t.Errorf("IP %s in [%d, %d): %+v; tshark %+v", a, from, to, g, want)
			}
		}
	}
}

func itoa(v int64) string { return strconv.FormatInt(v, 10) }

// TestGroupsKeepStatisticsApart assigns VLANs to virtual link groups and
// compares each group's IPs with tshark over the same VLANs.
func TestGroupsKeepStatisticsApart(t *testing.T) {
	peertest.Need(t, "tshark")
	path := genPcap(t, 20000, trafficgen.Config{Seed: 11, VLANShare: 0.5})
	cfg := testConfig(2)
	cfg.Groups = []GroupRule{{Name: "ten", VLANs: []uint16{10}}, {Name: "others", VLANs: []uint16{20, 100}}}
	e := replay(t, path, cfg)
	for group, filter := range map[uint16]string{0: "!vlan", 1: "vlan.id == 10", 2: "vlan.id == 20 || vlan.id == 100"} {
		eps := tsharkTables(t, path, filter).ips
		if len(eps) == 0 {
			t.Fatalf("group %d: tshark found no IPs for %q", group, filter)
		}
		for a, want := range eps {
			got, ok := e.Stats().IP.Get(group, decode.AddrFromNetip(a), stats.Query{SkipHistory: true})
			c := got.AllTime
			if g := (endpoint{c.TxPackets, c.TxBytes, c.RxPackets, c.RxBytes}); !ok || g != want {
				t.Errorf("group %d IP %s: %+v (found %v); tshark %+v", group, a, g, ok, want)
			}
		}
		if n := e.Stats().IP.IPs.Len(group); n != len(eps) {
			t.Errorf("group %d has %d IPs; tshark %d", group, n, len(eps))
		}
	}
}

// metaSink records the meta of every packet by its capture order.
type metaSink struct {
	mu   sync.Mutex
	meta map[uint64]tap.Meta
}

func (m *metaSink) Packet(_ int, _ *decode.Packet, _ []byte, meta *tap.Meta) {
	m.mu.Lock()
	m.meta[meta.Seq>>8] = *meta // one worker: Seq>>8 is the frame number
	m.mu.Unlock()
}

// TestSIPNumbersOnMediaFlows checks that the RTP and RTCP packets tshark
// attributes to a SIP call (through its SDP) carry that call's numbers,
// and that the signalling carries its own From/To.
func TestSIPNumbersOnMediaFlows(t *testing.T) {
	peertest.Need(t, "tshark")
	path := filepath.Join("..", "..", "testdata", "pcaps", "sip.pcap")
	sink := &metaSink{meta: map[uint64]tap.Meta{}}
	e, err := New(testConfig(2), nil)
	if err != nil {
		t.Fatal(err)
	}
	e.Attach(sink)
	src, err := filesource.Open(path, filesource.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Run(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	out := peertest.Tshark(t, "-r", path, "-Y", "sip || rtp || rtcp", "-T", "fields", "-E", "separator=/t",
		"-e", "frame.number", "-e", "sip.from.user", "-e", "sip.to.user", "-e", "rtp.setup-frame", "-e", "rtcp.setup-frame")
	type row struct{ from, to, setup string }
	rows := map[string]row{}
	var order []string
	for _, line := range strings.Split(strings.TrimRight(string(out), "\n"), "\n") {
		f := strings.Split(line, "\t")
		if len(f) != 5 {
			t.Fatalf("tshark row %q", line)
		}
		setup, _, _ := strings.Cut(f[3]+f[4], ",")
		rows[f[0]] = row{from: f[1], to: f[2], setup: setup}
		order = append(order, f[0])
	}
	media := 0
	for _, n := range order {
		r := rows[n]
		want := [2]uint64{tap.HashNumber(r.from), tap.HashNumber(r.to)}
		if r.setup != "" {
			s := rows[r.setup]
			want = [2]uint64{tap.HashNumber(s.from), tap.HashNumber(s.to)}
			media++
		}
		frame, _ := strconv.ParseUint(n, 10, 64)
		got := sink.meta[frame]
		if got.SIPNumbers != want {
			t.Errorf("frame %s: SIP numbers %x; want %x (from %q to %q, setup frame %q)", n, got.SIPNumbers, want, r.from, r.to, r.setup)
		}
		if r.setup != "" && got.App != l7proto.RTP && got.App != l7proto.RTCP {
			t.Errorf("frame %s: protocol %s; want RTP or RTCP", n, got.App)
		}
	}
	if media == 0 {
		t.Fatal("tshark found no RTP set up by SIP")
	}
}

// TestRestartedReplayCountsEachPacketOnce: a replay restarted with new
// settings goes on where it stopped, so its packets are counted once; a
// restart that starts the statistics over replays the file from its start.
func TestRestartedReplayCountsEachPacketOnce(t *testing.T) {
	const n = 6000
	path := filepath.Join(t.TempDir(), "mix.pcap")
	var b bytes.Buffer
	// 6000 packets over 3 s of capture, replayed at 2x: 1.5 s.
	if err := trafficgen.WritePcap(&b, trafficgen.New(trafficgen.Config{Seed: 10, PacketsPerSecond: 2000}), n); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	for _, clear := range []bool{false, true} {
		e, err := New(testConfig(1), nil)
		if err != nil {
			t.Fatal(err)
		}
		seen := &counter{}
		e.Attach(seen)
		src, err := filesource.Open(path, filesource.Config{Paced: true, Speed: 2})
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- e.Run(context.Background(), src) }()
		waitFor(t, "a part of the replay", func() bool { return seen.n.Load() >= n/4 })
		before := seen.n.Load() // at most what is analysed before the restart
		if err := e.Restart(testConfig(2), clear); err != nil {
			t.Fatal(err)
		}
		if err := <-done; err != nil {
			t.Fatal(err)
		}
		got, _ := e.Stats().Interfaces.Ports.Get(iface.Key{Port: 0}, stats.Query{SkipHistory: true})
		if got.AllTime.RxPackets != n {
			t.Errorf("restart (clear %v) during the replay: the interface counted %d packets; want the file's %d", clear, got.AllTime.RxPackets, n)
		}
		analysed := seen.n.Load()
		switch {
		case !clear && analysed != n:
			t.Errorf("restart without clearing: %d packets analysed; want each of the %d once", analysed, n)
		case clear && (analysed < n+before || before >= n):
			t.Errorf("clearing restart after %d packets: %d analysed; want the whole file again after them", before, analysed)
		}
		if fresh := seen.fresh.Load(); fresh != n {
			t.Errorf("restart (clear %v): %d packets handed to sinks as new; want each of the %d once", clear, fresh, n)
		}
	}
}

// TestFinishedReplayRerunsWhenCleared: new settings that start the
// statistics over rewind a finished replay, so that it is analysed again
// with them; settings that keep the statistics leave it finished.
func TestFinishedReplayRerunsWhenCleared(t *testing.T) {
	const n = 3000
	path := filepath.Join(t.TempDir(), "mix.pcap")
	var b bytes.Buffer
	if err := trafficgen.WritePcap(&b, trafficgen.New(trafficgen.Config{Seed: 11}), n); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	e, err := New(testConfig(1), nil)
	if err != nil {
		t.Fatal(err)
	}
	seen := &counter{}
	e.Attach(seen)
	src, err := filesource.Open(path, filesource.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Run(context.Background(), src); err != nil || !e.Finished() {
		t.Fatalf("Run = %v, finished %v", err, e.Finished())
	}
	rerun := func() bool {
		select {
		case <-e.Rerun():
			return true
		default:
			return false
		}
	}
	l2 := analysis.LevelL2
	cfg := testConfig(2)
	cfg.Level = &l2
	if err := e.Restart(cfg, false); err != nil {
		t.Fatal(err)
	}
	if rerun() {
		t.Error("a restart that keeps the statistics asked for the finished replay to run again")
	}
	if err := e.Restart(cfg, true); err != nil {
		t.Fatal(err)
	}
	if !rerun() {
		t.Fatal("a clearing restart of a finished replay did not ask for it to run again")
	}
	if err := e.Run(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	st := e.Stats()
	got, _ := st.Interfaces.Ports.Get(iface.Key{Port: 0}, stats.Query{SkipHistory: true})
	if got.AllTime.RxPackets != n {
		t.Errorf("the replay run again counted %d packets; want the file's %d", got.AllTime.RxPackets, n)
	}
	if st.IP.IPs.Len(0) != 0 || st.MAC.MACs.Len(0) == 0 {
		t.Errorf("run again at level l2: %d IPs, %d MACs; want none and some", st.IP.IPs.Len(0), st.MAC.MACs.Len(0))
	}
	// Once more on one shard (whose dispatcher decodes into the batch):
	// the sinks were handed every packet each time, as new only the first.
	cfg = testConfig(1)
	cfg.Level = &l2
	if err := e.Restart(cfg, true); err != nil || !rerun() {
		t.Fatalf("clearing restart: %v, rerun asked %v", err, rerun())
	}
	if err := e.Run(context.Background(), src); err != nil {
		t.Fatal(err)
	}
	if all, fresh := seen.n.Load(), seen.fresh.Load(); all != 3*n || fresh != n {
		t.Errorf("a replay analysed 3 times handed sinks %d packets, %d as new; want %d, %d", all, fresh, 3*n, n)
	}
}
