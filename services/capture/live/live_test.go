package live_test

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	gocmp "github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/multimeter-fw/multimeter/services/capture"
	"github.com/multimeter-fw/multimeter/services/capture/live"
	"github.com/multimeter-fw/multimeter/services/capture/live/livetest"
	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/tools/trafficgen"
)

// newNetns creates a namespace for one test, or skips the test when it
// cannot: network namespaces need root.
func newNetns(t *testing.T) *livetest.Netns {
	t.Helper()
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("live capture tests need root to create network namespaces, and CI=true")
		}
		t.Skip("skipping: live capture tests need root to create network namespaces (CI=true makes this a failure)")
	}
	ns, err := livetest.NewNetns("mmlive")
	if err != nil {
		t.Fatalf("NewNetns: %v", err)
	}
	t.Cleanup(func() {
		if err := ns.Close(); err != nil {
			t.Errorf("deleting netns: %v", err)
		}
	})
	return ns
}

// addVeth adds a veth pair with an MTU that fits every generated frame.
func addVeth(t *testing.T, ns *livetest.Netns, a, b string) {
	t.Helper()
	if err := ns.AddVeth(a, b, 9000); err != nil {
		t.Fatal(err)
	}
}

// record is one packet as a Handler saw it.
type record struct {
	Worker    int
	Port      uint16
	Timestamp int64
	OrigLen   uint32
	Link      decode.LinkType
	Frame     []byte
}

// collector keeps every packet its workers see.
type collector struct {
	mu   sync.Mutex
	recs []record
	n    atomic.Int64
}

func (c *collector) handler(worker int) capture.Handler { return collectorHandler{c, worker} }

func (c *collector) count() int64 { return c.n.Load() }

func (c *collector) records() []record {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.recs)
}

type collectorHandler struct {
	c      *collector
	worker int
}

func (h collectorHandler) Handle(p *decode.Packet, link decode.LinkType, frame []byte) {
	h.c.mu.Lock()
	h.c.recs = append(h.c.recs, record{h.worker, p.Port, p.Timestamp, p.OrigLen, link, bytes.Clone(frame)})
	h.c.mu.Unlock()
	h.c.n.Add(1)
}

func (collectorHandler) Flush() {}

// open opens a source inside ns.
func open(t *testing.T, ns *livetest.Netns, cfg live.Config) *live.Source {
	t.Helper()
	var src *live.Source
	err := ns.Do(func() (err error) {
		src, err = live.Open(cfg, nil)
		return err
	})
	if err != nil {
		t.Fatalf("Open(%+v) = %v", cfg, err)
	}
	t.Cleanup(func() { src.Close() })
	return src
}

// run runs src until the test ends.
func run(t *testing.T, src *live.Source, newHandler func(int) capture.Handler) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- src.Run(ctx, newHandler) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("Run() = %v; want nil after cancel", err)
		}
	})
}

// waitFor polls cond until it holds. The time limit only keeps a broken
// test from hanging; it asserts nothing about speed.
func waitFor(t *testing.T, what string, cond func() bool) {
	t.Helper()
	for deadline := time.Now().Add(60 * time.Second); !cond(); time.Sleep(time.Millisecond) {
		if time.Now().After(deadline) {
			t.Fatalf("gave up waiting for %s", what)
		}
	}
}

// diff is cmp.Diff, quick when the values are equal (cmp walks byte
// slices element by element).
func diff(want, got any) string {
	if reflect.DeepEqual(want, got) {
		return ""
	}
	return gocmp.Diff(want, got)
}

// frames returns n frames from the traffic generator.
func frames(n int, seed uint64) [][]byte {
	g := trafficgen.New(trafficgen.Config{Seed: seed})
	out := make([][]byte, n)
	for i := range out {
		out[i], _ = g.Next(nil)
	}
	return out
}

func send(t *testing.T, ns *livetest.Netns, iface string, fs [][]byte) {
	t.Helper()
	s, err := ns.NewSender(iface)
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	for i, f := range fs {
		if err := s.Send(f); err != nil {
			t.Fatalf("sending frame %d (%d bytes) on %s: %v", i, len(f), iface, err)
		}
	}
}

