package pcapfile

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/gopacket/gopacket/pcapgo"

	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/tools/peertest"
	"github.com/multimeter-fw/multimeter/tools/trafficgen"
)

func generated(t testing.TB, n int) []byte {
	t.Helper()
	var b bytes.Buffer
	if err := trafficgen.WritePcap(&b, trafficgen.New(trafficgen.Config{Seed: 2}), n); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

func readAll(t testing.TB, data []byte) (n int, bytesTotal uint64, err error) {
	t.Helper()
	r, err := NewReader(bytes.NewReader(data))
	if err != nil {
		return 0, 0, err
	}
	var p decode.Packet
	for {
		_, _, err := r.Next(&p)
		if errors.Is(err, io.EOF) {
			return n, bytesTotal, nil
		}
		if err != nil {
			return n, bytesTotal, err
		}
		n++
		bytesTotal += uint64(p.OrigLen)
	}
}

// TestMatchesTshark reads pcap and pcapng (converted by editcap) and
// compares packet and byte counts with tshark's.
func TestMatchesTshark(t *testing.T) {
	peertest.Need(t, "tshark", "editcap")
	dir := t.TempDir()
	pcap := filepath.Join(dir, "gen.pcap")
	if err := os.WriteFile(pcap, generated(t, 3000), 0o644); err != nil {
		t.Fatal(err)
	}
	ng := filepath.Join(dir, "gen.pcapng")
	if out, err := exec.Command("editcap", "-F", "pcapng", pcap, ng).CombinedOutput(); err != nil {
		t.Fatalf("editcap: %v\n%s", err, out)
	}
	for _, name := range []string{pcap, ng, "../../testdata/pcaps/quic-v2.pcapng", "../../testdata/pcaps/KakaoTalk_chat.pcap"} {
		wantN, wantBytes := peertest.TsharkFrames(t, name)
		data, err := os.ReadFile(name)
		if err != nil {
			t.Fatal(err)
		}
		n, b, err := readAll(t, data)
		if err != nil || n != wantN || b != wantBytes {
			t.Errorf("read %s = %d packets, %d bytes, %v; tshark says %d, %d", filepath.Base(name), n, b, err, wantN, wantBytes)
		}
	}
}

func TestBadFiles(t *testing.T) {
	good := generated(t, 50)
	tests := []struct {
		name string
		data []byte
		want error
	}{
		{"empty", nil, ErrFormat},
		{"text", []byte("hello, this is not a capture"), ErrFormat},
		{"cut record", good[:len(good)-7], io.ErrUnexpectedEOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			_, _, err := readAll(t, tt.data)
			if !errors.Is(err, tt.want) {
				t.Errorf("read = %v; want %v", err, tt.want)
			}
		})
	}
}

func TestNextDoesNotAllocate(t *testing.T) {
	data := generated(t, 20000)
	for name, open := range map[string]func() (*Reader, error){
		"streamed":    func() (*Reader, error) { return NewReader(bytes.NewReader(data)) },
		"from memory": func() (*Reader, error) { return NewBytesReader(data) },
	} {
		r, err := open()
		if err != nil {
			t.Fatal(err)
		}
		var p decode.Packet
		allocs := testing.AllocsPerRun(10000, func() {
			if _, _, err := r.Next(&p); err != nil {
				t.Fatal(err)
			}
		})
		if allocs != 0 {
			t.Errorf("%s: Next allocates %v times per packet; want 0", name, allocs)
		}
	}
}

func FuzzReader(f *testing.F) {
	f.Add(generated(f, 5))
	if ng, err := os.ReadFile("../../testdata/pcaps/quic-v2.pcapng"); err == nil {
		f.Add(ng[:min(len(ng), 2000)])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) >= 4 && binary.LittleEndian.Uint32(data) != 0x0a0d0d0a {
			samePackets(t, data) // classic pcap: record for record as pcapgo
		}
		r, err := NewReader(bytes.NewReader(data))
		if err != nil {
			return
		}
		var p decode.Packet
		for range 1000 {
			frame, link, err := r.Next(&p)
			if err != nil {
				return
			}
			if uint32(len(frame)) != p.CapLen || p.OrigLen < p.CapLen {
				t.Fatalf("CapLen %d OrigLen %d for %d bytes", p.CapLen, p.OrigLen, len(frame))
			}
			decode.Decode(&p, link, frame)
		}
	})
}

