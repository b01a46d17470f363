package segment

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/tools/peertest"
	"github.com/multimeter-fw/multimeter/tools/trafficgen"
)

// build returns a segment of n generated packets in chunks of perChunk
// packets, on two interfaces, and the records written.
func build(t testing.TB, n, perChunk int) ([]byte, []Record) {
	t.Helper()
	b := AppendSHB(nil)
	b = AppendIDB(b, decode.LinkEthernet, "port0")
	b = AppendIDB(b, decode.LinkEthernet, "port1")
	b = AppendSync(b, 0, 0)
	g := trafficgen.New(trafficgen.Config{Seed: 3})
	var recs []Record
	start, inChunk := len(b), 0
	for i := range n {
		frame, ts := g.Next(nil)
		r := Record{Iface: uint32(i % 2), Timestamp: ts.UnixNano(), OrigLen: uint32(len(frame) + i%3),
			Data: frame, Seq: uint64(1000 + i), App: uint16(i % 7), Group: uint16(i % 2)}
		if i%5 == 0 && len(frame) > 40 {
			r.Data = frame[:40] // truncated by a rule: orig length kept
		}
		recs = append(recs, r)
		b = AppendEPB(b, &r)
		if inChunk++; inChunk == perChunk {
			b = AppendSync(b, start, uint32(inChunk))
			start, inChunk = len(b), 0
		}
	}
	if inChunk > 0 {
		b = AppendSync(b, start, uint32(inChunk))
	}
	return b, recs
}

// readAll scans a segment and returns its records and how it ended.
func readAll(data []byte) ([]Record, int64, error) {
	s := NewScanner(bytes.NewReader(data))
	var out []Record
	for {
		c, err := s.Next()
		if err != nil {
			if errors.Is(err, io.EOF) {
				err = nil
			}
			return out, s.Offset(), err
		}
		if c.Off%Align != 0 || len(c.Data)%Align != 0 {
			return out, s.Offset(), fmt.Errorf("chunk at %d, %d bytes: not aligned", c.Off, len(c.Data))
		}
		for b := c.Data; len(b) > 0; {
			blk, err := NextBlock(b)
			if err != nil {
				return out, s.Offset(), err
			}
			var r Record
			if ok, err := ParseEPB(blk, &r); err != nil {
				return out, s.Offset(), err
			} else if ok {
				r.Data = bytes.Clone(r.Data)
				out = append(out, r)
			}
			b = b[blk.Len:]
		}
	}
}

// firstDiff returns the index of the first record that differs, -1 if none.
func firstDiff(want, got []Record) int {
	for i := range min(len(want), len(got)) {
		w, g := want[i], got[i]
		if !bytes.Equal(w.Data, g.Data) || w.Iface != g.Iface || w.Timestamp != g.Timestamp ||
			w.OrigLen != g.OrigLen || w.Seq != g.Seq || w.App != g.App || w.Group != g.Group {
			return i
		}
	}
	if len(want) != len(got) {
		return min(len(want), len(got))
	}
	return -1
}

func TestRoundTrip(t *testing.T) {
	data, want := build(t, 3000, 100)
	got, end, err := readAll(data)
	if err != nil {
		t.Fatal(err)
	}
	if end != int64(len(data)) {
		t.Errorf("Offset() = %d; want %d", end, len(data))
	}
	if i := firstDiff(want, got); i >= 0 {
		t.Errorf("record %d differs", i)
	}
}