// startTcpdump runs tcpdump until it has captured count packets. The time
// limit only keeps a broken test from hanging.
func startTcpdump(t *testing.T, ns *livetest.Netns, iface, file string, count int) *livetest.Tcpdump {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	t.Cleanup(cancel)
	td, err := ns.StartTcpdump(ctx, iface, file, count)
	if err != nil {
		t.Fatal(err)
	}
	return td
}

func waitTcpdump(t *testing.T, td *livetest.Tcpdump) livetest.TcpdumpStats {
	t.Helper()
	st, err := td.Wait()
	if err != nil {
		t.Fatal(err)
	}
	return st
}

// readPcap returns the records of a tcpdump capture, as port port.
func readPcap(t *testing.T, file string, port uint16) []record {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := pcapgo.NewReader(f)
	if err != nil {
		t.Fatalf("reading tcpdump's pcap: %v", err)
	}
	var recs []record
	for {
		data, ci, err := r.ReadPacketData()
		if err == io.EOF {
			return recs
		}
		if err != nil {
			t.Fatalf("reading tcpdump's pcap: %v", err)
		}
		recs = append(recs, record{Port: port, Timestamp: ci.Timestamp.UnixNano(), OrigLen: uint32(ci.Length), Link: decode.LinkType(r.LinkType()), Frame: data})
	}
}

// sorted orders records by time, then bytes, dropping the worker.
func sorted(recs []record) []record {
	out := make([]record, len(recs))
	for i, r := range recs {
		r.Worker = 0
		out[i] = r
	}
	slices.SortFunc(out, func(a, b record) int {
		return cmp.Or(cmp.Compare(a.Timestamp, b.Timestamp), bytes.Compare(a.Frame, b.Frame))
	})
	return out
}

func sortedFrames(fs [][]byte) [][]byte {
	out := slices.Clone(fs)
	slices.SortFunc(out, bytes.Compare)
	return out
}

func framesOf(recs []record) [][]byte {
	out := make([][]byte, len(recs))
	for i, r := range recs {
		out[i] = r.Frame
	}
	return out
}

// TestCaptureMatchesTcpdump sends generated frames into a port and checks
// that what the handlers get (bytes, original lengths, timestamps) is what
// tcpdump captured on the same port, that the frames are the ones sent,
// and that the counters agree with the kernel's.
func TestCaptureMatchesTcpdump(t *testing.T) {
	ns := newNetns(t)
	addVeth(t, ns, "mon0", "feed0")
	const port = 7
	src := open(t, ns, live.Config{
		Ports:          []live.PortConfig{{Name: "mon0", Index: port}},
		WorkersPerPort: 2,
		BlockSize:      1 << 16,
		BlockCount:     64,
	})
	sent := frames(3000, 1)
	pcap := filepath.Join(t.TempDir(), "tcpdump.pcap")
	td := startTcpdump(t, ns, "mon0", pcap, len(sent))
	var c collector
	run(t, src, c.handler)

	send(t, ns, "feed0", sent)
	waitFor(t, "all frames handled", func() bool { return c.count() >= int64(len(sent)) })
	tdStats := waitTcpdump(t, td)
	got := c.records()

	if d := diff(sorted(readPcap(t, pcap, port)), sorted(got)); d != "" {
		t.Errorf("handled packets differ from tcpdump's capture (-tcpdump +ours):\n%s", d)
	}
	if d := diff(sortedFrames(sent), sortedFrames(framesOf(got))); d != "" {
		t.Errorf("handled frames differ from the frames sent (-sent +handled):\n%s", d)
	}
	if tdStats.KernelDrops != 0 || tdStats.Captured != uint64(len(sent)) {
		t.Errorf("tcpdump: %+v; want %d captured, none dropped", tdStats, len(sent))
	}

	_, link, err := ns.Link("mon0")
	if err != nil {
		t.Fatal(err)
	}
	var bytes uint64
	for _, r := range got {
		bytes += uint64(r.OrigLen)
	}
	st := src.Stats()[0]
	if st.Port != port || st.Name != "mon0" || st.Busy <= 0 || len(st.Workers) != 2 {
		t.Errorf("Stats()[0] = %+v; want port %d named mon0, two workers, busy time", st, port)
	}
	want := live.Counters{Packets: link.RXPackets, Bytes: bytes, KernelPackets: link.RXPackets}
	st.Counters.Busy = 0
	if d := diff(want, st.Counters); d != "" {
		t.Errorf("Stats()[0] differs from the kernel's link counters (-want +got):\n%s", d)
	}
	checkFlowsStayOnOneWorker(t, got)
}

