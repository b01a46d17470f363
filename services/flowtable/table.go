package flowtable

// Table maps keys to values in a fixed number of slots. Entries form a list
// ordered by the second they were last active; when every slot is taken,
// inserting evicts the entry at the old end of that list.
type Table[K Key, V any] struct {
	index []uint64
	mask  uint64
	keys  []K
	vals  []V
	links []link

	free       uint32 // head of the free slot list (linked through links.next)
	fresh      uint32 // slots [fresh:] were never used (so never touched)
	head, tail uint32 // most and least recently active slots
	n          int
	inserts    uint64
	evictions  uint64

	// OnEvict, when set, is called with an entry that is about to be
	// evicted to make room for another, so its owner can flush it. It must
	// not change the table.
	OnEvict func(slot uint32, k *K, v *V)
}

type link struct {
	prev, next uint32
	last       uint32 // second the entry was last active
	used       bool
}

// New returns a table holding at most capacity entries (at least 1). Its
// memory is allocated here, once; the operating system backs it only as
// slots are first used.
func New[K Key, V any](capacity int) *Table[K, V] {
	capacity = min(max(capacity, 1), 1<<31)
	index := make([]uint64, indexSize(capacity))
	return &Table[K, V]{
		index: index,
		mask:  startMask(index),
		keys:  make([]K, capacity),
		vals:  make([]V, capacity),
		links: make([]link, capacity),
		free:  none,
		head:  none,
		tail:  none,
	}
}

// Clear removes every entry; the counters keep counting.
func (t *Table[K, V]) Clear() {
	clear(t.index[:t.mask+1])
	t.mask = startMask(t.index)
	clear(t.keys[:t.fresh])
	clear(t.vals[:t.fresh])
	clear(t.links[:t.fresh])
	t.free, t.fresh, t.head, t.tail, t.n = none, 0, none, none, 0
}

// Stats returns the table's counters.
func (t *Table[K, V]) Stats() Stats {
	return Stats{Len: t.n, Cap: len(t.keys), Inserts: t.inserts, Evictions: t.evictions}
}

// Len is the number of entries in use.
func (t *Table[K, V]) Len() int { return t.n }

// Cap is the number of slots.
func (t *Table[K, V]) Cap() int { return len(t.keys) }

// Slots bounds the slots in use: every used slot is below it, so scans
// need not look further.
func (t *Table[K, V]) Slots() int { return int(t.fresh) }

// Key returns the key in slot, which must be in use.
func (t *Table[K, V]) Key(slot uint32) *K { return &t.keys[slot] }

// Val returns the value in slot.
func (t *Table[K, V]) Val(slot uint32) *V { return &t.vals[slot] }

// Used reports whether slot holds an entry.
func (t *Table[K, V]) Used(slot uint32) bool { return t.links[slot].used }

// LastActive is the second slot was last touched.
func (t *Table[K, V]) LastActive(slot uint32) uint32 { return t.links[slot].last }

// Find returns the slot of k.
func (t *Table[K, V]) Find(k K) (uint32, bool) {
	h := k.Hash()
	tag := uint32(h >> 32)
	for pos := uint64(tag) & t.mask; ; pos = (pos + 1) & t.mask {
		b := t.index[pos]
		if b == 0 {
			return 0, false
		}
		if uint32(b>>32) == tag {
			if s := uint32(b) - 1; t.keys[s] == k {
				return s, true
			}
		}
	}
}

// Upsert returns the slot of k, inserting it with a zero value when it is
// not there (isNew), and marks it active in second now. A full table first
// evicts its least recently active entry.
func (t *Table[K, V]) Upsert(k K, now uint32) (slot uint32, isNew bool) {
	return t.UpsertHash(k, k.Hash(), now)
}

