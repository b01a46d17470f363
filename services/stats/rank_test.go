package stats

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestListShortcutsMatchScan checks the descending lists that look only at
// the entities that can be on the page (rank.go) against the same list
// forced through the pass over every entity (a filter that takes all):
// same entities, same order, ties included, with evictions, idle entities
// and two groups in the table.
func TestListShortcutsMatchScan(t *testing.T) {
	st := New(Config{RecentSeconds: 20, Levels: []Level{{StepSeconds: 10, KeepSeconds: 100}}})
	s := NewSeries[testKey, testAttr](st, "test", 1500)
	r := rand.New(rand.NewPCG(7, 7))
	const start = 1_800_000_000
	for sec := int64(start); sec < start+60; sec++ {
		st.Lock()
		// Few entities a second, drawn from more than fit: many are idle
		// in any one second and some are evicted.
		for range 300 {
			k := testKey{Group: uint16(r.IntN(2)), ID: uint32(r.IntN(2500))}
			c := Counters{RxPackets: r.Uint64N(3), RxBytes: r.Uint64N(4) * 100, TxPackets: r.Uint64N(3), TxBytes: r.Uint64N(4) * 100}
			s.Add(sec, k, c)
		}
		st.Unlock()
		st.Complete(sec)
	}
	takeAll := func(*testKey, *testAttr) bool { return true }
	for _, lq := range []ListQuery{
		{Sort: SortBps, Reverse: true, Count: 10},
		{Sort: SortRxBps, Reverse: true, Count: 25, Page: 30, Group: 1}, // past the active entities: idle ones fill it
		{Sort: SortBytes, Reverse: true, Count: 10},
		{Sort: SortTxBytes, Reverse: true, Count: 100, Page: 2},
		{Sort: SortPackets, Reverse: true, Count: 7, Page: 5, Group: 1},
		{Sort: SortBytes, Reverse: true, Count: 10, Query: Query{Start: start + 5, End: start + 45}}, // both levels
		{Sort: SortRxPackets, Reverse: true, Count: 50, Query: Query{Start: start + 50}},
		{Sort: SortPps, Reverse: true, Count: 100, Page: 9, Query: Query{Start: start + 58, End: start + 59}},
	} {
		t.Run(fmt.Sprintf("%+v", lq), func(t *testing.T) {
			lq.SkipHistory = true
			got, total := s.List(lq, nil)
			want, wantTotal := s.List(lq, takeAll)
			if total != wantTotal {
				t.Errorf("List total = %d; want %d", total, wantTotal)
			}
			if diff := cmp.Diff(want, got); diff != "" {
				t.Errorf("List(%+v) differs from the full pass (-want +got):\n%s", lq, diff)
			}
		})
	}
}

// TestListOwnedOrder checks that the lists of one owner come in the order
// of the figures they return, seen from the owner (swapped where the
// owner is the entity's other end), for all-time, last-second and
// interval keys.
func TestListOwnedOrder(t *testing.T) {
	st := New(Config{RecentSeconds: 20, Levels: []Level{{StepSeconds: 10, KeepSeconds: 100}}})
	s := NewSeries[pairKey, struct{}](st, "pairs", 400)
	s.IndexOwners(func(k *pairKey) (uint64, uint64) { return uint64(k.A) + 1, uint64(k.B) + 1 })
	r := rand.New(rand.NewPCG(5, 5))
	const start = 1_800_000_000
	for sec := int64(start); sec < start+60; sec++ {
		st.Lock()
		for range 60 {
			k := pairKey{uint32(r.IntN(20)), uint32(r.IntN(20))}
			if k.A > k.B {
				k.A, k.B = k.B, k.A
			}
			s.Add(sec, k, Counters{RxPackets: r.Uint64N(5), RxBytes: r.Uint64N(5000), TxPackets: r.Uint64N(5), TxBytes: r.Uint64N(5000)})
		}
		st.Unlock()
		st.Complete(sec)
	}
	interval := Query{Start: start + 15, End: start + 50}
	for _, tc := range []struct {
		lq    ListQuery
		value func(f *Figures) Counters
	}{
		{ListQuery{Sort: SortRxBytes, Reverse: true}, func(f *Figures) Counters { return f.AllTime }},
		{ListQuery{Sort: SortTxPackets}, func(f *Figures) Counters { return f.AllTime }},
		{ListQuery{Sort: SortBytes, Reverse: true}, func(f *Figures) Counters { return f.AllTime }},
		{ListQuery{Sort: SortRxBps, Reverse: true}, func(f *Figures) Counters { return f.LastSecond }},
		{ListQuery{Sort: SortPps}, func(f *Figures) Counters { return f.LastSecond }},
		{ListQuery{Sort: SortTxBytes, Reverse: true, Query: interval}, func(f *Figures) Counters { return f.Interval }},
		{ListQuery{Sort: SortBytes, Reverse: true, Query: interval}, func(f *Figures) Counters { return f.Interval }},
		{ListQuery{Sort: SortRxPps, Query: interval}, func(f *Figures) Counters { return f.Interval }},
	} {
		for owner := range uint32(20) {
			t.Run(fmt.Sprintf("%s/%v/%d", tc.lq.Sort, tc.lq.Reverse, owner), func(t *testing.T) {
				lq := tc.lq
				lq.SkipHistory = true
				items, _ := s.ListOwned(uint64(owner)+1, lq, func(k *pairKey, _ *struct{}) bool { return k.A == owner || k.B == owner },
					func(k *pairKey) bool { return k.B == owner && k.A != owner })
				for i := 1; i < len(items); i++ {
					prev, cur := lq.Sort.metric(tc.value(&items[i-1].Figures)), lq.Sort.metric(tc.value(&items[i].Figures))
					if (lq.Reverse && cur > prev) || (!lq.Reverse && cur < prev) {
						t.Fatalf("ListOwned(%d, %+v): item %d (%v) has %d after %d", owner, lq, i, items[i].Key, cur, prev)
					}
				}
			})
		}
	}
}
