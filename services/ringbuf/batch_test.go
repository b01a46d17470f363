package ringbuf

import (
	"testing"

	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/ringbuf/ringbuftest"
	"github.com/multimeter-fw/multimeter/services/ringbuf/segment"
	"github.com/multimeter-fw/multimeter/services/tap"
	"github.com/multimeter-fw/multimeter/tools/trafficgen"
)

// BenchmarkBatchAdd is a shard's work per packet without the disk: the
// packet block and index entry appended to a batch, and the chunk's
// checksum when the batch is sealed, for both mixes of make bench-ringbuf.
func BenchmarkBatchAdd(b *testing.B) {
	for _, mix := range []struct {
		name string
		cfg  trafficgen.Config
	}{
		{"default", trafficgen.Config{Seed: 9}},
		{"enterprise", trafficgen.Config{Seed: 9, BulkShare: trafficgen.EnterpriseBulkShare}},
	} {
		b.Run(mix.name, func(b *testing.B) {
			pkts := ringbuftest.Generate(mix.cfg, 4096)
			ps := make([]decode.Packet, len(pkts))
			var bytes int64
			for i := range pkts {
				ps[i].Timestamp, ps[i].OrigLen = pkts[i].Timestamp, pkts[i].OrigLen
				decode.Decode(&ps[i], decode.LinkEthernet, pkts[i].Frame)
				bytes += int64(len(pkts[i].Frame))
			}
			bt := &batch{buf: alignedAlloc(DefaultBatchBytes)[:0], limit: DefaultBatchBytes - segment.SyncReserve}
			bt.reset(0, 0)
			var m tap.Meta
			b.SetBytes(bytes / int64(len(pkts)))
			b.ReportAllocs()
			for i := 0; b.Loop(); i++ {
				k := i % len(pkts)
				frame := pkts[k].Frame
				if len(bt.buf)+segment.MaxEPBLen(len(frame)) > bt.limit {
					bt.buf = segment.AppendSync(bt.buf, 0, uint32(bt.packets))
					bt.reset(0, 0)
				}
				m.Seq = uint64(i)
				bt.add(&ps[k], frame, uint32(len(frame)), &m)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N), "ns/packet")
		})
	}
}
