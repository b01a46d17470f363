package ringbuf

import (
	"slices"
	"time"
	"unsafe"

	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/ringbuf/index"
	"github.com/multimeter-fw/multimeter/services/ringbuf/segment"
	"github.com/multimeter-fw/multimeter/services/tap"
)

// batch is one aligned write: packet blocks of one shard for one device,
// with their index entries (offsets relative to the batch).
type batch struct {
	buf     []byte // aligned; cap is the batch size
	limit   int    // packet blocks end before this, leaving room for the sync block
	entries []index.Entry
	shard   int
	dev     int
	packets int
	bytes   uint64 // captured bytes
	orig    uint64 // wire bytes
	maxPort int
	lastTs  int64
	started time.Time
	off     int64      // file offset, once placed in a segment
	done    chan error // the result of its write (buffered: 1)
}

func (bt *batch) reset(shard, dev int) {
	bt.buf = bt.buf[:0]
	bt.entries = bt.entries[:0]
	bt.shard, bt.dev = shard, dev
	bt.packets, bt.bytes, bt.orig, bt.maxPort, bt.lastTs = 0, 0, 0, 0, 0
	bt.started = time.Now()
}

// add appends one packet; the caller checked that it fits.
func (bt *batch) add(p *decode.Packet, data []byte, orig uint32, m *tap.Meta) {
	pos := len(bt.buf)
	rec := segment.Record{Iface: uint32(p.Port), Timestamp: p.Timestamp, OrigLen: orig, Data: data,
		Seq: m.Seq, App: uint16(m.App), Group: m.Group}
	bt.buf = segment.AppendEPB(bt.buf, &rec)
	if len(bt.entries) == cap(bt.entries) {
		bt.growEntries()
	}
	bt.entries = bt.entries[:len(bt.entries)+1] // SetPacket sets every field read
	e := &bt.entries[len(bt.entries)-1]
	e.SetPacket(p, m)
	e.Offset = uint64(pos)
	bt.packets++
	bt.bytes += uint64(len(data))
	bt.orig += uint64(orig)
	bt.maxPort = max(bt.maxPort, int(p.Port))
	bt.lastTs = p.Timestamp
}

// growEntries makes room for the entries of the rest of the batch, as
// many as its packets so far suggest: one or two allocations in a batch's
// lifetime rather than a dozen doublings, each copying and clearing what
// the last one did. A batch keeps its entries when it is reused.
func (bt *batch) growEntries() {
	n := len(bt.entries)
	want := 2*n + 64
	if n > 0 {
		want = max(want, n*bt.limit/len(bt.buf)*9/8+64)
	}
	bt.entries = slices.Grow(bt.entries, want-n)
}

// item is what a device writer receives: a batch to write, a flush
// request, or the order to stop.
type item struct {
	batch *batch
	flush chan error
	sync  bool // flush: fsync too
	stop  bool
}

func uintptrOf(b []byte) uintptr { return uintptr(unsafe.Pointer(unsafe.SliceData(b))) }
