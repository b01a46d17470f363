package pcapfile

import (
	"bytes"
	"errors"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/multimeter-fw/multimeter/services/decode"
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
	if _, err := exec.LookPath("tshark"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tshark missing under CI")
		}
		t.Skip("tshark not installed")
	}
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
		out, err := exec.Command("tshark", "-r", name, "-T", "fields", "-e", "frame.len").Output()
		if err != nil {
			t.Fatalf("tshark %s: %v", name, err)
		}
		var wantN int
		var wantBytes uint64
		for _, l := range strings.Fields(string(out)) {
			v, _ := strconv.ParseUint(l, 10, 32)
			wantN++
			wantBytes += v
		}
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
	r, err := NewReader(bytes.NewReader(data))
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
		t.Errorf("Next allocates %v times per packet; want 0", allocs)
	}
}

func FuzzReader(f *testing.F) {
	f.Add(generated(f, 5))
	if ng, err := os.ReadFile("../../testdata/pcaps/quic-v2.pcapng"); err == nil {
		f.Add(ng[:min(len(ng), 2000)])
	}
	f.Fuzz(func(t *testing.T, data []byte) {
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
