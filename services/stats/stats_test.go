package stats

import (
	"fmt"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/multimeter-fw/multimeter/services/flowtable"
)

type testKey struct {
	Group uint16
	ID    uint32
}

func (k testKey) Hash() uint64    { return flowtable.Mix(uint64(k.ID), uint64(k.Group)) }
func (k testKey) GroupID() uint16 { return k.Group }

type testAttr struct{ Seen int }

// model is the naive reference: every entity's counters per second.
type model map[testKey]map[int64]Counters

func (m model) add(k testKey, sec int64, c Counters) {
	if m[k] == nil {
		m[k] = map[int64]Counters{}
	}
	x := m[k][sec]
	x.Add(c)
	m[k][sec] = x
}

func (m model) sum(k testKey, from, to int64) Counters {
	var s Counters
	for sec, c := range m[k] {
		if sec >= from && sec < to {
			s.Add(c)
		}
	}
	return s
}

func randCounters(r *rand.Rand) Counters {
	return Counters{RxPackets: r.Uint64N(10), RxBytes: r.Uint64N(15000), TxPackets: r.Uint64N(10), TxBytes: r.Uint64N(15000)}
}

// fill feeds secs seconds of random traffic of n entities starting at
// start, as several shards would (an entity may come twice per second).
func fill(st *Store, s *Series[testKey, testAttr], m model, start, secs int64, n int, seed uint64) {
	r := rand.New(rand.NewPCG(seed, 1))
	for sec := start; sec < start+secs; sec++ {
		st.Lock()
		for range n / 2 {
			k := testKey{ID: uint32(r.IntN(n))}
			c := randCounters(r)
			s.Add(sec, k, c).Seen++
			m.add(k, sec, c)
		}
		st.Unlock()
		st.Complete(sec)
	}
}

func TestFiguresMatchModel(t *testing.T) {
	st := New(Config{RecentSeconds: 30, Levels: []Level{{10, 120}, {60, 600}}})
	s := NewSeries[testKey, testAttr](st, "test", 1000)
	m := model{}
	const start = 1_700_000_000 - 1_700_000_000%60
	fill(st, s, m, start, 300, 50, 1)
	now := st.Now()
	if now != start+299 {
		t.Fatalf("Now() = %d; want %d", now, start+299)
	}
	for id := range uint32(50) {
		k := testKey{ID: id}
		if m[k] == nil {
			continue
		}
		for _, q := range []Query{
			{},
			{Start: start + 240, End: start + 300}, // fully in the per-second window and 10 s level
			{Start: start + 60, End: start + 180, Timespan: 60},    // 60 s level
			{Start: start, End: start + 300, Timespan: 60},         // everything
			{Start: start + 280, End: start + 290, Timespan: 1},    // recent seconds
			{Start: start + 120, End: start + 240, Values: 4},      // forced coarser
			{Start: start + 270, End: 0, Timespan: 5, Values: 100}, // open end
		} {
			t.Run(fmt.Sprintf("%d/%+v", id, q), func(t *testing.T) {
				e, ok := s.Get(k, q)
				if !ok {
					t.Fatalf("Get(%v) = not found", k)
				}
				var all Counters
				first, last := int64(1<<62), int64(0)
				for sec, c := range m[k] {
					all.Add(c)
					first, last = min(first, sec), max(last, sec)
				}
				want := Figures{AllTime: all, LastSecond: m[k][now], FirstSeen: first, LastSeen: last}
				from, to := q.Start, q.End
				if to == 0 {
					to = now + 1
				}
				if q.Start == 0 && q.End == 0 {
					want.Interval, want.IntervalPerSecond = want.LastSecond, want.LastSecond
					from, to = now-29, now+1
				} else {
					want.Interval = m.sum(k, from, to)
					want.IntervalPerSecond = want.Interval.Div(to - from)
				}
				got := e.Figures
				got.History = nil
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("Get(%v, %+v) figures (-want +got):\n%s", k, q, diff)
				}
				h := e.History
				if h == nil || h.Step <= 0 {
					t.Fatalf("Get(%v, %+v).History = %+v", k, q, h)
				}
				if q.Timespan > 0 && h.Step < q.Timespan {
					t.Errorf("history step %d finer than asked %d", h.Step, q.Timespan)
				}
				values := q.Values
				if values == 0 {
					values = DefaultValues
				}
				if len(h.Points) > values+1 {
					t.Errorf("%d history points; want at most %d", len(h.Points), values+1)
				}
				for i, p := range h.Points {
					a := h.Start + int64(i)*h.Step
					if w := m.sum(k, a, a+h.Step); w != p {
						t.Errorf("history point %d [%d, %d) = %+v; want %+v", i, a, a+h.Step, p, w)
					}
				}
				if e.Attr.Seen == 0 {
					t.Errorf("Get(%v).Attr = %+v; want the attribute updated by Add", k, e.Attr)
				}
			})
		}
	}
}

