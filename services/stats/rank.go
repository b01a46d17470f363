package stats

import (
	"cmp"
	"slices"
)

// This file holds the two ways List ranks a large table without a
// scattered memory access per entity: a merge of the history buckets of
// the range, a window of slots at a time, for figures taken from history,
// and per-block bounds of the all-time counters for descending lists by
// an all-time counter.

// merged walks the records of the complete buckets of a range in slot
// order and gives each slot's total of one metric for its current
// occupant. Each bucket is sorted by (slot, gen), so the records of a
// window of slots are a stretch at the front of every bucket: they are
// added into a small array that stays in the cache, which is read out in
// slot order. Every record is read once, in memory order, and no scratch
// the size of the table is needed.
type merged[K Key, A any] struct {
	s    *Series[K, A]
	key  SortKey
	runs []run    // per bucket, the records not read yet
	win  []uint64 // totals of the slots [base, base+len(win))
	base uint32
	i    int // next index of win to read

	// The current slot with a non-zero total (ok false: none left).
	slot uint32
	val  uint64
	ok   bool
}

// mergeWindow is the number of slots merged at a time (32 KiB of totals).
const mergeWindow = 1 << 12

// merge starts a walk over the buckets from which key's figure comes.
func (s *Series[K, A]) merge(key SortKey, sp span) *merged[K, A] {
	m := &merged[K, A]{s: s, key: key, win: make([]uint64, mergeWindow)}
	m.i = len(m.win)
	from, to := s.rangeFor(key, sp)
	s.hist.each(from, to, func(b *bucket, _ int64) {
		if b.t <= s.st.now && b.size() > 0 {
			m.runs = append(m.runs, newRun(b))
		}
	})
	m.next()
	return m
}

// next moves to the next slot whose current occupant has a non-zero
// total.
func (m *merged[K, A]) next() {
	for {
		for ; m.i < len(m.win); m.i++ {
			if v := m.win[m.i]; v != 0 {
				m.win[m.i] = 0
				m.slot, m.val, m.ok = m.base+uint32(m.i), v, true
				m.i++
				return
			}
		}
		// The window is read out: start the next one at the smallest slot
		// left.
		lo, left := ^uint32(0), false
		for i := range m.runs {
			if r, ok := m.runs[i].peek(); ok && r.slot < lo {
				lo, left = r.slot, true
			}
		}
		if !left {
			m.ok = false
			return
		}
		m.add(lo)
	}
}

// add adds up the records of the window of slots starting at base.
func (m *merged[K, A]) add(base uint32) {
	m.base, m.i = base, 0
	end := uint64(base) + uint64(len(m.win))
	ent, w := m.s.ent, m.win
	// The metric as weights of the counters: no branch per record.
	var k [4]uint64
	for i, c := range []Counters{{RxPackets: 1}, {RxBytes: 1}, {TxPackets: 1}, {TxBytes: 1}} {
		k[i] = m.key.metric(c)
	}
	for i := range m.runs {
		run := &m.runs[i]
		for r, ok := run.peek(); ok && uint64(r.slot) < end; r, ok = run.peek() {
			if r.gen == ent[r.slot].gen {
				w[r.slot-base] += r.c.RxPackets*k[0] + r.c.RxBytes*k[1] + r.c.TxPackets*k[2] + r.c.TxBytes*k[3]
			}
			run.advance()
		}
	}
}

// run reads one bucket's records in order, packed (complete buckets) or
// not (the open seconds).
type run struct {
	b    *bucket
	recs []rec // unpacked: the records not read yet
	cur  cursor
	i    int // packed: index of r
	r    rec // packed: the next record, valid while i < b.n
}

func newRun(b *bucket) run {
	r := run{b: b, recs: b.recs}
	if b.data != nil && b.n > 0 {
		r.load()
	}
	return r
}

// load decodes record i; a block starts from its mark (slots are
// delta-coded within a block).
func (r *run) load() {
	if r.i%markEvery == 0 {
		r.cur = r.b.block(r.i / markEvery)
	}
	r.cur.next(&r.r)
}

