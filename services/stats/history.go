package stats

import (
	"slices"
	"sort"
)

// rec is one entity's counters over one history step. gen tells apart the
// entities that used the same slot one after another.
type rec struct {
	slot, gen uint32
	c         Counters
}

func recOrder(a, b rec) int {
	switch {
	case a.slot != b.slot:
		if a.slot < b.slot {
			return -1
		}
		return 1
	case a.gen != b.gen:
		if a.gen < b.gen {
			return -1
		}
		return 1
	}
	return 0
}

// bucket holds the records of one history step starting at t: while the
// step is open, as added (recs); once complete, packed (see packed.go).
type bucket struct {
	t    int64
	recs []rec
	n    int    // complete: records
	data []byte // complete: records packed, then their marks
}

// level is a time-ordered queue of buckets of one step size.
type level struct {
	step    int64
	keep    int64 // seconds
	buckets []bucket
	head    int // buckets[head:] are live
}

func (l *level) live() []bucket { return l.buckets[l.head:] }

// last returns the newest bucket if it starts at t.
func (l *level) last(t int64) *bucket {
	if n := len(l.buckets); n > l.head && l.buckets[n-1].t == t {
		return &l.buckets[n-1]
	}
	return nil
}

func (l *level) push(b bucket) {
	if l.head > 0 && len(l.buckets) == cap(l.buckets) {
		// Compact instead of growing: the queue's length is bounded by
		// keep/step, so this reuses the same backing array forever.
		n := copy(l.buckets, l.buckets[l.head:])
		clear(l.buckets[n:])
		l.buckets = l.buckets[:n]
		l.head = 0
	}
	l.buckets = append(l.buckets, b)
}

func (l *level) popFront() bucket {
	b := l.buckets[l.head]
	l.buckets[l.head] = bucket{}
	l.head++
	if l.head == len(l.buckets) {
		l.buckets, l.head = l.buckets[:0], 0
	}
	return b
}

// history is the time-major record store of one series: level 0 holds one
// bucket per second with data, each further level coarser steps.
type history struct {
	st     *Store
	levels []level
	// open holds the seconds being merged, oldest first: shards may be a
	// few seconds apart, and each second completes when all are done.
	open []bucket
}

func newHistory(st *Store) history {
	cfg := st.cfg
	h := history{st: st}
	h.levels = append(h.levels, level{step: 1, keep: cfg.RecentSeconds})
	for _, l := range cfg.Levels {
		h.levels = append(h.levels, level{step: l.StepSeconds, keep: l.KeepSeconds})
	}
	return h
}

// add records counters for (slot, gen) in second sec (an open second).
func (h *history) add(sec int64, slot, gen uint32, c Counters) {
	b := h.openBucket(sec)
	if len(b.recs) == cap(b.recs) {
		b.recs = h.st.pool.recs.grow(h.st, b.recs)
	}
	// Filled in place: a record built apart and copied in would be
	// loaded back wide right after its narrow stores, and wait for them.
	b.recs = b.recs[:len(b.recs)+1]
	r := &b.recs[len(b.recs)-1]
	r.slot, r.gen, r.c = slot, gen, c
}

// openBucket returns the open bucket of sec, opening it if needed.
func (h *history) openBucket(sec int64) *bucket {
	i := len(h.open)
	for i > 0 && h.open[i-1].t >= sec {
		if h.open[i-1].t == sec {
			return &h.open[i-1]
		}
		i--
	}
	h.open = slices.Insert(h.open, i, bucket{t: sec})
	return &h.open[i]
}

// pending is the work of completing a second: prepared by the writer
// without the store's lock (sorting and merging records is the expensive
// part), then applied under it in a few pointer moves.
type pending struct {
	closed int      // open buckets completed (the first ones)
	ready  []bucket // their records packed, for level 0
	folds  []fold
	spent  []bucket // buckets whose slices to recycle once applied
}

// fold moves the first n buckets of a level into one bucket of the next
// (or drops them from the last level).
type fold struct {
	level int
	n     int
	out   bucket
	drop  bool
}

// prepare computes what completing the open seconds up to sec (the new
// now) does to this history. Only the merge goroutine changes a history,
// and readers never look at open buckets, so this runs without the lock.
func (h *history) prepare(sec int64, p *pending) {
	p.closed, p.ready, p.folds, p.spent = 0, p.ready[:0], p.folds[:0], p.spent[:0]
	pool := &h.st.pool
	for p.closed < len(h.open) && h.open[p.closed].t <= sec {
		b := h.open[p.closed]
		p.closed++
		p.spent = append(p.spent, bucket{recs: b.recs})
		if len(b.recs) == 0 {
			continue
		}
		pool.pack(h.st, &b, coalesce(h.sortRecs(b.recs)))
		p.ready = append(p.ready, b)
	}
	// Age each level as it will be: a level's buckets older than its keep
	// fold into the next level once their whole coarser step has aged.
	for i := range h.levels {
		live := h.levels[i].live()
		var extra []bucket
		if i == 0 {
			extra = p.ready // level 0 will also hold the seconds just closed
		}
		size := len(live) + len(extra)
		at := func(j int) *bucket {
			if j < len(live) {
				return &live[j]
			}
			return &extra[j-len(live)]
		}
		cut := sec - h.levels[i].keep
		if i+1 == len(h.levels) {
			n := 0
			for n < size && at(n).t <= cut {
				p.spent = append(p.spent, *at(n))
				n++
			}
			if n > 0 {
				p.folds = append(p.folds, fold{level: i, n: n, drop: true})
			}
			continue
		}
		step := h.levels[i+1].step
		for n := 0; n < size && at(n).t <= cut; {
			w := at(n).t - mod(at(n).t, step)
			if w+step-1 > cut {
				break // the window is not all aged yet
			}
			k, total := n, 0
			for k < size && at(k).t < w+step {
				total += at(k).n
				k++
			}
			recs := pool.recs.get(h.st, total)
			for j := n; j < k; j++ {
				recs = at(j).unpack(recs)
				p.spent = append(p.spent, *at(j))
			}
			out := bucket{t: w}
			pool.pack(h.st, &out, coalesce(h.sortRecs(recs)))
			pool.recs.put(h.st, recs)
			p.folds = append(p.folds, fold{level: i, n: k - n, out: out})
			n = k
		}
	}
}