// UpsertHash is Upsert with k's hash already at hand.
func (t *Table[K, V]) UpsertHash(k K, h uint64, now uint32) (slot uint32, isNew bool) {
	tag := uint32(h >> 32)
	pos := uint64(tag) & t.mask
	for ; ; pos = (pos + 1) & t.mask {
		b := t.index[pos]
		if b == 0 {
			break
		}
		if uint32(b>>32) == tag {
			if s := uint32(b) - 1; t.keys[s] == k {
				t.Touch(s, now)
				return s, false
			}
		}
	}
	if t.free == none && int(t.fresh) == len(t.keys) {
		t.evict()
		// Eviction may have shifted entries into the probe sequence.
		for pos = uint64(tag) & t.mask; t.index[pos] != 0; pos = (pos + 1) & t.mask {
		}
	}
	if t.free != none {
		slot = t.free
		t.free = t.links[slot].next
	} else {
		slot = t.fresh
		t.fresh++
	}
	t.index[pos] = bucketOf(tag, slot)
	t.keys[slot] = k
	var zero V
	t.vals[slot] = zero
	t.links[slot] = link{prev: none, next: t.head, last: now, used: true}
	t.linkHead(slot)
	t.n++
	t.inserts++
	if needsGrowth(t.n, t.mask, t.index) {
		t.mask = grow(t.index, t.mask)
	}
	return slot, true
}

// Prefetch loads the index bucket where a key with hash h starts its
// probe, and returns it for the caller to keep (a load whose result is
// unused may be left out). Loads for many keys in a loop of their own
// overlap, where a lookup per packet between other work waits for memory
// each time.
func (t *Table[K, V]) Prefetch(h uint64) uint64 {
	return t.index[uint64(uint32(h>>32))&t.mask]
}

// Touch marks slot active in second now, moving it to the recent end of
// the activity list (once per second at most, so per-packet calls are
// cheap).
func (t *Table[K, V]) Touch(slot uint32, now uint32) {
	l := &t.links[slot]
	if l.last == now {
		return
	}
	l.last = now
	if t.head == slot {
		return
	}
	t.unlink(slot)
	t.links[slot].prev, t.links[slot].next = none, t.head
	t.linkHead(slot)
}

// Oldest returns the least recently active slot.
func (t *Table[K, V]) Oldest() (uint32, bool) { return t.tail, t.tail != none }

// Newer returns the slot touched after slot in the activity order, walking
// from Oldest towards the most recent.
func (t *Table[K, V]) Newer(slot uint32) (uint32, bool) {
	p := t.links[slot].prev
	return p, p != none
}

// Delete removes the entry in slot (expiry; not counted as an eviction).
func (t *Table[K, V]) Delete(slot uint32) {
	if !t.links[slot].used {
		return
	}
	t.removeIndex(slot)
	t.unlink(slot)
	var zero V
	t.vals[slot] = zero
	var zk K
	t.keys[slot] = zk
	t.links[slot] = link{next: t.free}
	t.free = slot
	t.n--
}

func (t *Table[K, V]) evict() {
	slot := t.tail
	if t.OnEvict != nil {
		t.OnEvict(slot, &t.keys[slot], &t.vals[slot])
	}
	t.evictions++
	t.Delete(slot)
}

func (t *Table[K, V]) linkHead(slot uint32) {
	if t.head != none {
		t.links[t.head].prev = slot
	}
	t.head = slot
	if t.tail == none {
		t.tail = slot
	}
}

func (t *Table[K, V]) unlink(slot uint32) {
	l := t.links[slot]
	if l.prev != none {
		t.links[l.prev].next = l.next
	} else {
		t.head = l.next
	}
	if l.next != none {
		t.links[l.next].prev = l.prev
	} else {
		t.tail = l.prev
	}
}

// removeIndex deletes slot's bucket and shifts later buckets of the same
// probe run back, so lookups never need tombstones.
func (t *Table[K, V]) removeIndex(slot uint32) {
	tag := uint32(t.keys[slot].Hash() >> 32)
	i := uint64(tag) & t.mask
	for uint32(t.index[i]) != slot+1 {
		i = (i + 1) & t.mask
	}
	backShift(t.index, t.mask, i)
}

// backShift empties bucket i of a linear-probing index, moving later
// buckets of the run back where their home allows.
func backShift(index []uint64, mask, i uint64) {
	for j := (i + 1) & mask; ; j = (j + 1) & mask {
		b := index[j]
		if b == 0 {
			break
		}
		home := uint64(uint32(b>>32)) & mask
		// The entry at j may move to i if its home is not within (i, j].
		if (j-home)&mask >= (j-i)&mask {
			index[i] = b
			i = j
		}
	}
	index[i] = 0
}
