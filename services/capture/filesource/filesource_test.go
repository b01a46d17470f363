package filesource

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"maps"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/multimeter-fw/multimeter/services/capture"
	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/tools/trafficgen"
)

// recorder is a capture.Handler that keeps what it is handed.
type recorder struct {
	packets []decode.Packet
	bytes   uint64
	flushes int
}

func (r *recorder) Handle(p *decode.Packet, link decode.LinkType, frame []byte) {
	if int(p.CapLen) != len(frame) || p.OrigLen < p.CapLen {
		panic("inconsistent lengths")
	}
	r.packets = append(r.packets, *p)
	r.bytes += uint64(p.OrigLen)
}

func (r *recorder) Flush() { r.flushes++ }

func run(t *testing.T, s *Source) *recorder {
	t.Helper()
	rec := &recorder{}
	if err := s.Run(context.Background(), func(int) capture.Handler { return rec }); err != nil {
		t.Fatalf("Run: %v", err)
	}
	return rec
}

func mix(t *testing.T, n int) []byte {
	var b bytes.Buffer
	if err := trafficgen.WritePcap(&b, trafficgen.New(trafficgen.Config{Seed: 1}), n); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// openMix writes n packets of the mix to path and opens it for replay.
func openMix(t *testing.T, path string, n int, cfg Config) *Source {
	t.Helper()
	if err := os.WriteFile(path, mix(t, n), 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, cfg)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func TestReplayFile(t *testing.T) {
	data := mix(t, 500)
	path := filepath.Join(t.TempDir(), "x.pcap")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	s, err := Open(path, Config{Port: 3})
	if err != nil {
		t.Fatal(err)
	}
	rec := run(t, s)
	if len(rec.packets) != 500 || rec.flushes == 0 {
		t.Fatalf("Run handed %d packets, flushed %d times; want 500, at least once", len(rec.packets), rec.flushes)
	}
	for _, p := range rec.packets {
		if p.Port != 3 {
			t.Fatalf("packet on port %d; want 3", p.Port)
		}
	}
	// Run again (a restart of processing) it goes on where it ended.
	if rec := run(t, s); len(rec.packets) != 0 {
		t.Errorf("Run after the end handed %d packets; want none", len(rec.packets))
	}
	if st := s.Stats(); st.Packets != 500 || st.Truncated {
		t.Errorf("Stats() = %+v; want 500 packets, not truncated", st)
	}
	s.Rewind()
	if rec := run(t, s); len(rec.packets) != 500 {
		t.Errorf("Run after Rewind handed %d packets; want 500", len(rec.packets))
	}
	if st := s.Stats(); st.Packets != 500 {
		t.Errorf("Stats() after Rewind and Run = %+v; want 500 packets", st)
	}
	if !s.CanWait() || !s.PacketClock() {
		t.Error("a full-speed replay must be lossless and on the packets' clock")
	}
	if ports := s.Ports(); len(ports) != 1 || ports[0].Port != 3 || ports[0].Name != "x.pcap" || !ports[0].LinkUp {
		t.Errorf("Ports() = %+v", ports)
	}
}

// stopper cancels its replay once it has been handed n packets.
type stopper struct {
	recorder
	n      int
	cancel context.CancelFunc
}

func (r *stopper) Handle(p *decode.Packet, link decode.LinkType, frame []byte) {
	r.recorder.Handle(p, link, frame)
	if len(r.packets) == r.n {
		r.cancel()
	}
}

// TestStoppedReplayGoesOn: a replay stopped by a restart of processing
// goes on where it stopped, so that no packet is analysed twice or
// skipped; also when several files replay at once.
func TestStoppedReplayGoesOn(t *testing.T) {
	dir := t.TempDir()
	var m Multi
	for i, n := range []int{1000, 300} {
		m = append(m, openMix(t, filepath.Join(dir, fmt.Sprintf("%d.pcap", i)), n, Config{Port: uint16(i)}))
	}
	want := map[uint16][]int64{} // timestamps by port, as a full replay hands them
	for _, s := range m {
		for _, p := range run(t, s).packets {
			want[p.Port] = append(want[p.Port], p.Timestamp)
		}
	}
	m.Rewind()

	got := map[uint16][]int64{}
	passes := 0
	for ; ; passes++ {
		ctx, cancel := context.WithCancel(context.Background())
		handlers := []*stopper{{n: 100, cancel: cancel}, {n: 100, cancel: cancel}}
		if err := m.Run(ctx, func(w int) capture.Handler { return handlers[w] }); err != nil {
			t.Fatal(err)
		}
		cancel()
		n := 0
		for _, h := range handlers {
			n += len(h.packets)
			for _, p := range h.packets {
				got[p.Port] = append(got[p.Port], p.Timestamp)
			}
		}
		if n == 0 {
			break
		}
		if passes > 20 {
			t.Fatal("the replay never ends")
		}
	}
	for port, ts := range want {
		if !slices.Equal(got[port], ts) {
			t.Errorf("port %d: stopped and run again %d times, the replay handed %d packets; want the %d of one replay, in order",
				port, passes, len(got[port]), len(ts))
		}
	}
	if st := m[0].Stats(); st.Packets != 1000 {
		t.Errorf("Stats() = %+v; want the file's 1000 packets once", st)
	}
}

// TestRewoundReplayMarksRepeats: a replay rewound (the statistics start
// over) hands every packet an earlier run had handed on as Repeat, so
// that the ring buffer does not record it twice, and the others as new.
func TestRewoundReplayMarksRepeats(t *testing.T) {
	s := openMix(t, filepath.Join(t.TempDir(), "a.pcap"), 1000, Config{})
	repeats := func(pkts []decode.Packet) (n int) {
		for i, p := range pkts {
			if p.Repeat {
				if n != i {
					t.Fatalf("packet %d is a repeat after new ones", i)
				}
				n++
			}
		}
		return n
	}
	ctx, cancel := context.WithCancel(context.Background())
	first := &stopper{n: 300, cancel: cancel}
	if err := s.Run(ctx, func(int) capture.Handler { return first }); err != nil {
		t.Fatal(err)
	}
	handed := len(first.packets)
	if handed < 300 || handed >= 1000 || repeats(first.packets) != 0 {
		t.Fatalf("stopped first run handed %d packets, %d repeats; want part of the file, none repeated", handed, repeats(first.packets))
	}
	s.Rewind()
	if got := run(t, s).packets; len(got) != 1000 || repeats(got) != handed {
		t.Errorf("rewound: %d packets, %d repeats; want 1000, the first %d repeated", len(got), repeats(got), handed)
	}
	s.Rewind()
	if got := run(t, s).packets; len(got) != 1000 || repeats(got) != 1000 {
		t.Errorf("rewound after a whole run: %d packets, %d repeats; want every one of 1000 repeated", len(got), repeats(got))
	}
}

func TestReplayBadInput(t *testing.T) {
	dir := t.TempDir()
	notPcap := filepath.Join(dir, "text")
	os.WriteFile(notPcap, []byte("hello, this is not a capture"), 0o600)
	if _, err := Open(notPcap, Config{}); err == nil {
		t.Error("Open of a text file succeeded")
	}
	if _, err := Open(filepath.Join(dir, "missing"), Config{}); err == nil {
		t.Error("Open of a missing file succeeded")
	}
	if _, err := Open(notPcap, Config{Speed: -1}); err == nil {
		t.Error("Open with a negative speed succeeded")
	}
	// Cut inside the last record: the packets before it count.
	data := mix(t, 100)
	s, err := FromReader(bytes.NewReader(data[:len(data)-10]), "cut.pcap", Config{})
	if err != nil {
		t.Fatal(err)
	}
	rec := run(t, s)
	if len(rec.packets) != 99 || !s.Stats().Truncated {
		t.Errorf("cut capture: %d packets, truncated %v; want 99, true", len(rec.packets), s.Stats().Truncated)
	}
	if err := s.Run(context.Background(), func(int) capture.Handler { return rec }); !errors.Is(err, ErrConsumed) {
		t.Errorf("second Run of a reader = %v; want ErrConsumed", err)
	}
	// A stream cannot start over: Rewind keeps what it read.
	s.Rewind()
	if err := s.Run(context.Background(), func(int) capture.Handler { return rec }); !errors.Is(err, ErrConsumed) {
		t.Errorf("Run of a rewound reader = %v; want ErrConsumed", err)
	}
	if st := s.Stats(); st.Packets != 99 || !st.Truncated {
		t.Errorf("Stats() of a rewound reader = %+v; want its 99 packets, truncated", st)
	}
}

// frameRecorder keeps copies of the frames it is handed.
type frameRecorder struct {
	frames  [][]byte
	onFirst func()
}

func (r *frameRecorder) Handle(p *decode.Packet, link decode.LinkType, frame []byte) {
	if len(r.frames) == 0 && r.onFirst != nil {
		r.onFirst()
	}
	r.frames = append(r.frames, bytes.Clone(frame))
}

func (r *frameRecorder) Flush() {}

func TestMappedFileReadsAsStreamed(t *testing.T) {
	data := mix(t, 2000)
	for name, data := range map[string][]byte{"whole": data, "cut in the last record": data[:len(data)-10]} {
		t.Run(name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "x.pcap")
			if err := os.WriteFile(path, data, 0o600); err != nil {
				t.Fatal(err)
			}
			mapped, err := Open(path, Config{})
			if err != nil {
				t.Fatal(err)
			}
			if _, mem, closeFile, err := mapped.reader(); err != nil || mem == nil {
				t.Fatalf("the file was not mapped: %v", err)
			} else {
				closeFile()
			}
			streamed, err := FromReader(bytes.NewReader(data), "x.pcap", Config{})
			if err != nil {
				t.Fatal(err)
			}
			var a, b frameRecorder
			if err := mapped.Run(context.Background(), func(int) capture.Handler { return &a }); err != nil {
				t.Fatal(err)
			}
			if err := streamed.Run(context.Background(), func(int) capture.Handler { return &b }); err != nil {
				t.Fatal(err)
			}
			if len(a.frames) != len(b.frames) || len(a.frames) < 1999 {
				t.Fatalf("%d frames mapped, %d streamed", len(a.frames), len(b.frames))
			}
			for i := range a.frames {
				if !bytes.Equal(a.frames[i], b.frames[i]) {
					t.Fatalf("frame %d differs", i)
				}
			}
			if mapped.Stats() != streamed.Stats() {
				t.Errorf("mapped %+v, streamed %+v", mapped.Stats(), streamed.Stats())
			}
		})
	}
}

