package replay

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/multimeter-fw/multimeter/services/engine"
	"github.com/multimeter-fw/multimeter/services/extract"
	"github.com/multimeter-fw/multimeter/services/filter"
	"github.com/multimeter-fw/multimeter/services/ringbuf/ringbuftest"
	"github.com/multimeter-fw/multimeter/tools/peertest"
	"github.com/multimeter-fw/multimeter/tools/trafficgen"
)

// newService returns a service over a real analysis registry with two
// pcap slots.
func newService(t *testing.T, cfg Config) (*Service, *engine.Registry) {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	main, err := engine.New(engine.Config{}, log)
	if err != nil {
		t.Fatal(err)
	}
	reg, err := engine.NewRegistry(main, engine.SlotConfig(), 2, log)
	if err != nil {
		t.Fatal(err)
	}
	cfg.Slots = 2
	svc, err := New(cfg, reg, log)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := svc.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})
	return svc, reg
}

// capture writes n generated frames, 100 per second of capture time (so
// that the analysis completes seconds while a capture streams), as pcapng.
func capture(t *testing.T, n int, seed uint64) []byte {
	t.Helper()
	var buf bytes.Buffer
	w, err := pcapgo.NewNgWriter(&buf, layers.LinkTypeEthernet)
	if err != nil {
		t.Fatal(err)
	}
	g := trafficgen.New(trafficgen.Config{Seed: seed, PacketsPerSecond: 100, Start: time.Date(2020, 7, 15, 8, 50, 0, 0, time.UTC)})
	for range n {
		frame, ts := g.Next(nil)
		if err := w.WritePacket(gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(frame), Length: len(frame)}, frame); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

func prepareAndStart(t *testing.T, svc *Service, up Upload) Status {
	t.Helper()
	st, err := svc.Prepare(up)
	if err != nil {
		t.Fatalf("Prepare(%+v): %v", up, err)
	}
	if st, err = svc.Start(st.Slot); err != nil || st.State != StateStarted {
		t.Fatalf("Start(%d) = %+v, %v; want started", st.Slot, st, err)
	}
	return st
}

// TestUploadStreams streams a capture into a slot in two halves: between
// them the slot's statistics already count packets, and at the end they
// count what tshark counts; the replay buffer holds exactly the packets
// tshark selects with the equivalent display filter.
func TestUploadStreams(t *testing.T) {
	peertest.Need(t, "tshark")
	svc, reg := newService(t, Config{BufferDir: t.TempDir()})
	file := capture(t, 20000, 1)
	path := filepath.Join(t.TempDir(), "abc.pcapng")
	if err := os.WriteFile(path, file, 0o644); err != nil {
		t.Fatal(err)
	}
	st := prepareAndStart(t, svc, Upload{FileName: "abc.pcapng", FileSize: int64(len(file)), Slot: 1, ForceSlot: true, UseReplayBuffer: true})

	pr, pw := io.Pipe()
	type result struct {
		st  Status
		err error
	}
	done := make(chan result, 1)
	go func() {
		st, err := svc.Analyze(context.Background(), st.Slot, Input{Body: pr})
		done <- result{st, err}
	}()
	half := len(file) / 2
	if _, err := pw.Write(file[:half]); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(time.Minute)
	for {
		mid, err := svc.Status(1)
		if err != nil {
			t.Fatal(err)
		}
		if mid.Analysis.Packets > 0 {
			if mid.State != StateRunning || mid.BytesReceived > int64(half) || mid.Analysis.IPs == 0 {
				t.Errorf("mid-upload status %+v; want running, at most half received, IPs counted", mid)
			}
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("no statistics while the upload streams: %+v", mid)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if _, err := pw.Write(file[half:]); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	res := <-done
	if res.err != nil {
		t.Fatalf("Analyze: %v", res.err)
	}
	wantN, wantBytes := peertest.TsharkFrames(t, path)
	got := res.st
	if got.State != StateDone || got.BytesReceived != int64(len(file)) || got.PacketsRead != uint64(wantN) ||
		got.Analysis.Packets != uint64(wantN) || got.Analysis.Bytes != wantBytes {
		t.Errorf("final status %+v; want done, %d bytes received, %d packets of %d bytes analysed", got, len(file), wantN, wantBytes)
	}
	if got.ReplayBuffer == nil || got.ReplayBuffer.Packets != uint64(wantN) || got.ReplayBuffer.DroppedPackets != 0 {
		t.Errorf("replay buffer %+v; want all %d packets, none dropped", got.ReplayBuffer, wantN)
	}
	if eng, _ := reg.Get(1); !eng.Finished() {
		t.Errorf("slot 1 analysis not finished")
	}

	// Extraction from the replay buffer, as mm-id=:1&fromCaptureBuffer=true does it.
	buf, ok := svc.Buffer(1)
	if !ok {
		t.Fatal("Buffer(1): no replay buffer")
	}
	start := time.Date(2020, 7, 15, 8, 51, 0, 0, time.UTC)
	end := start.Add(time.Minute)
	var out bytes.Buffer
	pwr := extract.NewWriter(&out, extract.FormatPcap, extract.WholePacket)
	if _, err := extract.Search(context.Background(), buf.Snapshot(),
		extract.Query{Start: start.UnixNano(), End: end.UnixNano(), Filter: filter.MustParse("l4Protocol==TCP and port==443")},
		pwr.WritePacket); err != nil {
		t.Fatal(err)
	}
	if err := pwr.Flush(); err != nil {
		t.Fatal(err)
	}
	gotPath := filepath.Join(t.TempDir(), "got.pcap")
	os.WriteFile(gotPath, out.Bytes(), 0o644)
	wantPath := filepath.Join(t.TempDir(), "want.pcap")
	display := "tcp.port==443 && frame.time_epoch >= " + strconv.FormatInt(start.Unix(), 10) + " && frame.time_epoch < " + strconv.FormatInt(end.Unix(), 10)
	if msg, err := exec.Command("tshark", "-r", path, "-Y", display, "-w", wantPath).CombinedOutput(); err != nil {
		t.Fatalf("tshark: %v\n%s", err, msg)
	}
	samePackets(t, readPcap(t, wantPath), readPcap(t, gotPath))
}

func readPcap(t *testing.T, path string) []ringbuftest.Packet {
	t.Helper()
	p, err := ringbuftest.ReadPcap(path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

func samePackets(t *testing.T, want, got []ringbuftest.Packet) {
	t.Helper()
	if len(want) == 0 {
		t.Fatal("tshark selects nothing: the test shows nothing")
	}
	if len(got) != len(want) {
		t.Fatalf("extracted %d packets; tshark selects %d", len(got), len(want))
	}
	for i := range want {
		if !bytes.Equal(got[i].Frame, want[i].Frame) || got[i].Timestamp != want[i].Timestamp || got[i].OrigLen != want[i].OrigLen {
			t.Fatalf("packet %d = ts %d len %d; tshark's: ts %d len %d", i, got[i].Timestamp, len(got[i].Frame), want[i].Timestamp, len(want[i].Frame))
		}
	}
}

// blockEnd is the offset of the end of the first pcapng block that ends
// after offset off.
func blockEnd(t *testing.T, file []byte, off int) int {
	t.Helper()
	for at := 0; at+12 <= len(file); {
		n := int(binary.LittleEndian.Uint32(file[at+4:]))
		if n < 12 {
			t.Fatalf("block at %d has length %d", at, n)
		}
		if at += n; at > off {
			return at
		}
	}
	t.Fatalf("no block ends after %d", off)
	return 0
}

// failingReader breaks off after its data, as a client that goes away.
type failingReader struct{ r io.Reader }

func (f failingReader) Read(b []byte) (int, error) {
	n, err := f.r.Read(b)
	if errors.Is(err, io.EOF) {
		return n, io.ErrClosedPipe
	}
	return n, err
}

func TestBrokenUploads(t *testing.T) {
	file := capture(t, 2000, 2)
	// An enhanced packet block of an interface the file does not have.
	badBlock := binary.LittleEndian.AppendUint32(nil, 6)
	for _, v := range []uint32{32, 9, 0, 0, 0, 0, 32} {
		badBlock = binary.LittleEndian.AppendUint32(badBlock, v)
	}
	tests := []struct {
		name     string
		max      int64
		body     io.Reader
		kind     error
		msg      string
		analysed bool // packets before the fault are analysed
	}{
		{"not a capture", 0, strings.NewReader("GET / HTTP/1.1\r\n\r\n" + strings.Repeat("x", 5000)), ErrBadCapture, "x.pcapng is not a pcap or pcapng capture", false},
		{"empty", 0, strings.NewReader(""), ErrBadCapture, "x.pcapng is not a pcap or pcapng capture", false},
		{"cut off", 0, bytes.NewReader(file[:len(file)/2+7]), ErrBadCapture, "x.pcapng ends inside a packet", true},
		{"too large", int64(len(file) / 2), bytes.NewReader(file), ErrTooLarge, "exceeds the upload limit", true},
		{"client gone", 0, failingReader{bytes.NewReader(file[:len(file)/2])}, ErrBadCapture, "the upload broke off after", true},
		{"bad block", 0, io.MultiReader(bytes.NewReader(file), bytes.NewReader(badBlock)), ErrBadCapture, "x.pcapng: ", true},
		// Cut at a block boundary: whole blocks, but not the file announced.
		{"shorter than announced", 0, bytes.NewReader(file[:blockEnd(t, file, len(file)/2)]), ErrBadCapture, fmt.Sprintf("bytes where %d were announced", len(file)), true},
		{"longer than announced", 0, io.MultiReader(bytes.NewReader(file), bytes.NewReader(file[blockEnd(t, file, 0):])), ErrBadCapture, fmt.Sprintf("has %d bytes where %d were announced", 2*len(file)-blockEnd(t, file, 0), len(file)), true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			svc, _ := newService(t, Config{MaxBytes: tt.max})
			size := int64(len(file))
			if tt.max > 0 {
				size = 0 // a client that does not say, and sends too much
			}
			prepareAndStart(t, svc, Upload{FileName: "x.pcapng", FileSize: size, Slot: 2, ForceSlot: true})
			st, err := svc.Analyze(context.Background(), 2, Input{Body: tt.body})
			if !errors.Is(err, tt.kind) || !strings.Contains(err.Error(), tt.msg) {
				t.Fatalf("Analyze = %v; want %v mentioning %q", err, tt.kind, tt.msg)
			}
			if st.State != StateFailed || st.Error != err.Error() {
				t.Errorf("status %+v; want failed with the error", st)
			}
			if got := st.PacketsRead > 0; got != tt.analysed {
				t.Errorf("packets read %d; want some: %v", st.PacketsRead, tt.analysed)
			}
			if later, _ := svc.Status(2); later.State != StateFailed {
				t.Errorf("Status(2).State = %s; want failed", later.State)
			}
		})
	}
}

// TestCommands walks the slot through the reference's commands, in and
// out of order.
func TestCommands(t *testing.T) {
	svc, reg := newService(t, Config{MaxBytes: 1 << 20})
	file := capture(t, 500, 3)
	kind := func(err error) error {
		for _, k := range []error{ErrInvalid, ErrTooLarge, ErrNoSlot, ErrState, ErrBadCapture} {
			if errors.Is(err, k) {
				return k
			}
		}
		return err
	}
	steps := []struct {
		name string
		do   func() (Status, error)
		want error
	}{
		{"start unannounced", func() (Status, error) { return svc.Start(1) }, ErrNoSlot},
		{"stop unannounced", func() (Status, error) { return svc.Stop(1) }, ErrNoSlot},
		{"slot 0", func() (Status, error) { return svc.Prepare(Upload{FileName: "a.pcap", Slot: 0}) }, ErrInvalid},
		{"slot 3", func() (Status, error) { return svc.Prepare(Upload{FileName: "a.pcap", Slot: 3}) }, ErrInvalid},
		{"path in name", func() (Status, error) { return svc.Prepare(Upload{FileName: "../a.pcap", Slot: 1}) }, ErrInvalid},
		{"too large", func() (Status, error) { return svc.Prepare(Upload{FileName: "a.pcap", FileSize: 2 << 20, Slot: 1}) }, ErrTooLarge},
		{"no replay buffer storage", func() (Status, error) {
			return svc.Prepare(Upload{FileName: "a.pcap", Slot: 1, UseReplayBuffer: true})
		}, ErrInvalid},
		{"prepare", func() (Status, error) { return svc.Prepare(Upload{FileName: "a.pcap", Slot: 1}) }, nil},
		{"analyze before start", func() (Status, error) {
			return svc.Analyze(context.Background(), 1, Input{Body: bytes.NewReader(file)})
		}, ErrState},
		{"start", func() (Status, error) { return svc.Start(1) }, nil},
		{"start again", func() (Status, error) { return svc.Start(1) }, nil},
		{"analyze", func() (Status, error) {
			return svc.Analyze(context.Background(), 1, Input{Body: bytes.NewReader(file)})
		}, nil},
		{"analyze again", func() (Status, error) {
			return svc.Analyze(context.Background(), 1, Input{Body: bytes.NewReader(file)})
		}, ErrState},
		{"start after done", func() (Status, error) { return svc.Start(1) }, ErrState},
		{"stop after done", func() (Status, error) { return svc.Stop(1) }, nil},
	}
	for _, s := range steps {
		st, err := s.do()
		if kind(err) != s.want {
			t.Fatalf("%s: %+v, %v; want %v", s.name, st, err, s.want)
		}
	}
	if st, _ := svc.Status(1); st.State != StateDone || st.PacketsRead != 500 {
		t.Errorf("Status(1) = %+v; want done with 500 packets", st)
	}

	// A new announcement replaces the finished analysis with an empty one.
	eng, _ := reg.Get(1)
	if _, err := svc.Prepare(Upload{FileName: "b.pcap", Slot: 1, ForceSlot: true}); err != nil {
		t.Fatal(err)
	}
	if fresh, _ := reg.Get(1); fresh == eng || fresh.Stats().IP.IPs.Len(0) != 0 {
		t.Errorf("slot 1 after a new announcement: same instance or not empty")
	}
}

// TestBusySlot runs one upload and announces others meanwhile: forced
// into the busy slot is a conflict, unforced goes to the idle slot, and a
// stop ends the running one with its statistics kept.
func TestBusySlot(t *testing.T) {
	svc, _ := newService(t, Config{})
	file := capture(t, 4000, 4)
	prepareAndStart(t, svc, Upload{FileName: "a.pcapng", Slot: 1, ForceSlot: true})
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() {
		// The pipe stands for the client's connection: the interruption
		// ends its blocked read like a read deadline.
		_, err := svc.Analyze(context.Background(), 1, Input{Body: pr, Interrupt: func() { pr.CloseWithError(os.ErrDeadlineExceeded) }})
		done <- err
	}()
	if _, err := pw.Write(file[:len(file)/2]); err != nil {
		t.Fatal(err)
	}
	for st, _ := svc.Status(1); st.State != StateRunning; st, _ = svc.Status(1) {
		time.Sleep(time.Millisecond)
	}
	if _, err := svc.Prepare(Upload{FileName: "b.pcap", Slot: 1, ForceSlot: true}); !errors.Is(err, ErrState) {
		t.Errorf("Prepare into the busy slot, forced = %v; want ErrState", err)
	}
	st, err := svc.Prepare(Upload{FileName: "b.pcap", Slot: 1})
	if err != nil || st.Slot != 2 {
		t.Errorf("Prepare into the busy slot, not forced = slot %d, %v; want slot 2", st.Slot, err)
	}
	if _, err := svc.Prepare(Upload{FileName: "c.pcap", Slot: 2}); err != nil {
		t.Errorf("Prepare into the idle slot 2 again: %v", err) // replaces b
	}
	if st, err := svc.Stop(1); err != nil || st.State != StateStopped {
		t.Errorf("Stop(1) = %+v, %v; want stopped", st, err)
	}
	if err := <-done; err != nil {
		t.Errorf("Analyze after Stop = %v; want nil", err)
	}
	pw.Close()
	st, _ = svc.Status(1)
	if st.State != StateStopped || st.PacketsRead == 0 || st.PacketsRead >= 4000 {
		t.Errorf("Status(1) = %+v; want stopped with part of the packets", st)
	}
}