// checkFlowsStayOnOneWorker checks that both directions of every IP flow
// went to one worker, and that both workers got packets.
func checkFlowsStayOnOneWorker(t *testing.T, recs []record) {
	t.Helper()
	type flowKey struct {
		a, b   decode.Addr
		pa, pb uint16
		proto  uint8
	}
	owner := map[flowKey]int{}
	workers := map[int]int{}
	var p decode.Packet
	for _, r := range recs {
		workers[r.Worker]++
		if decode.Decode(&p, r.Link, r.Frame) != nil || p.IPVersion == 0 || p.Tunnel != decode.TunnelNone || p.Frag != decode.FragNone {
			continue
		}
		k := flowKey{p.SrcIP, p.DstIP, p.SrcPort, p.DstPort, p.Proto}
		if bytes.Compare(k.a[:], k.b[:]) > 0 || (k.a == k.b && k.pa > k.pb) {
			k.a, k.b, k.pa, k.pb = k.b, k.a, k.pb, k.pa
		}
		if w, ok := owner[k]; ok && w != r.Worker {
			t.Errorf("flow %v:%d-%v:%d/%d went to workers %d and %d", k.a, k.pa, k.b, k.pb, k.proto, w, r.Worker)
			return
		}
		owner[k] = r.Worker
	}
	if len(workers) != 2 {
		t.Errorf("packets per worker = %v; want both workers used", workers)
	}
}

// bridgedPair opens mon0 and mon1 as partners (fed through feed0 and
// feed1) in mode, with workers per port (0: the default).
func bridgedPair(t *testing.T, mode live.Mode, workers int) (*livetest.Netns, *live.Source) {
	t.Helper()
	ns := newNetns(t)
	addVeth(t, ns, "mon0", "feed0")
	addVeth(t, ns, "mon1", "feed1")
	return ns, open(t, ns, live.Config{
		Ports: []live.PortConfig{
			{Name: "mon0", Index: 0, Partner: "mon1"},
			{Name: "mon1", Index: 1, Partner: "mon0"},
		},
		Mode:           mode,
		WorkersPerPort: workers,
		BlockSize:      1 << 16,
	})
}

// TestBridgeForwardsUnchanged checks that in bridge mode every frame
// received on a port leaves its partner byte for byte, in both directions,
// and that the forwarded frames are not captured again.
func TestBridgeForwardsUnchanged(t *testing.T) {
	ns, src := bridgedPair(t, live.Bridge, 2)
	east, west := frames(2000, 2), frames(1500, 3)
	dir := t.TempDir()
	out0, out1 := filepath.Join(dir, "feed0.pcap"), filepath.Join(dir, "feed1.pcap")
	td0, td1 := startTcpdump(t, ns, "feed0", out0, len(west)), startTcpdump(t, ns, "feed1", out1, len(east))
	var c collector
	run(t, src, c.handler)

	send(t, ns, "feed0", east)
	send(t, ns, "feed1", west)
	waitFor(t, "all frames handled", func() bool { return c.count() >= int64(len(east)+len(west)) })
	waitTcpdump(t, td0)
	waitTcpdump(t, td1)
	if d := diff(sortedFrames(east), sortedFrames(framesOf(readPcap(t, out1, 0)))); d != "" {
		t.Errorf("frames arriving on feed1 differ from those sent on feed0 (-sent +arrived):\n%s", d)
	}
	if d := diff(sortedFrames(west), sortedFrames(framesOf(readPcap(t, out0, 0)))); d != "" {
		t.Errorf("frames arriving on feed0 differ from those sent on feed1 (-sent +arrived):\n%s", d)
	}
	perPort := map[uint16][][]byte{}
	for _, r := range c.records() {
		perPort[r.Port] = append(perPort[r.Port], r.Frame)
	}
	if d := diff(sortedFrames(east), sortedFrames(perPort[0])); d != "" {
		t.Errorf("frames handled on port 0 differ from those sent into it (-sent +handled):\n%s", d)
	}
	if d := diff(sortedFrames(west), sortedFrames(perPort[1])); d != "" {
		t.Errorf("frames handled on port 1 differ from those sent into it (-sent +handled):\n%s", d)
	}
	for i, st := range src.Stats() {
		want := []int{len(east), len(west)}[i]
		if st.Forwarded != uint64(want) || st.ForwardDrops != 0 || st.ForwardErrors != 0 {
			t.Errorf("Stats()[%d] = %+v; want %d forwarded, no drops or errors", i, st, want)
		}
	}
	for i, pi := range src.Ports() {
		if pi.Partner != 1-i {
			t.Errorf("Ports()[%d].Partner = %d; want %d", i, pi.Partner, 1-i)
		}
	}
}

