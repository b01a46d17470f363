package extract

import (
	"testing"

	"github.com/multimeter-fw/multimeter/services/filter"
	"github.com/multimeter-fw/multimeter/services/l7proto"
	"github.com/multimeter-fw/multimeter/services/ringbuf/ringbuftest"
	"github.com/multimeter-fw/multimeter/tools/trafficgen"
)

// TestAnalysisFields extracts by the fields the analysis adds (L7
// protocol, virtual link group) and the monitor port: they travel in the
// segment with each packet and must select exactly what the filter
// selects on the input.
func TestAnalysisFields(t *testing.T) {
	pkts := ringbuftest.Generate(trafficgen.Config{Seed: 51}, 20000)
	apps := []l7proto.ID{l7proto.Unknown, l7proto.DNS, l7proto.TLS, l7proto.HTTP, l7proto.SIP}
	for i := range pkts {
		pkts[i].Meta.App = apps[i%len(apps)]
		pkts[i].Meta.Group = uint16(i % 3)
		pkts[i].Port = uint16(i % 4)
	}
	b := openBuffer(t, smallBuffer(t, 2))
	defer b.Close()
	ringbuftest.Replay(b, pkts, 2)
	b.WriteOut()
	for _, expr := range []string{
		"l7Protocol==DNS", "l7Protocol==TLS and group==2", "interface==3 and !(l7Protocol==Unknown)",
		"group!=0 and port==53", "interface>=2 or l7Protocol==SIP", "l7Protocol==DNS and ip==10.1.0.5",
	} {
		f := filter.MustParse(expr)
		var want []ringbuftest.Packet
		var dp decodePacket
		for _, pk := range pkts {
			m := pk.Meta
			if f.Match(dp.of(pk), &m) {
				want = append(want, pk)
			}
		}
		var got []ringbuftest.Packet
		_, err := Search(t.Context(), b.Snapshot(), Query{Filter: f}, func(p *Packet) error {
			in := pkts[p.Seq]
			if p.Iface != uint32(in.Port) {
				t.Errorf("%q: packet %d on interface %d; want %d", expr, p.Seq, p.Iface, in.Port)
			}
			got = append(got, ringbuftest.Packet{Frame: append([]byte(nil), p.Data...), Timestamp: p.Timestamp, OrigLen: p.OrigLen})
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if len(want) == 0 {
			t.Fatalf("%q selects nothing", expr)
		}
		samePackets(t, expr, want, got)
	}
}
