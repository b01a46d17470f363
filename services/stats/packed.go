package stats

import (
	"encoding/binary"
	"math/bits"
	"sort"
)

// A complete bucket keeps its records packed: sorted by (slot, gen), each
// record is the slot's increase over the record before, the generation
// and the four counters, all as unsigned varints. A connection's second
// then takes about 8 bytes instead of 40 (most counters fit one or two
// bytes), which is what lets a store hold half a million connections with
// a minute of per-second history in a GiB.
//
// Every markEvery-th record starts a block whose mark holds its slot,
// generation and offset, so finding one entity's record is a binary
// search over the marks and a short scan of one block. The marks follow
// the records in the same slice (one allocation per bucket).
const markEvery = 32

// markBytes is a mark's size: slot, generation, offset, little-endian.
const markBytes = 12

func uvarintLen(x uint64) int { return (bits.Len64(x|1) + 6) / 7 }

func recLen(r *rec, prevSlot uint32) int {
	return uvarintLen(uint64(r.slot-prevSlot)) + uvarintLen(uint64(r.gen)) +
		uvarintLen(r.c.RxPackets) + uvarintLen(r.c.RxBytes) + uvarintLen(r.c.TxPackets) + uvarintLen(r.c.TxBytes)
}

// pack makes b hold the sorted, coalesced records r (which it does not
// keep), in a slice from the store's pool.
func (p *pools) pack(st *Store, b *bucket, r []rec) {
	size, prev := 0, uint32(0)
	for i := range r {
		if i%markEvery == 0 {
			prev = r[i].slot
		}
		size += recLen(&r[i], prev)
		prev = r[i].slot
	}
	total := size + (len(r)+markEvery-1)/markEvery*markBytes
	data := p.data.get(st, total)[:total]
	off := 0
	put := func(x uint64) { off += binary.PutUvarint(data[off:], x) }
	for i := range r {
		x := &r[i]
		if i%markEvery == 0 {
			m := data[size+i/markEvery*markBytes:]
			binary.LittleEndian.PutUint32(m, x.slot)
			binary.LittleEndian.PutUint32(m[4:], x.gen)
			binary.LittleEndian.PutUint32(m[8:], uint32(off))
			prev = x.slot
		}
		put(uint64(x.slot - prev))
		put(uint64(x.gen))
		put(x.c.RxPackets)
		put(x.c.RxBytes)
		put(x.c.TxPackets)
		put(x.c.TxBytes)
		prev = x.slot
	}
	b.recs, b.n, b.data = nil, len(r), data
}

// cursor reads packed records in order.
type cursor struct {
	data []byte
	off  int
	slot uint32
}

func (c *cursor) uvarint() uint64 {
	if x := c.data[c.off]; x < 0x80 {
		c.off++
		return uint64(x)
	}
	x, n := binary.Uvarint(c.data[c.off:])
	c.off += n
	return x
}

func (c *cursor) next(r *rec) {
	c.slot += uint32(c.uvarint())
	r.slot = c.slot
	r.gen = uint32(c.uvarint())
	r.c.RxPackets = c.uvarint()
	r.c.RxBytes = c.uvarint()
	r.c.TxPackets = c.uvarint()
	r.c.TxBytes = c.uvarint()
}

// size is the number of records, packed or not.
func (b *bucket) size() int {
	if b.data != nil {
		return b.n
	}
	return len(b.recs)
}

func (b *bucket) marks() int { return (b.n + markEvery - 1) / markEvery }

// mark returns the slot and generation of block i's first record and the
// offset of the block.
func (b *bucket) mark(i int) (slot, gen uint32, off int) {
	m := b.data[len(b.data)-(b.marks()-i)*markBytes:]
	return binary.LittleEndian.Uint32(m), binary.LittleEndian.Uint32(m[4:]), int(binary.LittleEndian.Uint32(m[8:]))
}

// block returns a cursor at the start of block i.
func (b *bucket) block(i int) cursor {
	slot, _, off := b.mark(i)
	return cursor{data: b.data, off: off, slot: slot}
}

// find returns the counters of (slot, gen) in a complete bucket.
func (b *bucket) find(slot, gen uint32) (Counters, bool) {
	// The last block starting at or before (slot, gen).
	i := sort.Search(b.marks(), func(i int) bool {
		s, g, _ := b.mark(i)
		return s > slot || (s == slot && g > gen)
	}) - 1
	if i < 0 {
		return Counters{}, false
	}
	c := b.block(i)
	var r rec
	for range min(markEvery, b.n-i*markEvery) {
		c.next(&r)
		switch {
		case r.slot == slot && r.gen == gen:
			return r.c, true
		case r.slot > slot || (r.slot == slot && r.gen > gen):
			return Counters{}, false
		}
	}
	return Counters{}, false
}

// each calls fn with every record of a complete bucket, in order.
func (b *bucket) each(fn func(r *rec)) {
	var r rec
	for i := range b.marks() {
		c := b.block(i)
		for range min(markEvery, b.n-i*markEvery) {
			c.next(&r)
			fn(&r)
		}
	}
}

// unpack appends the records of a complete bucket to r.
func (b *bucket) unpack(r []rec) []rec {
	b.each(func(x *rec) { r = append(r, *x) })
	return r
}