// peek returns the next record, if any.
func (r *run) peek() (*rec, bool) {
	if r.b.data == nil {
		if len(r.recs) == 0 {
			return nil, false
		}
		return &r.recs[0], true
	}
	return &r.r, r.i < r.b.n
}

func (r *run) advance() {
	if r.b.data == nil {
		r.recs = r.recs[1:]
		return
	}
	if r.i++; r.i < r.b.n {
		r.load()
	}
}

// at returns slot's total; calls must come in increasing slot order.
func (m *merged[K, A]) at(slot uint32) uint64 {
	for m.ok && m.slot < slot {
		m.next()
	}
	if m.ok && m.slot == slot {
		return m.val
	}
	return 0
}

// topActive ranks the entities active in the merged range (only they can
// have a non-zero figure) and, when they do not fill the page, adds idle
// entities in table order.
func (s *Series[K, A]) topActive(m *merged[K, A], top *topK, g uint16) {
	ranked := 0
	for ; m.ok; m.next() {
		if top.admits(m.val, m.slot) && s.tab.Used(m.slot) && s.ent[m.slot].grp == g {
			top.offer(m.val, m.slot)
			ranked++
		}
	}
	if ranked >= top.keep {
		return
	}
	// Nothing was pushed out of the page: the active entities are all in
	// it.
	active := make([]uint32, len(top.h))
	for i, c := range top.h {
		active[i] = c.slot
	}
	slices.Sort(active)
	for slot := uint32(0); ranked < top.keep && int(slot) < s.tab.Slots(); slot++ {
		if _, found := slices.BinarySearch(active, slot); !found && s.tab.Used(slot) && s.ent[slot].grp == g {
			top.offer(0, slot)
			ranked++
		}
	}
}

// blockShift sets the size of the blocks of slots the all-time bounds
// cover: 256 slots, so a table of a million entities has 4096 bounds.
const blockShift = 8

// bound is the largest all-time byte and packet count any entity of a
// block of slots has had. Counters only grow while an entity stays, so
// raising the bound at every Add keeps it an upper bound; an evicted
// entity may leave it too high, which only costs a wasted look.
type bound struct{ bytes, packets uint64 }

func (s *Series[K, A]) raiseBound(slot uint32) {
	c, b := &s.ent[slot].all, &s.bounds[slot>>blockShift]
	b.bytes = max(b.bytes, c.Bytes())
	b.packets = max(b.packets, c.Packets())
}

// boundOf is the block bound of a counter key (rx and tx are bounded by
// their sum); ok is false for keys that are not all-time counters.
func (k SortKey) boundOf(b *bound) (uint64, bool) {
	switch k {
	case SortBytes, SortRxBytes, SortTxBytes:
		return b.bytes, true
	case SortPackets, SortRxPackets, SortTxPackets:
		return b.packets, true
	}
	return 0, false
}

// topAllTime ranks group g by an all-time counter, largest first: it
// looks at the blocks in descending order of their bound and stops at the
// first block that cannot beat the page's last entry.
func (s *Series[K, A]) topAllTime(key SortKey, top *topK, g uint16) {
	n := (s.tab.Slots() + 1<<blockShift - 1) >> blockShift
	blocks := make([]uint32, n)
	for i := range blocks {
		blocks[i] = uint32(i)
	}
	boundOf := func(i uint32) uint64 {
		v, _ := key.boundOf(&s.bounds[i])
		return v
	}
	slices.SortFunc(blocks, func(a, b uint32) int { return cmp.Or(cmp.Compare(boundOf(b), boundOf(a)), cmp.Compare(a, b)) })
	for _, b := range blocks {
		if len(top.h) == top.keep && boundOf(b) < top.h[0].v {
			return
		}
		end := min(int(b+1)<<blockShift, s.tab.Slots())
		for slot := b << blockShift; int(slot) < end; slot++ {
			if v := key.metric(s.ent[slot].all); top.admits(v, slot) && s.tab.Used(slot) && s.ent[slot].grp == g {
				top.offer(v, slot)
			}
		}
	}
}
