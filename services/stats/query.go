package stats

import (
	"cmp"
	"slices"
	"strings"
)

// Query selects the time of a request: the interval [Start, End) in Unix
// seconds (both 0: no interval, the interval figures are the last second;
// End 0: up to now), and the history datasets.
type Query struct {
	Start, End  int64
	Timespan    int64 // history step in seconds; 0: the finest available
	Values      int   // most history points; 0: DefaultValues
	SkipHistory bool
}

// DefaultValues is the most history points returned when Values is 0.
const DefaultValues = 600

// Figures are an entity's counters at the times a Query selects.
type Figures struct {
	AllTime           Counters
	LastSecond        Counters
	Interval          Counters // = LastSecond without an interval
	IntervalPerSecond Counters // = LastSecond without an interval
	FirstSeen         int64    // Unix seconds
	LastSeen          int64
	History           *History // nil with SkipHistory
}

// Swap returns f seen from the entity's other end.
func (f Figures) Swap() Figures {
	f.AllTime, f.LastSecond = f.AllTime.Swap(), f.LastSecond.Swap()
	f.Interval, f.IntervalPerSecond = f.Interval.Swap(), f.IntervalPerSecond.Swap()
	if f.History != nil {
		h := *f.History
		h.Points = make([]Counters, len(f.History.Points))
		for i, p := range f.History.Points {
			h.Points[i] = p.Swap()
		}
		f.History = &h
	}
	return f
}

// History is a dataset of counters per Step seconds starting at Start.
type History struct {
	Start  int64
	Step   int64
	Points []Counters
}

// Entity is one entity of a series with its figures.
type Entity[K Key, A any] struct {
	Key  K
	Attr A
	Figures
}

// span is a resolved query.
type span struct {
	now      int64
	from, to int64 // interval [from, to)
	selected bool
}

func (s *Store) resolve(q Query) span {
	sp := span{now: s.now, from: s.now, to: s.now + 1}
	if q.Start == 0 && q.End == 0 {
		return sp
	}
	sp.selected = true
	sp.from, sp.to = q.Start, q.End
	if sp.to == 0 || sp.to > s.now+1 {
		sp.to = s.now + 1
	}
	if sp.from > sp.to {
		sp.from = sp.to
	}
	return sp
}

// historyRange is where the datasets lie: the interval, or the recent
// window without one.
func (s *Store) historyRange(sp span) (int64, int64) {
	if sp.selected {
		return sp.from, sp.to
	}
	return sp.now - s.cfg.RecentSeconds + 1, sp.now + 1
}

// Get returns entity k with its figures.
func (s *Series[K, A]) Get(k K, q Query) (Entity[K, A], bool) {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	slot, ok := s.tab.Find(k)
	if !ok {
		return Entity[K, A]{}, false
	}
	return s.entity(slot, q, s.st.resolve(q)), true
}

// Len is the number of entities in group g.
func (s *Series[K, A]) Len(g uint16) int {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	return s.groups[g]
}

func (s *Series[K, A]) entity(slot uint32, q Query, sp span) Entity[K, A] {
	return Entity[K, A]{Key: *s.tab.Key(slot), Attr: *s.tab.Val(slot), Figures: s.figures(slot, q, sp)}
}

func (s *Series[K, A]) figures(slot uint32, q Query, sp span) Figures {
	f := Figures{AllTime: s.ent[slot].all, FirstSeen: s.ent[slot].first, LastSeen: s.ent[slot].last}
	gen := s.ent[slot].gen
	f.LastSecond = s.lastSecond(slot)
	if sp.selected {
		from, to := s.hist.cover(sp.from, sp.to)
		f.Interval = s.sum(slot, from, to)
		f.IntervalPerSecond = f.Interval.Div(max(to-from, 1))
	} else {
		f.Interval, f.IntervalPerSecond = f.LastSecond, f.LastSecond
	}
	if q.SkipHistory {
		return f
	}
	from, to := s.st.historyRange(sp)
	h := &History{Step: s.step(q, from, to)}
	h.Start = from - mod(from, h.Step)
	n := (to - h.Start + h.Step - 1) / h.Step
	h.Points = make([]Counters, n)
	first, last := f.FirstSeen, f.LastSeen
	s.hist.each(h.Start, to, func(b *bucket, step int64) {
		if b.t > last || b.t+step <= first || b.t > s.st.now {
			return
		}
		if c, ok := b.find(slot, gen); ok {
			h.Points[(b.t-h.Start)/h.Step].Add(c)
		}
	})
	f.History = h
	return f
}

