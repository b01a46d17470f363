package flowtable

import (
	"math/rand/v2"
	"strconv"
	"testing"
)

type k64 uint64

func (k k64) Hash() uint64 { return Hash64(uint64(k)) }

// collide hashes every key into a handful of buckets to exercise long
// probe runs and backward shifts. The buckets are the last ones of any
// part of the index in use, so the runs wrap around its end.
type collide uint64

func (k collide) Hash() uint64 { return uint64(^uint32(k%4)) << 32 }

// checkTable compares t with the model and its invariants.
func checkTable[K Key](t *testing.T, tab *Table[K, int], model map[K]int) {
	t.Helper()
	if tab.Len() != len(model) {
		t.Fatalf("Len() = %d; want %d", tab.Len(), len(model))
	}
	for k, v := range model {
		s, ok := tab.Find(k)
		if !ok {
			t.Fatalf("Find(%v) = not found; want %d", k, v)
		}
		if got := *tab.Val(s); got != v {
			t.Fatalf("Val(Find(%v)) = %d; want %d", k, got, v)
		}
	}
	// The activity list holds exactly the used slots, oldest first.
	n := 0
	var prevLast uint32
	for s, ok := tab.Oldest(); ok; s, ok = tab.Newer(s) {
		if !tab.Used(s) {
			t.Fatalf("slot %d in the activity list is not used", s)
		}
		if last := tab.LastActive(s); last < prevLast {
			t.Fatalf("activity list out of order: %d after %d", last, prevLast)
		} else {
			prevLast = last
		}
		n++
	}
	if n != len(model) {
		t.Fatalf("activity list has %d entries; want %d", n, len(model))
	}
	// Lookups probe only the part of the index in use; growing it relies
	// on the rest being empty.
	for i, b := range tab.index[tab.mask+1:] {
		if b != 0 {
			t.Fatalf("index bucket %d beyond the part in use (%d) is not empty", int(tab.mask)+1+i, tab.mask+1)
		}
	}
}

func TestTableAgainstMap(t *testing.T) {
	for _, tc := range []struct {
		name     string
		capacity int
		keys     int
	}{
		{"sparse", 1000, 500},
		{"full", 64, 64},
		{"tiny", 1, 3},
		{"growing", 5000, 3000}, // doubles several times, with runs that wrap
	} {
		t.Run(tc.name, func(t *testing.T) {
			tab := New[collide, int](tc.capacity)
			model := map[collide]int{}
			rng := rand.New(rand.NewPCG(1, 2))
			for i := range 20000 {
				k := collide(rng.IntN(tc.keys))
				now := uint32(i / 100)
				switch rng.IntN(4) {
				case 0:
					if s, ok := tab.Find(k); ok {
						tab.Delete(s)
						delete(model, k)
					}
				default:
					if _, ok := model[k]; !ok && len(model) == tc.capacity {
						s, _ := tab.Oldest()
						delete(model, *tab.Key(s))
					}
					s, _ := tab.Upsert(k, now)
					*tab.Val(s) += 1
					model[k]++
				}
				if i%997 == 0 {
					checkTable(t, tab, model)
				}
			}
			checkTable(t, tab, model)
		})
	}
}

// TestTableGrowsIndex fills a table far beyond the part of the index it
// starts with, deletes, clears and fills it again.
func TestTableGrowsIndex(t *testing.T) {
	tab := New[k64, int](50000)
	model := map[k64]int{}
	for round := range 2 {
		for i := range 40000 {
			k := k64(i * 7919)
			s, _ := tab.Upsert(k, uint32(i/1000))
			*tab.Val(s) = i + round
			model[k] = i + round
			if i%3 == 0 {
				s, _ := tab.Find(k64((i / 2) * 7919))
				tab.Delete(s)
				delete(model, k64((i/2)*7919))
			}
		}
		checkTable(t, tab, model)
		tab.Clear()
		clear(model)
		checkTable(t, tab, model)
	}
}

