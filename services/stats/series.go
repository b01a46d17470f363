package stats

import (
	"unsafe"

	"github.com/multimeter-fw/multimeter/services/flowtable"
)

// Key is an entity key: fixed size, hashable, and in one virtual link
// group.
type Key interface {
	flowtable.Key
	GroupID() uint16
}

// Series is one kind of entity (IPs, MACs, connections, ...): a bounded
// table of entities, each with attributes A, traffic counters since the
// start, first and last active second, and history. When it is full the
// entity inactive for longest is evicted.
type Series[K Key, A any] struct {
	st   *Store
	name string
	tab  *flowtable.Table[K, A]

	ent []entity // per slot, beside the table's key and attributes
	// bounds are upper bounds of all per block of slots (rank.go).
	bounds []bound

	groups map[uint16]int // entities per group
	sink   uint64         // keeps Prefetched's loads
	hist   history
	pend   pending
	owners *ownerIndex[K]
}

// entity is what a series keeps per slot besides key and attributes, in
// one place: merging a second touches all of it.
type entity struct {
	first, last int64 // seconds
	all         Counters
	gen         uint32 // which occupant of the slot (history records carry it)
	grp         uint16
}

// NewSeries adds a series of at most capacity entities to st.
func NewSeries[K Key, A any](st *Store, name string, capacity int) *Series[K, A] {
	capacity = max(capacity, 1)
	s := &Series[K, A]{
		st:     st,
		name:   name,
		tab:    flowtable.New[K, A](capacity),
		ent:    make([]entity, capacity),
		bounds: make([]bound, (capacity+1<<blockShift-1)>>blockShift),
		groups: map[uint16]int{},
		hist:   newHistory(st),
	}
	s.tab.OnEvict = s.evicted
	st.series = append(st.series, s)
	return s
}

// IndexOwners makes the series listable by owner (ListOwned): owners
// returns the hashes of up to two owners of a key (an IP pair belongs to
// both IPs), 0 for none. Call it before the first Add.
func (s *Series[K, A]) IndexOwners(owners func(k *K) (a, b uint64)) {
	s.owners = newOwnerIndex(s.tab, owners)
}

// Name is the series' name.
func (s *Series[K, A]) Name() string { return s.name }

// Add counts c for entity k in second sec (the second being merged),
// creating the entity if needed, and returns its attributes for the caller
// to update. The pointer is valid until the next Add. Called with the
// store's write lock held.
func (s *Series[K, A]) Add(sec int64, k K, c Counters) *A {
	return s.AddHash(sec, k, k.Hash(), c)
}

// AddHash is Add with k's hash at hand (as Prefetched has it).
func (s *Series[K, A]) AddHash(sec int64, k K, h uint64, c Counters) *A {
	s.st.maybeYield()
	used := s.tab.Slots()
	slot, isNew := s.tab.UpsertHash(k, h, clampSec(sec))
	e := &s.ent[slot]
	if isNew {
		g := k.GroupID()
		// A slot the table hands out for the first time has had no
		// occupant, and its memory was never touched: reading a
		// generation there would map the page read-only first and copy
		// it on the write just after, a second page fault with every
		// core's TLB flushed.
		gen := uint32(1)
		if int(slot) < used {
			gen = e.gen + 1
		}
		*e = entity{first: sec, last: sec, gen: gen, grp: g}
		s.groups[g]++
		if s.owners != nil {
			s.owners.link(slot)
		}
	}
	// Shards may be a few seconds apart: an entity's data can arrive out
	// of order within the open seconds.
	e.first = min(e.first, sec)
	e.last = max(e.last, sec)
	e.all.Add(c)
	s.raiseBound(slot)
	if !c.IsZero() {
		s.hist.add(sec, slot, e.gen, c)
	}
	return s.tab.Val(slot)
}

// prefetchRun is how many keys Prefetched looks up ahead.
const prefetchRun = 64

// Prefetched calls add(i, hash of key(i)) for i in [0, n), a run of keys at
// a time: it prefetches the entities of a whole run first, so that their
// cache misses overlap instead of coming one per add.
func Prefetched[K Key, A any](s *Series[K, A], n int, key func(i int) *K, add func(i int, h uint64)) {
	var h [prefetchRun]uint64
	for start := 0; start < n; start += prefetchRun {
		m := min(prefetchRun, n-start)
		for i := range m {
			h[i] = (*key(start + i)).Hash()
		}
		// The loads in a loop of their own, so that all of them are in
		// flight at once.
		sink := s.sink
		for i := range m {
			sink += s.tab.Prefetch(h[i])
		}
		s.sink = sink
		for i := range m {
			add(start+i, h[i])
		}
	}
}

// Attr returns the attributes of k without counting anything, or nil when
// k is not in the series. The pointer is valid until the next Add. Called
// with the write lock held (merging) or the read lock (reading).
func (s *Series[K, A]) Attr(k K) *A {
	slot, ok := s.tab.Find(k)
	if !ok {
		return nil
	}
	return s.tab.Val(slot)
}