// step picks the history resolution: what was asked, no finer than the
// stored data and coarse enough for the number of values.
func (s *Series[K, A]) step(q Query, from, to int64) int64 {
	step := max(q.Timespan, 1)
	values := int64(q.Values)
	if values <= 0 {
		values = DefaultValues
	}
	if n := (to - from + step - 1) / step; n > values {
		step = (to - from + values - 1) / values
	}
	if c := s.hist.coarsestStep(from, to); step%c != 0 {
		step = (step/c + 1) * c
	}
	return step
}

// lastSecond returns slot's counters in the last complete second.
func (s *Series[K, A]) lastSecond(slot uint32) Counters {
	l := &s.hist.levels[0]
	b := l.last(s.st.now)
	if b == nil || s.ent[slot].last < s.st.now {
		return Counters{}
	}
	c, _ := b.find(slot, s.ent[slot].gen)
	return c
}

// sum adds slot's counters of the buckets starting in [from, to).
func (s *Series[K, A]) sum(slot uint32, from, to int64) Counters {
	var sum Counters
	gen, first, last := s.ent[slot].gen, s.ent[slot].first, s.ent[slot].last
	s.hist.each(from, to, func(b *bucket, step int64) {
		if b.t > last || b.t+step <= first || b.t > s.st.now {
			return
		}
		if c, ok := b.find(slot, gen); ok {
			sum.Add(c)
		}
	})
	return sum
}

// SortKey orders a list.
type SortKey uint8

// Sort keys. Counter keys use the interval when one is selected, else all
// time; rate keys use the interval's per-second average, else the last
// second. Rates are in bytes (not bits) and packets per second.
const (
	SortNone SortKey = iota
	SortBytes
	SortRxBytes
	SortTxBytes
	SortPackets
	SortRxPackets
	SortTxPackets
	SortBps
	SortRxBps
	SortTxBps
	SortPps
	SortRxPps
	SortTxPps
	SortFirstSeen
	SortLastSeen
	sortKeys
)

var sortNames = [sortKeys]string{
	SortNone: "", SortBytes: "bytes", SortRxBytes: "rxbytes", SortTxBytes: "txbytes",
	SortPackets: "packets", SortRxPackets: "rxpackets", SortTxPackets: "txpackets",
	SortBps: "bps", SortRxBps: "rxbps", SortTxBps: "txbps", SortPps: "pps", SortRxPps: "rxpps",
	SortTxPps: "txpps", SortFirstSeen: "firstseen", SortLastSeen: "lastseen",
}

// ParseSort looks a sort key up by its REST name, ignoring case.
func ParseSort(name string) (SortKey, bool) {
	for k, n := range sortNames {
		if strings.EqualFold(n, name) {
			return SortKey(k), true
		}
	}
	return SortNone, false
}

// SortNames lists the sort key names.
func SortNames() []string { return append([]string(nil), sortNames[1:]...) }

func (k SortKey) String() string {
	if k < sortKeys {
		return sortNames[k]
	}
	return "?"
}

func (k SortKey) isRate() bool { return k >= SortBps && k <= SortTxPps }

// directional reports whether the key reads rx or tx alone.
func (k SortKey) directional() bool {
	switch k {
	case SortRxBytes, SortTxBytes, SortRxPackets, SortTxPackets, SortRxBps, SortTxBps, SortRxPps, SortTxPps:
		return true
	}
	return false
}

func (k SortKey) isTime() bool { return k == SortFirstSeen || k == SortLastSeen }

// fromHistory reports whether the figure k sorts by is summed from
// history over sp (rates, and counters over a selected interval).
func (k SortKey) fromHistory(sp span) bool {
	return k != SortNone && !k.isTime() && (k.isRate() || sp.selected)
}

// metric extracts the sorted figure from counters.
func (k SortKey) metric(c Counters) uint64 {
	switch k {
	case SortBytes, SortBps:
		return c.Bytes()
	case SortRxBytes, SortRxBps:
		return c.RxBytes
	case SortTxBytes, SortTxBps:
		return c.TxBytes
	case SortPackets, SortPps:
		return c.Packets()
	case SortRxPackets, SortRxPps:
		return c.RxPackets
	case SortTxPackets, SortTxPps:
		return c.TxPackets
	}
	return 0
}

