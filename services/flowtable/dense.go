package flowtable

// Dense is an accumulator keyed like Table: entries are appended in
// insertion order, never removed one by one, and all dropped at once by
// Reset. It holds at most its capacity; Upsert reports when it is full so
// the owner can hand the entries on and start again.
type Dense[K Key, V any] struct {
	index []uint64
	mask  uint64
	keys  []K
	vals  []V
}

// NewDense returns an accumulator for at most capacity entries.
func NewDense[K Key, V any](capacity int) *Dense[K, V] {
	capacity = max(capacity, 1)
	index := make([]uint64, indexSize(capacity))
	return &Dense[K, V]{
		index: index,
		mask:  startMask(index),
		keys:  make([]K, 0, capacity),
		vals:  make([]V, 0, capacity),
	}
}

// Upsert returns the value of k, appending a zero value when k is new. It
// returns nil when k is new and the accumulator is full.
func (d *Dense[K, V]) Upsert(k K) (v *V, isNew bool) {
	return d.UpsertHash(&k, k.Hash())
}

// UpsertHash is Upsert of *k with its hash h at hand. Hot callers hash
// the key where they built it: Upsert's generic code calls Hash through
// the type's dictionary, on a copy of a key whose fields were just
// stored one by one (a store-forwarding stall).
func (d *Dense[K, V]) UpsertHash(k *K, h uint64) (v *V, isNew bool) {
	tag := uint32(h >> 32)
	pos := uint64(tag) & d.mask
	for ; ; pos = (pos + 1) & d.mask {
		b := d.index[pos]
		if b == 0 {
			break
		}
		if uint32(b>>32) == tag {
			if i := uint32(b) - 1; d.keys[i] == *k {
				return &d.vals[i], false
			}
		}
	}
	i := len(d.keys)
	if i == cap(d.keys) {
		return nil, true
	}
	d.index[pos] = bucketOf(tag, uint32(i))
	d.keys = append(d.keys, *k)
	var zero V
	d.vals = append(d.vals, zero)
	if needsGrowth(len(d.keys), d.mask, d.index) {
		d.mask = grow(d.index, d.mask)
	}
	return &d.vals[i], true
}

// Len is the number of entries.
func (d *Dense[K, V]) Len() int { return len(d.keys) }

// Cap is the most entries it holds.
func (d *Dense[K, V]) Cap() int { return cap(d.keys) }

// Full reports whether another new key would not fit.
func (d *Dense[K, V]) Full() bool { return len(d.keys) == cap(d.keys) }

// Key returns the i-th key in insertion order.
func (d *Dense[K, V]) Key(i int) *K { return &d.keys[i] }

// Val returns the i-th value in insertion order.
func (d *Dense[K, V]) Val(i int) *V { return &d.vals[i] }

// Reset drops every entry. The part of the index in use keeps its size:
// the next second most likely holds as many entries.
func (d *Dense[K, V]) Reset() {
	if uint64(len(d.keys)) < (d.mask+1)/32 {
		// Few entries: clear just their buckets. Clearing out of probe
		// order leaves holes, so search the whole run for each.
		for i := range d.keys {
			want := uint32(i + 1)
			pos := uint64(uint32(d.keys[i].Hash()>>32)) & d.mask
			for uint32(d.index[pos]) != want {
				pos = (pos + 1) & d.mask
			}
			d.index[pos] = 0
		}
	} else {
		clear(d.index[:d.mask+1])
	}
	d.keys = d.keys[:0]
	d.vals = d.vals[:0]
}