// A mapped file cut short while it is replayed faults on the pages it
// lost: the replay ends with an error, the process goes on.
func TestFileCutWhileReplaying(t *testing.T) {
	path := filepath.Join(t.TempDir(), "x.pcap")
	s := openMix(t, path, 20000, Config{})
	rec := &frameRecorder{onFirst: func() {
		if err := os.Truncate(path, 64<<10); err != nil {
			t.Error(err)
		}
	}}
	err := s.Run(context.Background(), func(int) capture.Handler { return rec })
	if !errors.Is(err, ErrShrunk) {
		t.Fatalf("Run = %v after %d packets; want ErrShrunk", err, len(rec.frames))
	}
	if len(rec.frames) == 0 || len(rec.frames) >= 20000 {
		t.Errorf("%d packets before the cut", len(rec.frames))
	}
	// Rewound, the same source reads what is left of the file.
	s.Rewind()
	rec = &frameRecorder{}
	if err := s.Run(context.Background(), func(int) capture.Handler { return rec }); err != nil || len(rec.frames) == 0 {
		t.Errorf("Run of the cut file = %v with %d packets", err, len(rec.frames))
	}
}

func TestPacedReplay(t *testing.T) {
	// 200 packets at 1000 pps span 0.2 s; at 100x they take about 2 ms.
	var b bytes.Buffer
	trafficgen.WritePcap(&b, trafficgen.New(trafficgen.Config{Seed: 2, PacketsPerSecond: 1000}), 200)
	s, err := FromReader(&b, "paced.pcap", Config{Paced: true, Speed: 100})
	if err != nil {
		t.Fatal(err)
	}
	if s.CanWait() {
		t.Error("a paced replay behaves like a live port: it must not be lossless")
	}
	rec := run(t, s)
	if len(rec.packets) != 200 {
		t.Errorf("paced replay handed %d packets; want 200", len(rec.packets))
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	b.Reset()
	trafficgen.WritePcap(&b, trafficgen.New(trafficgen.Config{Seed: 2, PacketsPerSecond: 1}), 100)
	s, _ = FromReader(&b, "slow.pcap", Config{Paced: true})
	if err := s.Run(ctx, func(int) capture.Handler { return &recorder{} }); err != nil {
		t.Errorf("cancelled paced replay = %v; want nil", err)
	}
}

func FuzzReplay(f *testing.F) {
	var b bytes.Buffer
	trafficgen.WritePcap(&b, trafficgen.New(trafficgen.Config{Seed: 3}), 5)
	f.Add(b.Bytes())
	for _, name := range []string{"quic-v2.pcapng", "dns.pcap"} {
		if data, err := os.ReadFile(filepath.Join("..", "..", "..", "testdata", "pcaps", name)); err == nil {
			f.Add(data)
		}
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		s, err := FromReader(bytes.NewReader(data), "fuzz", Config{})
		if err != nil {
			t.Fatal(err)
		}
		rec := &recorder{}
		_ = s.Run(context.Background(), func(int) capture.Handler { return rec })
		if uint64(len(rec.packets)) != s.Stats().Packets {
			t.Fatalf("handed %d packets, counted %d", len(rec.packets), s.Stats().Packets)
		}
	})
}