// TestModeSwitch switches between sink and bridge while running: only the
// frames sent while bridging arrive on the far side.
func TestModeSwitch(t *testing.T) {
	ns, src := bridgedPair(t, live.Sink, 0)
	batches := [][][]byte{frames(500, 4), frames(600, 5), frames(700, 6)}
	out := filepath.Join(t.TempDir(), "feed1.pcap")
	td := startTcpdump(t, ns, "feed1", out, len(batches[1]))
	var c collector
	run(t, src, c.handler)

	modes := []live.Mode{live.Sink, live.Bridge, live.Sink}
	var handled int
	for i, batch := range batches {
		if err := src.SetMode(modes[i]); err != nil {
			t.Fatalf("SetMode(%v) = %v", modes[i], err)
		}
		if got := src.Mode(); got != modes[i] {
			t.Fatalf("Mode() = %v; want %v", got, modes[i])
		}
		send(t, ns, "feed0", batch)
		handled += len(batch)
		waitFor(t, "batch handled", func() bool { return c.count() >= int64(handled) })
	}
	waitTcpdump(t, td)
	if d := diff(sortedFrames(batches[1]), sortedFrames(framesOf(readPcap(t, out, 1)))); d != "" {
		t.Errorf("frames arriving on feed1 differ from the batch sent in bridge mode (-sent +arrived):\n%s", d)
	}
	// Forwarding is done when the frames have been handled; the kernel
	// counts every frame that reached feed1.
	if _, link, err := ns.Link("feed1"); err != nil || link.RXPackets != uint64(len(batches[1])) {
		t.Errorf("feed1 received %d packets (%v); want only the %d sent in bridge mode", link.RXPackets, err, len(batches[1]))
	}
	if st := src.Stats()[0]; st.Packets != uint64(handled) || st.Forwarded != uint64(len(batches[1])) {
		t.Errorf("Stats()[0] = %+v; want %d packets, %d forwarded", st, handled, len(batches[1]))
	}
	if err := src.SetMode(live.Mode(9)); err == nil {
		t.Errorf("SetMode(9) = nil; want an error")
	}
}

// blockingHandler holds its worker in Handle until released, like an
// analysis far too slow for the traffic.
type blockingHandler struct {
	release <-chan struct{}
	n       *atomic.Int64
}

func (h blockingHandler) Handle(*decode.Packet, decode.LinkType, []byte) {
	<-h.release
	h.n.Add(1)
}

func (blockingHandler) Flush() {}

