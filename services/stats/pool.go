package stats

import (
	"math/bits"
	"unsafe"
)

// slicePool recycles slices by power-of-two capacity so the merge
// goroutine stops allocating once history has reached its steady size.
// Every slice it hands out counts in the store's history bytes until the
// pool lets it go.
type slicePool[T any] struct {
	classes [40][][]T
	held    int64 // bytes in the pool
}

func (p *slicePool[T]) elemBytes() int64 {
	var x T
	return int64(unsafe.Sizeof(x))
}

func class(n int) int {
	if n <= 64 {
		return 6
	}
	return bits.Len(uint(n - 1))
}

// get returns an empty slice with room for n elements.
func (p *slicePool[T]) get(st *Store, n int) []T {
	c := class(n)
	if l := p.classes[c]; len(l) > 0 {
		s := l[len(l)-1]
		p.classes[c] = l[:len(l)-1]
		p.held -= int64(cap(s)) * p.elemBytes()
		return s[:0]
	}
	st.histBytes.Add(int64(1<<c) * p.elemBytes())
	return make([]T, 0, 1<<c)
}

// put returns s to the pool.
func (p *slicePool[T]) put(st *Store, s []T) {
	if cap(s) == 0 {
		return
	}
	c := class(cap(s))
	if 1<<c != cap(s) {
		// Not from the pool (never happens): forget it.
		st.histBytes.Add(-int64(cap(s)) * p.elemBytes())
		return
	}
	p.classes[c] = append(p.classes[c], s[:0])
	p.held += int64(cap(s)) * p.elemBytes()
}

// grow returns s with twice the room.
func (p *slicePool[T]) grow(st *Store, s []T) []T {
	n := p.get(st, max(2*cap(s), 64))
	n = append(n, s...)
	p.put(st, s)
	return n
}

// trim lets the garbage collector have pooled slices, largest first,
// while over says so.
func (p *slicePool[T]) trim(st *Store, over func() bool) {
	for c := len(p.classes) - 1; c >= 0; c-- {
		for len(p.classes[c]) > 0 && over() {
			l := p.classes[c]
			p.classes[c] = l[:len(l)-1]
			b := int64(1<<c) * p.elemBytes()
			p.held -= b
			st.histBytes.Add(-b)
		}
	}
}

// pools are the store's slice pools: records being merged or folded, and
// complete buckets' packed records.
type pools struct {
	recs slicePool[rec]
	data slicePool[byte]
}

func (p *pools) held() int64 { return p.recs.held + p.data.held }

// trim lets the garbage collector have pooled slices beyond a quarter of
// the budget, and all of them while the budget is exceeded.
func (p *pools) trim(st *Store) {
	over := func() bool {
		h := p.held()
		return h > st.cfg.HistoryBytes/4 || (h > 0 && st.histBytes.Load() > st.cfg.HistoryBytes)
	}
	p.recs.trim(st, over)
	p.data.trim(st, over)
}

// free drops every pooled slice.
func (p *pools) free(st *Store) {
	all := func() bool { return true }
	p.recs.trim(st, all)
	p.data.trim(st, all)
}

// putBucket returns a bucket's slices.
func (p *pools) putBucket(st *Store, b *bucket) {
	p.recs.put(st, b.recs)
	p.data.put(st, b.data)
}