// writeTwoInterfaces writes a pcapng whose packets alternate between two
// Ethernet interfaces, n of them.
func writeTwoInterfaces(t *testing.T, path string, n int) {
	t.Helper()
	var b bytes.Buffer
	w, err := pcapgo.NewNgWriter(&b, layers.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := w.AddInterface(pcapgo.NgInterface{Name: "eth1", LinkType: layers.LinkTypeEthernet, SnapLength: 65535}); err != nil {
		t.Fatal(err)
	}
	g := trafficgen.New(trafficgen.Config{Seed: 3})
	buf := make([]byte, 0, 2048)
	for i := range n {
		frame, ts := g.Next(buf)
		ci := gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(frame), Length: len(frame), InterfaceIndex: i % 2}
		if err := w.WritePacket(ci, frame); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
}

// TestInterfacesOfFilesReplayedAtOnce: a pcapng's second interface has a
// port of its own, apart from the other files' ports, named after it.
func TestInterfacesOfFilesReplayedAtOnce(t *testing.T) {
	dir := t.TempDir()
	ng, pcap := filepath.Join(dir, "two.pcapng"), filepath.Join(dir, "one.pcap")
	writeTwoInterfaces(t, ng, 100)
	if err := os.WriteFile(pcap, mix(t, 30), 0o600); err != nil {
		t.Fatal(err)
	}
	var m Multi
	for i, path := range []string{ng, pcap} {
		s, err := Open(path, Config{Port: uint16(i), PortStride: 2})
		if err != nil {
			t.Fatal(err)
		}
		m = append(m, s)
	}
	var mu sync.Mutex
	perPort := map[uint16]int{}
	err := m.Run(context.Background(), func(int) capture.Handler {
		return handlerFunc(func(p *decode.Packet) {
			mu.Lock()
			perPort[p.Port]++
			mu.Unlock()
		})
	})
	if err != nil {
		t.Fatal(err)
	}
	if want := map[uint16]int{0: 50, 2: 50, 1: 30}; !maps.Equal(perPort, want) {
		t.Errorf("packets by port = %v; want %v (two.pcapng's interfaces on 0 and 2, one.pcap on 1)", perPort, want)
	}
	var names []string
	for _, p := range m.Ports() {
		names = append(names, fmt.Sprintf("%d:%s", p.Port, p.Name))
	}
	if want := []string{"0:two.pcapng", "2:two.pcapng#1", "1:one.pcap"}; !slices.Equal(names, want) {
		t.Errorf("Ports() = %v; want %v", names, want)
	}
}

// handlerFunc is a capture.Handler calling a function for every packet.
type handlerFunc func(p *decode.Packet)

func (f handlerFunc) Handle(p *decode.Packet, _ decode.LinkType, _ []byte) { f(p) }
func (handlerFunc) Flush()                                                 {}