// apply makes prepared work visible. Called with the write lock held.
func (h *history) apply(p *pending) {
	h.open = slices.Delete(h.open, 0, p.closed)
	for _, b := range p.ready {
		h.levels[0].push(b)
	}
	for _, f := range p.folds {
		l := &h.levels[f.level]
		for range f.n {
			l.popFront()
		}
		if !f.drop {
			h.levels[f.level+1].push(f.out)
		}
	}
}

// recycle returns the record slices the applied work no longer uses.
func (h *history) recycle(p *pending) {
	for i := range p.spent {
		h.st.pool.putBucket(h.st, &p.spent[i])
	}
	p.spent = p.spent[:0]
}

// coalesce merges adjacent records of the same (slot, gen) of a sorted
// list, in place.
func coalesce(r []rec) []rec {
	if len(r) == 0 {
		return r
	}
	out := r[:1]
	for _, x := range r[1:] {
		if last := &out[len(out)-1]; last.slot == x.slot && last.gen == x.gen {
			last.c.Add(x.c)
		} else {
			out = append(out, x)
		}
	}
	return out
}

// sortRecs orders records by (slot, gen). Large buckets are radix sorted
// on the slot: stable, so one slot's records stay in the order they were
// added, which is gen order (an entity taking over a slot is always newer).
func (h *history) sortRecs(r []rec) []rec {
	if len(r) < 512 {
		slices.SortStableFunc(r, recOrder)
		return r
	}
	tmp := h.st.pool.recs.get(h.st, len(r))[:len(r)]
	count := &h.st.radix
	src, dst := r, tmp
	for shift := uint(0); shift < 32; shift += 16 {
		clear(count[:])
		for i := range src {
			count[uint16(src[i].slot>>shift)]++
		}
		pos := int32(0)
		for i, c := range count {
			count[i] = pos
			pos += c
		}
		for i := range src {
			k := uint16(src[i].slot >> shift)
			dst[count[k]] = src[i]
			count[k]++
		}
		src, dst = dst, src
	}
	// Two passes: the sorted records are back in r.
	h.st.pool.recs.put(h.st, tmp)
	return r
}

// oldest is the start of the oldest bucket.
func (h *history) oldest() (int64, bool) {
	for i := len(h.levels) - 1; i >= 0; i-- {
		if live := h.levels[i].live(); len(live) > 0 {
			return live[0].t, true
		}
	}
	return 0, false
}

// dropOldest drops every bucket starting at or before t.
func (h *history) dropOldest(t int64) {
	for i := len(h.levels) - 1; i >= 0; i-- {
		l := &h.levels[i]
		for len(l.live()) > 0 && l.live()[0].t <= t {
			b := l.popFront()
			h.st.pool.putBucket(h.st, &b)
		}
	}
}

func (h *history) reset() {
	for i := range h.levels {
		l := &h.levels[i]
		for len(l.live()) > 0 {
			b := l.popFront()
			h.st.pool.putBucket(h.st, &b)
		}
	}
	for i := range h.open {
		h.st.pool.putBucket(h.st, &h.open[i])
	}
	h.open = h.open[:0]
}

func (h *history) records() int {
	n := 0
	for _, b := range h.open {
		n += len(b.recs)
	}
	for i := range h.levels {
		for _, b := range h.levels[i].live() {
			n += b.n
		}
	}
	return n
}

// each calls fn for every complete bucket whose start lies in [from, to),
// finest level first. Each second's data is in exactly one bucket.
func (h *history) each(from, to int64, fn func(b *bucket, step int64)) {
	for i := range h.levels {
		l := &h.levels[i]
		live := l.live()
		// Buckets are in time order: find the first one starting at from.
		k := sort.Search(len(live), func(k int) bool { return live[k].t >= from })
		for ; k < len(live) && live[k].t < to; k++ {
			fn(&live[k], l.step)
		}
	}
}

// cover rounds [from, to) out to whole buckets of the levels that hold
// its ends: an interval reaching into coarser history covers each of its
// buckets in full, as its datasets do, rather than some in part.
func (h *history) cover(from, to int64) (int64, int64) {
	if to <= from {
		return from, to
	}
	sf, st := h.stepAt(from), h.stepAt(to-1)
	return from - mod(from, sf), to - 1 - mod(to-1, st) + st
}

// stepAt is the step of the level holding second t: the finest level
// whose oldest bucket starts at or before t (coarser levels hold older
// data).
func (h *history) stepAt(t int64) int64 {
	for i := range h.levels {
		if live := h.levels[i].live(); len(live) > 0 && live[0].t <= t {
			return h.levels[i].step
		}
	}
	return 1
}

// coarsestStep is the largest step of the buckets in [from, to).
func (h *history) coarsestStep(from, to int64) int64 {
	step := int64(1)
	for i := range h.levels {
		live := h.levels[i].live()
		if len(live) == 0 {
			continue
		}
		if live[0].t < to && live[len(live)-1].t >= from-h.levels[i].step {
			step = h.levels[i].step
		}
	}
	return step
}

func mod(a, b int64) int64 {
	m := a % b
	if m < 0 {
		m += b
	}
	return m
}