func TestListMatchesSortedModel(t *testing.T) {
	st := New(Config{RecentSeconds: 60})
	s := NewSeries[testKey, testAttr](st, "test", 5000)
	m := model{}
	const start = 1_800_000_000
	fill(st, s, m, start, 40, 3000, 2)
	now := st.Now()
	keys := make([]testKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	for _, lq := range []ListQuery{
		{Sort: SortBps, Reverse: true, Count: 10},
		{Sort: SortBytes, Reverse: true, Count: 7, Page: 3},
		{Sort: SortTxPackets, Count: 20, Page: 1},
		{Sort: SortRxBytes, Reverse: true, Count: 10, Query: Query{Start: start + 10, End: start + 20}},
		{Sort: SortPps, Reverse: true, Count: 5, Query: Query{Start: start + 30}},
		{Sort: SortLastSeen, Count: 5},
		{Sort: SortBps, Count: 0},
	} {
		t.Run(fmt.Sprintf("%+v", lq), func(t *testing.T) {
			value := func(k testKey) uint64 {
				switch {
				case lq.Sort == SortLastSeen:
					return uint64(slices.Max(keysOf(m[k])))
				case lq.Start != 0:
					end := lq.End
					if end == 0 {
						end = now + 1
					}
					return lq.Sort.metric(m.sum(k, lq.Start, end))
				case lq.Sort.isRate():
					return lq.Sort.metric(m[k][now])
				}
				return lq.Sort.metric(m.sum(k, 0, now+1))
			}
			q := lq
			q.SkipHistory = true
			got, total := s.List(q, nil)
			if total != len(m) {
				t.Errorf("List total = %d; want %d", total, len(m))
			}
			want := slices.Clone(keys)
			slices.SortStableFunc(want, func(a, b testKey) int {
				va, vb := value(a), value(b)
				switch {
				case va == vb:
					return 0
				case (va < vb) != lq.Reverse:
					return -1
				}
				return 1
			})
			if lq.Count > 0 {
				want = want[min(len(want), lq.Page*lq.Count):]
				want = want[:min(len(want), lq.Count)]
			}
			if len(got) != len(want) {
				t.Fatalf("List returned %d items; want %d", len(got), len(want))
			}
			// Ties may come in any order: compare the values in order.
			for i := range got {
				if gv, wv := value(got[i].Key), value(want[i]); gv != wv {
					t.Errorf("item %d = %v with value %d; want value %d", i, got[i].Key, gv, wv)
				}
			}
		})
	}
}

func keysOf(m map[int64]Counters) []int64 {
	var ks []int64
	for k := range m {
		ks = append(ks, k)
	}
	return ks
}

type pairKey struct{ A, B uint32 }

func (k pairKey) Hash() uint64    { return flowtable.Mix(uint64(k.A), uint64(k.B)) }
func (k pairKey) GroupID() uint16 { return 0 }

func TestListOwned(t *testing.T) {
	st := New(Config{})
	s := NewSeries[pairKey, struct{}](st, "pairs", 300)
	s.IndexOwners(func(k *pairKey) (uint64, uint64) { return uint64(k.A) + 1, uint64(k.B) + 1 })
	r := rand.New(rand.NewPCG(3, 3))
	model := map[pairKey]uint64{}
	for sec := int64(100); sec < 160; sec++ {
		st.Lock()
		for range 40 {
			k := pairKey{uint32(r.IntN(30)), uint32(r.IntN(30))}
			if k.A > k.B {
				k.A, k.B = k.B, k.A
			}
			if _, ok := model[k]; !ok && len(model) == 300 {
				o, _ := s.tab.Oldest()
				delete(model, *s.tab.Key(o))
			}
			s.Add(sec, k, Counters{TxBytes: 10})
			model[k] += 10
		}
		st.Unlock()
		st.Complete(sec)
	}
	for owner := range uint32(30) {
		var want []pairKey
		for k := range model {
			if k.A == owner || k.B == owner {
				want = append(want, k)
			}
		}
		items, total := s.ListOwned(uint64(owner)+1, ListQuery{Sort: SortBytes, Query: Query{SkipHistory: true}}, func(k *pairKey, _ *struct{}) bool {
			return k.A == owner || k.B == owner
		}, nil)
		var got []pairKey
		for _, e := range items {
			got = append(got, e.Key)
			if e.AllTime.TxBytes != model[e.Key] {
				t.Errorf("owner %d: %v bytes = %d; want %d", owner, e.Key, e.AllTime.TxBytes, model[e.Key])
			}
		}
		less := func(a, b pairKey) int { return int(a.A)*1000 + int(a.B) - int(b.A)*1000 - int(b.B) }
		slices.SortFunc(got, less)
		slices.SortFunc(want, less)
		if total != len(want) || !slices.Equal(got, want) {
			t.Errorf("ListOwned(%d) = %v (total %d); want %v", owner, got, total, want)
		}
	}
}

func TestEvictionKeepsHistoryApart(t *testing.T) {
	st := New(Config{RecentSeconds: 100})
	s := NewSeries[testKey, testAttr](st, "small", 2)
	st.Lock()
	s.Add(10, testKey{ID: 1}, Counters{RxBytes: 100})
	s.Add(10, testKey{ID: 2}, Counters{RxBytes: 200})
	st.Unlock()
	st.Complete(10)
	st.Lock()
	s.Add(11, testKey{ID: 2}, Counters{RxBytes: 1})
	s.Add(11, testKey{ID: 3}, Counters{RxBytes: 300}) // evicts 1, reuses its slot
	st.Unlock()
	st.Complete(11)
	if _, ok := s.Get(testKey{ID: 1}, Query{}); ok {
		t.Error("Get(1) found an evicted entity")
	}
	e, ok := s.Get(testKey{ID: 3}, Query{Start: 10, End: 12})
	if !ok {
		t.Fatal("Get(3) = not found")
	}
	if e.Interval.RxBytes != 300 || e.AllTime.RxBytes != 300 {
		t.Errorf("entity 3 interval %d, all time %d bytes; want 300 and 300 (nothing of the evicted entity)", e.Interval.RxBytes, e.AllTime.RxBytes)
	}
	u := st.Usage()
	if u.Tables[0].Evictions != 1 || u.Tables[0].Entries != 2 || u.Tables[0].Capacity != 2 {
		t.Errorf("Usage().Tables[0] = %+v; want 1 eviction, 2 of 2 entries", u.Tables[0])
	}
	if n := s.Len(0); n != 2 {
		t.Errorf("Len(0) = %d; want 2", n)
	}
}

// An entity evicted in the second that reuses its slot leaves history
// records beside the new occupant's in that second: they are told apart
// by the slot's generation.
func TestEvictionInTheSameSecond(t *testing.T) {
	st := New(Config{RecentSeconds: 100})
	s := NewSeries[testKey, testAttr](st, "small", 1)
	st.Lock()
	s.Add(10, testKey{ID: 1}, Counters{RxBytes: 100})
	s.Add(10, testKey{ID: 2}, Counters{RxBytes: 200}) // evicts 1, reuses its slot
	s.Add(10, testKey{ID: 3}, Counters{RxBytes: 300}) // evicts 2, reuses the slot again
	st.Unlock()
	st.Complete(10)
	e, ok := s.Get(testKey{ID: 3}, Query{Start: 10, End: 11})
	if !ok {
		t.Fatal("Get(3) = not found")
	}
	if e.Interval.RxBytes != 300 || e.AllTime.RxBytes != 300 {
		t.Errorf("entity 3 interval %d, all time %d bytes; want 300 and 300", e.Interval.RxBytes, e.AllTime.RxBytes)
	}
}

func TestHistoryBudget(t *testing.T) {
	st := New(Config{RecentSeconds: 60, Levels: []Level{{10, 600}}, HistoryBytes: 1 << 20})
	s := NewSeries[testKey, testAttr](st, "big", 100000)
	m := model{}
	fill(st, s, m, 1000, 200, 4000, 4)
	u := st.Usage()
	if u.HistoryBytes > u.HistoryBudget {
		t.Errorf("history uses %d bytes; budget %d", u.HistoryBytes, u.HistoryBudget)
	}
	if u.HistoryDrops == 0 {
		t.Error("no history dropped although 200 s of 2,000 entities a second exceed 1 MiB")
	}
	// What remains is still right: the last seconds are always kept.
	now := st.Now()
	for id := range uint32(100) {
		k := testKey{ID: id}
		e, ok := s.Get(k, Query{Start: now - 2, End: now + 1, SkipHistory: true})
		if !ok {
			continue
		}
		if w := m.sum(k, now-2, now+1); e.Interval != w {
			t.Errorf("after trimming, %v interval = %+v; want %+v", k, e.Interval, w)
		}
	}
}

func TestConfigValidate(t *testing.T) {
	for _, tc := range []struct {
		cfg Config
		ok  bool
	}{
		{Config{}, true},
		{Config{RecentSeconds: 1}, false},
		{Config{Levels: []Level{{15, 3600}, {20, 7200}}}, false},
		{Config{Levels: []Level{{10, 100}}}, false},
		{Config{HistoryBytes: 100}, false},
		{Config{RecentSeconds: 60, Levels: []Level{{10, 3600}}}, true},
	} {
		if err := tc.cfg.Validate(); (err == nil) != tc.ok {
			t.Errorf("%+v.Validate() = %v; want ok=%v", tc.cfg, err, tc.ok)
		}
	}
}

// Shards may deliver seconds out of order while they are open.
func TestOpenSecondsOutOfOrder(t *testing.T) {
	st := New(Config{})
	s := NewSeries[testKey, testAttr](st, "t", 10)
	k := testKey{ID: 1}
	st.Lock()
	s.Add(12, k, Counters{TxPackets: 3})
	s.Add(10, k, Counters{TxPackets: 1})
	s.Add(11, k, Counters{TxPackets: 2})
	st.Unlock()
	st.Complete(11)
	st.Lock()
	s.Add(12, k, Counters{TxPackets: 4})
	st.Unlock()
	st.Complete(12)
	e, _ := s.Get(k, Query{Start: 10, End: 13, Timespan: 1})
	if e.FirstSeen != 10 || e.LastSeen != 12 {
		t.Errorf("first/last seen = %d/%d; want 10/12", e.FirstSeen, e.LastSeen)
	}
	if e.Interval.TxPackets != 10 || e.LastSecond.TxPackets != 7 {
		t.Errorf("interval %d, last second %d packets; want 10, 7", e.Interval.TxPackets, e.LastSecond.TxPackets)
	}
	var pts []uint64
	for _, p := range e.History.Points {
		pts = append(pts, p.TxPackets)
	}
	if !slices.Equal(pts, []uint64{1, 2, 7}) {
		t.Errorf("history %v; want [1 2 7]", pts)
	}
}

// TestReadersDuringMerge queries while the writer merges and completes
// seconds (run with -race: readers must never see a half-built second).
func TestReadersDuringMerge(t *testing.T) {
	st := New(Config{RecentSeconds: 5, Levels: []Level{{StepSeconds: 5, KeepSeconds: 20}}})
	s := NewSeries[testKey, testAttr](st, "t", 2000)
	done := make(chan struct{})
	go func() {
		defer close(done)
		r := rand.New(rand.NewPCG(9, 9))
		for sec := int64(100); sec < 160; sec++ {
			st.Lock()
			for range 1500 {
				s.Add(sec, testKey{ID: uint32(r.IntN(3000))}, Counters{TxPackets: 1, TxBytes: 10})
			}
			st.Unlock()
			st.Complete(sec)
		}
	}()
	for {
		select {
		case <-done:
			return
		default:
		}
		items, _ := s.List(ListQuery{Sort: SortBps, Reverse: true, Count: 5, Query: Query{Timespan: 1}}, nil)
		for _, e := range items {
			var sum Counters
			for _, p := range e.History.Points {
				sum.Add(p)
			}
			if sum.TxPackets > e.AllTime.TxPackets {
				t.Fatalf("history holds %d packets, all time %d", sum.TxPackets, e.AllTime.TxPackets)
			}
		}
		st.Usage()
	}
}

// TestIntervalInCoarseHistoryRoundsOut: an interval whose ends fall inside
// buckets of coarser history covers those buckets whole, as its datasets
// do; its per-second average is over the seconds covered, and a list
// sorted by the interval sorts by the same sums.
func TestIntervalInCoarseHistoryRoundsOut(t *testing.T) {
	st := New(Config{RecentSeconds: 30, Levels: []Level{{10, 1000}}})
	s := NewSeries[testKey, testAttr](st, "test", 1000)
	m := model{}
	const start = 1_700_000_000 - 1_700_000_000%60
	fill(st, s, m, start, 300, 50, 3)
	for _, tt := range []struct {
		name             string
		from, to         int64 // asked
		coverFrom, cover int64 // covered
	}{
		{"inside 10 s buckets", start + 105, start + 133, start + 100, start + 140},
		{"from 10 s buckets into seconds", start + 205, start + 295, start + 200, start + 295},
		{"seconds", start + 285, start + 293, start + 285, start + 293},
	} {
		t.Run(tt.name, func(t *testing.T) {
			q := Query{Start: tt.from, End: tt.to}
			for k := range m {
				e, ok := s.Get(k, q)
				if !ok {
					t.Fatalf("Get(%v) = not found", k)
				}
				want := m.sum(k, tt.coverFrom, tt.cover)
				if e.Interval != want || e.IntervalPerSecond != want.Div(tt.cover-tt.coverFrom) {
					t.Fatalf("%v over [%d, %d): interval %+v, per second %+v; want %+v over the %d s of [%d, %d)",
						k, tt.from-start, tt.to-start, e.Interval, e.IntervalPerSecond, want, tt.cover-tt.coverFrom, tt.coverFrom-start, tt.cover-start)
				}
				if e.History.Start != tt.coverFrom {
					t.Errorf("%v: history starts at %d; want %d", k, e.History.Start-start, tt.coverFrom-start)
				}
			}
			got, _ := s.List(ListQuery{Query: Query{Start: tt.from, End: tt.to, SkipHistory: true}, Sort: SortBytes, Reverse: true, Count: 10}, nil)
			for i := 1; i < len(got); i++ {
				if a, b := m.sum(got[i-1].Key, tt.coverFrom, tt.cover), m.sum(got[i].Key, tt.coverFrom, tt.cover); a.Bytes() < b.Bytes() {
					t.Errorf("list by interval bytes: item %d has %d bytes over the covered interval, item %d %d", i-1, a.Bytes(), i, b.Bytes())
				}
			}
		})
	}
}