func TestDenseGrowsIndex(t *testing.T) {
	d := NewDense[k64, int](30000)
	for round := range 3 {
		n := 30000 / (round + 1)
		for i := range n {
			v, _ := d.Upsert(k64(i))
			*v = i
		}
		for i := range n {
			if v, isNew := d.Upsert(k64(i)); isNew || *v != i {
				t.Fatalf("round %d: Upsert(%d) = %d, new %v; want %d, not new", round, i, *v, isNew, i)
			}
		}
		if d.Len() != n {
			t.Fatalf("round %d: Len() = %d; want %d", round, d.Len(), n)
		}
		d.Reset()
	}
}

func TestTableEvictsOldestInactive(t *testing.T) {
	tab := New[k64, int](3)
	var evicted []k64
	tab.OnEvict = func(_ uint32, k *k64, _ *int) { evicted = append(evicted, *k) }
	tab.Upsert(1, 10)
	tab.Upsert(2, 11)
	tab.Upsert(3, 12)
	tab.Upsert(1, 13) // 1 active again: 2 is now the oldest
	tab.Upsert(4, 14)
	tab.Upsert(5, 15)
	if len(evicted) != 2 || evicted[0] != 2 || evicted[1] != 3 {
		t.Errorf("evicted %v; want [2 3]", evicted)
	}
	st := tab.Stats()
	if st.Evictions != 2 || st.Len != 3 || st.Cap != 3 || st.Inserts != 5 {
		t.Errorf("Stats() = %+v; want 2 evictions, len 3, cap 3, 5 inserts", st)
	}
	for _, k := range []k64{1, 4, 5} {
		if _, ok := tab.Find(k); !ok {
			t.Errorf("Find(%d) = not found after evictions", k)
		}
	}
}

func TestDense(t *testing.T) {
	d := NewDense[collide, int](100)
	for round := range 3 {
		model := map[collide]int{}
		for i := range 1000 {
			k := collide((i * 7) % (50 + round*25))
			v, _ := d.Upsert(k)
			if v == nil {
				t.Fatalf("Upsert(%d) = nil with %d entries", k, d.Len())
			}
			*v += i
			model[k] += i
		}
		if d.Len() != len(model) {
			t.Fatalf("round %d: Len() = %d; want %d", round, d.Len(), len(model))
		}
		for i := range d.Len() {
			if got, want := *d.Val(i), model[*d.Key(i)]; got != want {
				t.Errorf("round %d: value of %d = %d; want %d", round, *d.Key(i), got, want)
			}
		}
		d.Reset()
	}
	for i := range 100 {
		d.Upsert(collide(i))
	}
	if v, _ := d.Upsert(1000); v != nil || !d.Full() {
		t.Errorf("Upsert into a full Dense = %v, Full() = %v; want nil, true", v, d.Full())
	}
	if v, _ := d.Upsert(5); v == nil {
		t.Error("Upsert of an existing key into a full Dense = nil")
	}
}

func TestUpsertDoesNotAllocate(t *testing.T) {
	tab := New[k64, [4]uint64](1 << 10)
	d := NewDense[k64, [4]uint64](1 << 10)
	i := 0
	allocs := testing.AllocsPerRun(10000, func() {
		s, _ := tab.Upsert(k64(i%5000), uint32(i/100))
		tab.Val(s)[0]++
		if v, _ := d.Upsert(k64(i % 500)); v != nil {
			v[1]++
		}
		if i%1000 == 999 {
			d.Reset()
		}
		i++
	})
	if allocs != 0 {
		t.Errorf("Upsert allocates %v times per call; want 0", allocs)
	}
}

func BenchmarkTableUpsert(b *testing.B) {
	for _, n := range []int{1 << 10, 1 << 20} {
		b.Run(strconv.Itoa(n), func(b *testing.B) {
			tab := New[k64, [8]uint64](n)
			rng := rand.New(rand.NewPCG(1, 1))
			keys := make([]k64, 1<<16)
			for i := range keys {
				keys[i] = k64(rng.Uint64() % uint64(2*n))
			}
			b.ReportAllocs()
			b.ResetTimer()
			for i := range b.N {
				s, _ := tab.Upsert(keys[i&(len(keys)-1)], uint32(i>>16))
				tab.Val(s)[0]++
			}
		})
	}
}