// ListQuery selects, orders and pages a list of entities of one group.
type ListQuery struct {
	Query
	Group   uint16
	Sort    SortKey
	Reverse bool // descending
	Page    int  // from 0
	Count   int  // items per page; 0: all
}

// Filter selects entities of a list; nil selects all.
type Filter[K Key, A any] func(k *K, a *A) bool

// List returns one page of the group's entities in the requested order and
// how many entities the whole list has. Ties are broken by table order,
// which is stable while the entities stay.
func (s *Series[K, A]) List(lq ListQuery, filter Filter[K, A]) ([]Entity[K, A], int) {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	sp := s.st.resolve(lq.Query)
	top := newTopK(lq)
	// A page of the largest of all entities looks only at the entities
	// that can be on it (rank.go); other lists look at every entity.
	largest := lq.Reverse && filter == nil && top.keep > 0
	var value func(slot uint32) uint64
	if lq.Sort.fromHistory(sp) {
		m := s.merge(lq.Sort, sp)
		if largest {
			s.topActive(m, top, lq.Group)
			return s.page(top, lq, sp), s.groups[lq.Group]
		}
		value = m.at
	} else {
		if _, ok := lq.Sort.boundOf(&bound{}); ok && largest {
			s.topAllTime(lq.Sort, top, lq.Group)
			return s.page(top, lq, sp), s.groups[lq.Group]
		}
		value = s.newValuer(lq.Sort, sp).value
	}
	total := 0
	for slot := range uint32(s.tab.Slots()) {
		if !s.tab.Used(slot) || s.ent[slot].grp != lq.Group {
			continue
		}
		if filter != nil && !filter(s.tab.Key(slot), s.tab.Val(slot)) {
			continue
		}
		total++
		top.offer(value(slot), slot)
	}
	return s.page(top, lq, sp), total
}

// ListOwned is List over the entities of one owner (see IndexOwners). The
// filter must check that the key really belongs to the owner, as owner
// hashes may collide. swap, when set, says which entities the owner sees
// from the other end (rx and tx exchanged), for sorting and figures.
func (s *Series[K, A]) ListOwned(owner uint64, lq ListQuery, filter Filter[K, A], swap func(k *K) bool) ([]Entity[K, A], int) {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	if s.owners == nil {
		return nil, 0
	}
	sp := s.st.resolve(lq.Query)
	var slots []uint32
	s.owners.each(owner, func(slot uint32) {
		if s.ent[slot].grp == lq.Group && (filter == nil || filter(s.tab.Key(slot), s.tab.Val(slot))) {
			slots = append(slots, slot)
		}
	})
	value := s.ownedValue(lq.Sort, sp, slots, swap)
	top := newTopK(lq)
	for _, slot := range slots {
		top.offer(value(slot), slot)
	}
	items := s.page(top, lq, sp)
	if swap != nil {
		for i := range items {
			if swap(&items[i].Key) {
				items[i].Figures = items[i].Figures.Swap()
			}
		}
	}
	return items, len(slots)
}

// ownedValue gives the sort values of an owner's entities, seen from the
// owner. It may sort slots: the values must be asked in that order.
func (s *Series[K, A]) ownedValue(key SortKey, sp span, slots []uint32, swap func(k *K) bool) func(slot uint32) uint64 {
	v := s.newValuer(key, sp)
	if swap != nil && key.directional() {
		v.swap = swap
	}
	if !key.fromHistory(sp) {
		return v.value
	}
	// Looking entities up one by one costs a binary search per bucket;
	// merging costs one pass over every record of the range, and cannot
	// exchange rx and tx for some entities only.
	v.perSlot = true
	buckets, recs := 0, 0
	s.hist.each(v.from, v.to, func(b *bucket, _ int64) {
		buckets++
		recs += b.size()
	})
	if v.swap != nil || len(slots)*buckets*8 < recs {
		return v.value
	}
	slices.Sort(slots)
	return s.merge(key, sp).at
}

// EachOwned calls fn for every entity of owner in group g with its
// figures (no history), under one read lock.
func (s *Series[K, A]) EachOwned(owner uint64, g uint16, q Query, fn func(e *Entity[K, A])) {
	s.st.mu.RLock()
	defer s.st.mu.RUnlock()
	if s.owners == nil {
		return
	}
	sp := s.st.resolve(q)
	q.SkipHistory = true
	s.owners.each(owner, func(slot uint32) {
		if s.ent[slot].grp == g {
			e := s.entity(slot, q, sp)
			fn(&e)
		}
	})
}