func clampSec(sec int64) uint32 {
	if sec < 0 {
		return 0
	}
	if sec > 1<<32-1 {
		return 1<<32 - 1
	}
	return uint32(sec)
}

func (s *Series[K, A]) evicted(slot uint32, k *K, _ *A) {
	s.groups[s.ent[slot].grp]--
	if s.owners != nil {
		s.owners.unlink(slot)
	}
}

func (s *Series[K, A]) prepare(sec int64) { s.hist.prepare(sec, &s.pend) }
func (s *Series[K, A]) apply()            { s.hist.apply(&s.pend) }
func (s *Series[K, A]) recycle()          { s.hist.recycle(&s.pend) }
func (s *Series[K, A]) oldest() (int64, bool) {
	return s.hist.oldest()
}
func (s *Series[K, A]) dropOldest(t int64) { s.hist.dropOldest(t) }

func (s *Series[K, A]) reset() {
	s.tab.Clear()
	clear(s.groups)
	clear(s.bounds)
	if s.owners != nil {
		s.owners.clear()
	}
	s.hist.reset()
}

func (s *Series[K, A]) stats() TableStats {
	ts := s.tab.Stats()
	var k K
	var a A
	per := int64(unsafe.Sizeof(k)+unsafe.Sizeof(a)+unsafe.Sizeof(entity{})) + 16 + 16 // key, attr, entity, links, index
	if s.owners != nil {
		per += 16 + 2*32
	}
	return TableStats{
		Name: s.name, Entries: ts.Len, Capacity: ts.Cap, Inserts: ts.Inserts, Evictions: ts.Evictions,
		Records: s.hist.records(), Bytes: per * int64(ts.Cap),
	}
}

// ownerIndex threads the entities of each owner into a list through their
// slots (up to two owners, two lists per slot).
type ownerIndex[K Key] struct {
	tab    interface{ Key(uint32) *K }
	owners func(k *K) (a, b uint64)
	heads  *flowtable.Table[ownerKey, uint32]
	links  [][2]olink
}

type olink struct{ prev, next uint32 }

type ownerKey uint64

func (k ownerKey) Hash() uint64 { return flowtable.Hash64(uint64(k)) }

const noSlot = ^uint32(0)

func newOwnerIndex[K Key, A any](tab *flowtable.Table[K, A], owners func(k *K) (a, b uint64)) *ownerIndex[K] {
	return &ownerIndex[K]{
		tab:    tab,
		owners: owners,
		// Each entity has at most two owners and each owner at least one
		// entity: twice the capacity never evicts.
		heads: flowtable.New[ownerKey, uint32](2 * tab.Cap()),
		links: make([][2]olink, tab.Cap()),
	}
}

func (x *ownerIndex[K]) roles(slot uint32) [2]uint64 {
	a, b := x.owners(x.tab.Key(slot))
	if b == a {
		b = 0
	}
	return [2]uint64{a, b}
}

// role returns which of slot's lists belongs to owner o.
func (x *ownerIndex[K]) role(slot uint32, o uint64) int {
	if r := x.roles(slot); r[0] == o {
		return 0
	}
	return 1
}

func (x *ownerIndex[K]) link(slot uint32) {
	for r, o := range x.roles(slot) {
		if o == 0 {
			x.links[slot][r] = olink{noSlot, noSlot}
			continue
		}
		hs, isNew := x.heads.Upsert(ownerKey(o), 0)
		head := x.heads.Val(hs)
		if isNew {
			*head = noSlot
		}
		x.links[slot][r] = olink{prev: noSlot, next: *head}
		if *head != noSlot {
			x.links[*head][x.role(*head, o)].prev = slot
		}
		*head = slot
	}
}

func (x *ownerIndex[K]) unlink(slot uint32) {
	for r, o := range x.roles(slot) {
		if o == 0 {
			continue
		}
		l := x.links[slot][r]
		if l.prev != noSlot {
			x.links[l.prev][x.role(l.prev, o)].next = l.next
		} else if hs, ok := x.heads.Find(ownerKey(o)); ok {
			if l.next == noSlot {
				x.heads.Delete(hs)
			} else {
				*x.heads.Val(hs) = l.next
			}
		}
		if l.next != noSlot {
			x.links[l.next][x.role(l.next, o)].prev = l.prev
		}
	}
}

// each calls fn for every slot owned by o (and perhaps by another owner
// with the same hash: callers check the key).
func (x *ownerIndex[K]) each(o uint64, fn func(slot uint32)) {
	hs, ok := x.heads.Find(ownerKey(o))
	if !ok {
		return
	}
	for s := *x.heads.Val(hs); s != noSlot; {
		next := x.links[s][x.role(s, o)].next
		fn(s)
		s = next
	}
}

func (x *ownerIndex[K]) clear() {
	x.heads.Clear()
}