// bigEndian rewrites a little-endian classic pcap file in big-endian
// byte order, as a big-endian machine writes it.
func bigEndian(t *testing.T, le []byte) []byte {
	t.Helper()
	b := bytes.Clone(le)
	swap32 := func(off int) { binary.BigEndian.PutUint32(b[off:], binary.LittleEndian.Uint32(le[off:])) }
	swap16 := func(off int) { binary.BigEndian.PutUint16(b[off:], binary.LittleEndian.Uint16(le[off:])) }
	swap32(0)
	swap16(4)
	swap16(6)
	for off := 8; off < 24; off += 4 {
		swap32(off)
	}
	for off := 24; off+16 <= len(le); {
		n := int(binary.LittleEndian.Uint32(le[off+8:]))
		for i := 0; i < 16; i += 4 {
			swap32(off + i)
		}
		off += 16 + n
	}
	return b
}

// samePackets reads data with our Reader, streamed and from memory, and
// with gopacket's pcapgo (the library that reads the file header), and
// fails where they differ. It returns how many packets were read.
func samePackets(t *testing.T, data []byte) int {
	t.Helper()
	r, err := NewReader(bytes.NewReader(data))
	n := sameAsPcapgo(t, data, r, err)
	r, err = NewBytesReader(data)
	if m := sameAsPcapgo(t, data, r, err); m != n {
		t.Fatalf("%d packets from memory, %d streamed", m, n)
	}
	return n
}

// sameAsPcapgo reads data with r (err from creating it) and with pcapgo.
func sameAsPcapgo(t *testing.T, data []byte, r *Reader, err error) int {
	t.Helper()
	g, gerr := pcapgo.NewReader(bytes.NewReader(data))
	if (err == nil) != (gerr == nil) {
		t.Fatalf("NewReader: %v; pcapgo: %v", err, gerr)
	}
	if err != nil {
		return 0
	}
	var p decode.Packet
	for n := 0; ; n++ {
		frame, _, err := r.Next(&p)
		want, ci, gerr := g.ReadPacketData()
		if errors.Is(gerr, io.EOF) && (len(want) > 0 || ci.CaptureLength > 0) {
			gerr = io.ErrUnexpectedEOF // a cut record, as Next reports it
		}
		if gerr != nil {
			if err == nil {
				t.Fatalf("packet %d: read %d bytes where pcapgo failed: %v", n, len(frame), gerr)
			}
			if errors.Is(gerr, io.EOF) != errors.Is(err, io.EOF) || errors.Is(gerr, io.ErrUnexpectedEOF) != errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("packet %d: error %v; pcapgo %v", n, err, gerr)
			}
			return n
		}
		if err != nil {
			t.Fatalf("packet %d: %v where pcapgo read %d bytes", n, err, len(want))
		}
		if !bytes.Equal(frame, want) || p.Timestamp != ci.Timestamp.UnixNano() || int(p.OrigLen) != max(ci.Length, len(want)) || int(p.CapLen) != len(want) {
			t.Fatalf("packet %d: %d bytes at %d, length %d; pcapgo %d bytes at %d, length %d",
				n, len(frame), p.Timestamp, p.OrigLen, len(want), ci.Timestamp.UnixNano(), ci.Length)
		}
	}
}

func TestClassicPcapMatchesPcapgo(t *testing.T) {
	le := generated(t, 3000)
	for name, data := range map[string][]byte{"little-endian": le, "big-endian": bigEndian(t, le)} {
		t.Run(name, func(t *testing.T) {
			if n := samePackets(t, data); n != 3000 {
				t.Fatalf("%d packets; want 3000", n)
			}
			for _, cut := range []int{24, 30, 24 + 16, len(data) / 2, len(data) - 1} {
				samePackets(t, data[:cut])
			}
		})
	}
}