func (s *Series[K, A]) page(top *topK, lq ListQuery, sp span) []Entity[K, A] {
	slots := top.sorted()
	first := min(lq.Page*lq.Count, len(slots))
	if lq.Count <= 0 {
		first = 0
	}
	slots = slots[first:]
	out := make([]Entity[K, A], len(slots))
	for i, c := range slots {
		out[i] = s.entity(c.slot, lq.Query, sp)
	}
	return out
}

// valuer gives each slot's sort value from the entity itself: all-time
// counters and first or last seen, or, perSlot, the sum of its history
// records in the range (a binary search per bucket).
type valuer[K Key, A any] struct {
	s        *Series[K, A]
	key      SortKey
	from, to int64 // the range of a perSlot sum (rangeFor)
	perSlot  bool
	// swap, when set, says which entities are seen from their other end.
	swap func(k *K) bool
}

func (s *Series[K, A]) newValuer(key SortKey, sp span) *valuer[K, A] {
	v := &valuer[K, A]{s: s, key: key}
	v.from, v.to = s.rangeFor(key, sp)
	return v
}

// rangeFor is the range a key's figure is summed over: the interval (as
// Get covers it), or the last second for a rate without one.
func (s *Series[K, A]) rangeFor(key SortKey, sp span) (int64, int64) {
	if key.isRate() && !sp.selected {
		return sp.now, sp.now + 1
	}
	return s.hist.cover(sp.from, sp.to)
}

func (v *valuer[K, A]) value(slot uint32) uint64 {
	s := v.s
	switch v.key {
	case SortNone:
		return 0
	case SortFirstSeen:
		return uint64(s.ent[slot].first)
	case SortLastSeen:
		return uint64(s.ent[slot].last)
	}
	c := s.ent[slot].all
	if v.perSlot {
		c = s.sum(slot, v.from, v.to)
	}
	if v.swap != nil && v.swap(s.tab.Key(slot)) {
		c = c.Swap()
	}
	return v.key.metric(c)
}

// topK keeps the best (page+1)*count candidates seen.
type topK struct {
	keep    int // -1: all
	reverse bool
	h       []cand
}

type cand struct {
	v    uint64
	slot uint32
}

func newTopK(lq ListQuery) *topK {
	t := &topK{keep: -1, reverse: lq.Reverse}
	if lq.Count > 0 {
		t.keep = (lq.Page + 1) * lq.Count
	}
	return t
}

// less orders candidates as the list wants them.
func (t *topK) less(a, b cand) int {
	c := cmp.Compare(a.v, b.v)
	if t.reverse {
		c = -c
	}
	return cmp.Or(c, cmp.Compare(a.slot, b.slot))
}

// admits reports whether offering (v, slot) would keep it, so a caller
// can skip looking further at entities that cannot be on the page.
func (t *topK) admits(v uint64, slot uint32) bool {
	switch {
	case t.keep < 0 || len(t.h) < t.keep:
		return true
	case t.keep == 0:
		return false
	}
	// less against the worst kept, written out: this runs for every
	// candidate of a large table.
	w := t.h[0]
	if v != w.v {
		return (v > w.v) == t.reverse
	}
	return slot < w.slot
}

func (t *topK) offer(v uint64, slot uint32) {
	c := cand{v, slot}
	if t.keep < 0 || len(t.h) < t.keep {
		t.h = append(t.h, c)
		if t.keep >= 0 {
			t.up(len(t.h) - 1)
		}
		return
	}
	if t.keep > 0 && t.less(c, t.h[0]) < 0 {
		t.h[0] = c
		t.down(0)
	}
}

// The heap's root is the worst kept candidate.
func (t *topK) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if t.less(t.h[i], t.h[p]) <= 0 {
			return
		}
		t.h[i], t.h[p] = t.h[p], t.h[i]
		i = p
	}
}

func (t *topK) down(i int) {
	for {
		w, l, r := i, 2*i+1, 2*i+2
		if l < len(t.h) && t.less(t.h[l], t.h[w]) > 0 {
			w = l
		}
		if r < len(t.h) && t.less(t.h[r], t.h[w]) > 0 {
			w = r
		}
		if w == i {
			return
		}
		t.h[i], t.h[w] = t.h[w], t.h[i]
		i = w
	}
}

func (t *topK) sorted() []cand {
	slices.SortFunc(t.h, t.less)
	return t.h
}