// TestKernelDropsWhenHandlerSlow fills a tiny ring behind a stuck handler:
// the kernel drops and counts, and handled plus dropped is what arrived.
func TestKernelDropsWhenHandlerSlow(t *testing.T) {
	ns := newNetns(t)
	addVeth(t, ns, "mon0", "feed0")
	src := open(t, ns, live.Config{
		Ports:      []live.PortConfig{{Name: "mon0", Index: 3}},
		BlockSize:  4096,
		BlockCount: 4,
	})
	release := make(chan struct{})
	var n atomic.Int64
	run(t, src, func(int) capture.Handler { return blockingHandler{release, &n} })

	sent := frames(2000, 7)
	send(t, ns, "feed0", sent)
	close(release)
	waitFor(t, "every delivered packet handled", func() bool {
		st := src.Stats()[0]
		return st.Packets == st.KernelPackets-st.KernelDrops
	})
	_, link, err := ns.Link("mon0")
	if err != nil {
		t.Fatal(err)
	}
	st := src.Stats()[0]
	if st.KernelDrops == 0 || st.KernelFreezes == 0 {
		t.Errorf("Stats()[0] = %+v; want kernel drops and freezes", st)
	}
	if st.KernelPackets != link.RXPackets || st.Packets+st.KernelDrops != link.RXPackets || uint64(n.Load()) != st.Packets {
		t.Errorf("Stats()[0] = %+v, handled %d; want handled + dropped = %d packets received on the link", st, n.Load(), link.RXPackets)
	}
	if link.RXPackets != uint64(len(sent)) {
		t.Errorf("mon0 received %d packets; want the %d sent", link.RXPackets, len(sent))
	}
	pi := src.Ports()[0]
	if pi.KernelDrops != st.KernelDrops || pi.KernelFreezes != st.KernelFreezes {
		t.Errorf("Ports()[0] = %+v; want drops %d and freezes %d as in Stats", pi, st.KernelDrops, st.KernelFreezes)
	}
}

// countingHandler counts without allocating.
type countingHandler struct{ n *atomic.Int64 }

func (h countingHandler) Handle(*decode.Packet, decode.LinkType, []byte) { h.n.Add(1) }
func (countingHandler) Flush()                                           {}

// TestNoAllocationPerPacket captures and forwards in bridge mode and counts
// the allocations of the whole process while packets flow.
func TestNoAllocationPerPacket(t *testing.T) {
	ns, src := bridgedPair(t, live.Bridge, 0)
	var n atomic.Int64
	run(t, src, func(int) capture.Handler { return countingHandler{&n} })
	s, err := ns.NewSender("feed0")
	if err != nil {
		t.Fatal(err)
	}
	defer s.Close()
	batch := frames(1000, 8)
	sendBatch := func() {
		want := n.Load() + int64(len(batch))
		for _, f := range batch {
			if err := s.Send(f); err != nil {
				t.Fatal(err)
			}
		}
		for n.Load() < want {
			time.Sleep(100 * time.Microsecond)
		}
	}
	sendBatch() // warm up
	allocs := testing.AllocsPerRun(5, sendBatch)
	t.Logf("%.0f allocations per batch of %d packets", allocs, len(batch))
	if perPacket := allocs / float64(len(batch)); perPacket >= 0.01 {
		t.Errorf("%.0f allocations per %d packets (%.3f per packet); want none per packet", allocs, len(batch), perPacket)
	}
	if st := src.Stats()[0]; st.Forwarded != st.Packets {
		t.Errorf("Stats()[0] = %+v; want every packet forwarded", st)
	}
}

// TestLinkState reads link state and speed through a sysfs of the
// namespace and compares them with what ip reports.
func TestLinkState(t *testing.T) {
	ns := newNetns(t)
	addVeth(t, ns, "mon0", "feed0")
	sysfs := t.TempDir()
	unmount, err := ns.MountSysfs(sysfs)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { unmount() })
	src := open(t, ns, live.Config{Ports: []live.PortConfig{{Name: "mon0", Index: 2}}, SysfsRoot: sysfs, BlockSize: 4096, BlockCount: 2})

	for _, feedUp := range []bool{true, false, true} {
		if err := ns.SetUp(feedUp, "feed0"); err != nil {
			t.Fatal(err)
		}
		state, _, err := ns.Link("mon0")
		if err != nil {
			t.Fatal(err)
		}
		pi := src.Ports()[0]
		if pi.LinkUp != (state == "UP") {
			t.Errorf("peer up %v: Ports()[0].LinkUp = %v; ip says %s", feedUp, pi.LinkUp, state)
		}
		// veth reports 10 Gbit/s (its ethtool speed) while up.
		if wantSpeed := map[bool]int{true: 10000, false: 0}[state == "UP"]; pi.SpeedMbps != wantSpeed {
			t.Errorf("peer up %v: Ports()[0].SpeedMbps = %d; want %d", feedUp, pi.SpeedMbps, wantSpeed)
		}
		if pi.Port != 2 || pi.Name != "mon0" || pi.Partner != -1 {
			t.Errorf("Ports()[0] = %+v; want port 2 named mon0 without partner", pi)
		}
	}
}