// TestToolsRead has tshark and capinfos read a segment: standard pcapng,
// nanosecond timestamps, interface ids, original lengths kept.
func TestToolsRead(t *testing.T) {
	peertest.Need(t, "tshark", "capinfos")
	data, recs := build(t, 500, 64)
	p := filepath.Join(t.TempDir(), "seg.pcapng")
	if err := os.WriteFile(p, data, 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("capinfos", "-M", "-T", "-c", "-t", "-i", p).CombinedOutput()
	if err != nil {
		t.Fatalf("capinfos: %v\n%s", err, out)
	}
	if !strings.Contains(string(out), "\tpcapng\t") || !strings.Contains(string(out), "\t500\t") {
		t.Errorf("capinfos = %q; want pcapng with 500 packets", out)
	}
	out, err = exec.Command("tshark", "-r", p, "-T", "fields", "-e", "frame.interface_id",
		"-e", "frame.time_epoch", "-e", "frame.len", "-e", "frame.cap_len").Output()
	if err != nil {
		t.Fatalf("tshark: %v", err)
	}
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	if len(lines) != len(recs) {
		t.Fatalf("tshark read %d packets; want %d", len(lines), len(recs))
	}
	for i, l := range lines {
		r := recs[i]
		want := fmt.Sprintf("%d\t%d.%09d\t%d\t%d", r.Iface, r.Timestamp/1e9, r.Timestamp%1e9, r.OrigLen, len(r.Data))
		if l != want {
			t.Errorf("tshark packet %d = %q; want %q", i+1, l, want)
		}
	}
}

// TestRecover cuts and corrupts a segment everywhere and checks that the
// scanner keeps exactly the complete chunks before the damage.
func TestRecover(t *testing.T) {
	data, recs := build(t, 400, 50)
	// Chunk ends, in bytes and packets.
	type end struct {
		off     int64
		packets int
	}
	var ends []end
	s := NewScanner(bytes.NewReader(data))
	n := 0
	for {
		c, err := s.Next()
		if err != nil {
			break
		}
		n += int(c.Packets)
		ends = append(ends, end{c.Off + int64(len(c.Data)), n})
	}
	wantAt := func(cut int64) end {
		best := end{}
		for _, e := range ends {
			if e.off <= cut {
				best = e
			}
		}
		return best
	}
	for cut := int64(0); cut <= int64(len(data)); cut += 509 {
		t.Run(fmt.Sprintf("cut%d", cut), func(t *testing.T) {
			got, off, err := readAll(data[:cut])
			want := wantAt(cut)
			if off != want.off || len(got) != want.packets {
				t.Errorf("cut at %d: kept %d bytes, %d packets; want %d, %d", cut, off, len(got), want.off, want.packets)
			}
			if cut != want.off && !errors.Is(err, ErrTorn) && !errors.Is(err, ErrCorrupt) {
				t.Errorf("cut at %d: err = %v; want ErrTorn or ErrCorrupt", cut, err)
			}
			if i := firstDiff(recs[:len(got)], got); i >= 0 {
				t.Errorf("kept record %d = %+v; want %+v", i, got[i], recs[i])
			}
		})
	}
	// A flipped byte inside a chunk's packet data: that chunk and all after
	// it are dropped.
	for _, at := range []int{5000, len(data) / 2, int(ends[len(ends)-2].off) + 100} {
		bad := bytes.Clone(data)
		bad[at] ^= 0x40
		got, off, err := readAll(bad)
		want := wantAt(int64(at))
		if want.off == int64(at) { // the flip hit the next chunk's first byte
			continue
		}
		if off != want.off || len(got) != want.packets || err == nil {
			t.Errorf("flip at %d: kept %d bytes, %d packets, err %v; want %d, %d and an error", at, off, len(got), err, want.off, want.packets)
		}
	}
	// Zeros after the data (a preallocated file) end it like a torn write.
	got, off, err := readAll(append(bytes.Clone(data), make([]byte, 3*Align)...))
	if off != int64(len(data)) || len(got) != len(recs) || !errors.Is(err, ErrCorrupt) {
		t.Errorf("zero tail: kept %d bytes, %d packets, err %v; want %d, %d, ErrCorrupt", off, len(got), err, len(data), len(recs))
	}
}

func TestAppendEPBAllocatesNothing(t *testing.T) {
	buf := make([]byte, 0, 1<<16)
	r := Record{Data: make([]byte, 1500), Timestamp: 1}
	if n := testing.AllocsPerRun(100, func() { buf = AppendEPB(buf[:0], &r) }); n != 0 {
		t.Errorf("AppendEPB allocates %v times; want 0", n)
	}
}

func FuzzScanner(f *testing.F) {
	data, _ := build(f, 20, 7)
	f.Add(data)
	f.Add(data[:len(data)/2])
	f.Fuzz(func(t *testing.T, b []byte) {
		got, off, _ := readAll(b)
		if off > int64(len(b)) || off%Align != 0 && off != 0 {
			t.Fatalf("Offset() = %d for %d bytes", off, len(b))
		}
		_ = got
	})
}

func FuzzParseEPB(f *testing.F) {
	r := Record{Iface: 1, Timestamp: 7, OrigLen: 99, Data: []byte("abcde"), Seq: 5, App: 3, Group: 1}
	f.Add(AppendEPB(nil, &r))
	f.Fuzz(func(t *testing.T, b []byte) {
		blk, err := NextBlock(b)
		if err != nil {
			return
		}
		var got Record
		if ok, err := ParseEPB(blk, &got); ok && err == nil && len(got.Data) > len(b) {
			t.Fatalf("ParseEPB data %d bytes from a %d-byte block", len(got.Data), len(b))
		}
		ParseSync(blk)
		ParseIDB(blk)
	})
}
