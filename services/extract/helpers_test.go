package extract

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"log/slog"
	"os"
	"testing"

	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/ringbuf"
	"github.com/multimeter-fw/multimeter/services/ringbuf/ringbuftest"
)

func testLog() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func timeFilter(start, end int64) string {
	return fmt.Sprintf("frame.time_epoch >= %d.%09d && frame.time_epoch < %d.%09d", start/1e9, start%1e9, end/1e9, end%1e9)
}

// searchToFile runs Search and writes the result as pcap.
func searchToFile(t testing.TB, snap ringbuf.Snapshot, q Query, format, path string, snapLen int) Result {
	t.Helper()
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	w := NewWriter(f, format, snapLen)
	res, err := Search(context.Background(), snap, q, w.WritePacket)
	if err != nil {
		t.Fatalf("Search(%v): %v", q.Filter, err)
	}
	if err := w.Flush(); err != nil {
		t.Fatal(err)
	}
	return res
}

func readPcap(t testing.TB, path string) []ringbuftest.Packet {
	t.Helper()
	p, err := ringbuftest.ReadPcap(path)
	if err != nil {
		t.Fatal(err)
	}
	return p
}

// samePackets compares packets byte for byte, with timestamps and
// original lengths, in order.
func samePackets(t testing.TB, what string, want, got []ringbuftest.Packet) {
	t.Helper()
	if len(want) != len(got) {
		t.Errorf("%s: got %d packets; want %d", what, len(got), len(want))
	}
	for i := range min(len(want), len(got)) {
		w, g := want[i], got[i]
		if !bytes.Equal(w.Frame, g.Frame) || w.Timestamp != g.Timestamp || w.OrigLen != g.OrigLen {
			t.Errorf("%s: packet %d = ts %d len %d/%d; want ts %d len %d/%d", what, i, g.Timestamp, len(g.Frame), g.OrigLen,
				w.Timestamp, len(w.Frame), w.OrigLen)
			return
		}
	}
}

func openBuffer(t testing.TB, cfg ringbuf.BufferConfig) *ringbuf.Buffer {
	t.Helper()
	b, err := ringbuf.OpenBuffer(cfg, testLog())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// smallBuffer has small segments on n devices so extraction crosses many
// segments, lanes and devices.
func smallBuffer(t testing.TB, n int) ringbuf.BufferConfig {
	c := ringbuf.BufferConfig{SegmentBytes: 1 << 20, QueueBytes: 64 << 20, FlushMillis: 200}
	for range n {
		c.Devices = append(c.Devices, ringbuf.DeviceConfig{Path: t.TempDir(), MaxBytes: 1 << 30})
	}
	return c
}

// decodePacket decodes test packets for filter.Match.
type decodePacket struct{ p decode.Packet }

func (d *decodePacket) of(pk ringbuftest.Packet) *decode.Packet {
	d.p.Timestamp, d.p.OrigLen, d.p.Port = pk.Timestamp, pk.OrigLen, pk.Port
	decode.Decode(&d.p, decode.LinkEthernet, pk.Frame)
	return &d.p
}
