package engine

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/pcapfile"
	"github.com/multimeter-fw/multimeter/tools/trafficgen"
)

var fuzzLinks = []decode.LinkType{decode.LinkEthernet, decode.LinkRaw, decode.LinkSLL, decode.LinkPPP, decode.LinkNull, decode.LinkSLL2}

// FuzzAnalysis runs hostile frames through the whole packet path
// (decode, dispatch, every module, the store) and waits for each to be
// analysed, so a crash points at its input.
func FuzzAnalysis(f *testing.F) {
	g := trafficgen.New(trafficgen.Config{Seed: 12})
	for range 50 {
		b, _ := g.Next(nil)
		f.Add(uint8(0), b)
	}
	for _, name := range []string{"sip.pcap", "badpackets.pcap", "android.pcap"} {
		file, err := os.Open(filepath.Join("..", "..", "testdata", "pcaps", name))
		if err != nil {
			f.Fatal(err)
		}
		r, err := pcapfile.NewReader(file)
		if err != nil {
			f.Fatal(err)
		}
		var p decode.Packet
		for i := 0; i < 40; i++ {
			frame, link, err := r.Next(&p)
			if err != nil {
				break
			}
			for j, l := range fuzzLinks {
				if l == link {
					f.Add(uint8(j), append([]byte(nil), frame...))
				}
			}
		}
		file.Close()
	}
	e, err := New(steadyConfig(2), nil)
	if err != nil {
		f.Fatal(err)
	}
	seen := &counter{}
	e.Attach(seen)
	pl := newPipeline(e, e.Config(), e.Stats(), nil)
	pl.lossless = true
	wait := pl.start()
	defer wait()
	d := newDispatcher(pl, 0)
	defer d.Flush()
	var sent uint64
	ts := int64(1_700_000_000e9)
	f.Fuzz(func(t *testing.T, link uint8, frame []byte) {
		var p decode.Packet
		ts += 3e8 // seconds pass: deltas are merged and completed
		p.Timestamp = ts
		p.OrigLen = uint32(len(frame))
		p.Port = uint16(link >> 4)
		d.Handle(&p, fuzzLinks[int(link)%len(fuzzLinks)], frame)
		d.Flush()
		sent++
		waitFor(t, "the frame to be analysed", func() bool { return seen.n.Load() == sent })
	})
}