// TestRunAndClose checks the life cycle: Run returns nil when cancelled and
// can run again; Close stops a running Run; a closed source does not run.
func TestRunAndClose(t *testing.T) {
	ns := newNetns(t)
	addVeth(t, ns, "mon0", "feed0")
	src := open(t, ns, live.Config{Ports: []live.PortConfig{{Name: "mon0"}}, BlockSize: 4096, BlockCount: 4})
	var n atomic.Int64
	h := func(int) capture.Handler { return countingHandler{&n} }
	if err := src.SetMode(live.Bridge); err == nil {
		t.Errorf("SetMode(Bridge) without partner ports = nil; want an error")
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := src.Run(ctx, h); err != nil {
		t.Errorf("Run(cancelled) = %v; want nil", err)
	}

	done := make(chan error, 1)
	go func() { done <- src.Run(context.Background(), h) }()
	send(t, ns, "feed0", frames(10, 9))
	waitFor(t, "frames handled", func() bool { return n.Load() == 10 })
	if err := src.Run(context.Background(), h); !errors.Is(err, live.ErrRunning) {
		t.Errorf("second concurrent Run() = %v; want ErrRunning", err)
	}
	if err := src.Close(); err != nil {
		t.Errorf("Close() = %v", err)
	}
	if err := <-done; err != nil {
		t.Errorf("Run() = %v after Close; want nil", err)
	}
	if err := src.Run(context.Background(), h); !errors.Is(err, live.ErrClosed) {
		t.Errorf("Run() after Close = %v; want ErrClosed", err)
	}
	if st := src.Stats()[0]; st.Packets != 10 || st.KernelPackets != 10 {
		t.Errorf("Stats()[0] after Close = %+v; want 10 packets", st)
	}
}

func TestOpenMissingInterface(t *testing.T) {
	ns := newNetns(t)
	err := ns.Do(func() error {
		_, err := live.Open(live.Config{Ports: []live.PortConfig{{Name: "nosuch0"}}}, nil)
		return err
	})
	if err == nil {
		t.Errorf("Open(nosuch0) = nil; want an error")
	}
}

// TestReceiveOffloads checks with ethtool that Open turns GRO off on a port
// and Close turns it back on, unless KeepOffloads is set.
func TestReceiveOffloads(t *testing.T) {
	ns := newNetns(t)
	addVeth(t, ns, "mon0", "feed0")
	gro := func() string {
		t.Helper()
		out, err := ns.Command(context.Background(), "ethtool", "-k", "mon0").CombinedOutput()
		if err != nil {
			t.Fatalf("ethtool -k mon0: %v: %s", err, out)
		}
		for _, line := range strings.Split(string(out), "\n") {
			if v, ok := strings.CutPrefix(line, "generic-receive-offload: "); ok {
				return v
			}
		}
		t.Fatalf("ethtool -k mon0 shows no GRO state:\n%s", out)
		return ""
	}
	if out, err := ns.Command(context.Background(), "ethtool", "-K", "mon0", "gro", "on").CombinedOutput(); err != nil {
		t.Fatalf("ethtool -K mon0 gro on: %v: %s", err, out)
	}
	for _, keep := range []bool{false, true} {
		src := open(t, ns, live.Config{Ports: []live.PortConfig{{Name: "mon0"}}, KeepOffloads: keep, BlockSize: 4096, BlockCount: 2})
		want := map[bool]string{false: "off", true: "on"}[keep]
		if got := gro(); got != want {
			t.Errorf("KeepOffloads %v: GRO after Open is %q; want %q", keep, got, want)
		}
		src.Close()
		if got := gro(); got != "on" {
			t.Errorf("KeepOffloads %v: GRO after Close is %q; want on", keep, got)
		}
	}
}
