package stats

import (
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestPackedBucket packs sorted records of every size (counters beyond 32
// bits, generations, slot gaps) and reads them back whole and one by one.
func TestPackedBucket(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	big := func() uint64 {
		switch rng.IntN(4) {
		case 0:
			return 0
		case 1:
			return rng.Uint64N(200)
		case 2:
			return rng.Uint64N(1 << 40)
		}
		return rng.Uint64()
	}
	for _, n := range []int{1, markEvery - 1, markEvery, markEvery + 1, 1000} {
		st := New(Config{})
		var want []rec
		slot := uint32(rng.IntN(10))
		for len(want) < n {
			slot += uint32(rng.IntN(3)) // repeated slots carry different generations
			if rng.IntN(50) == 0 && slot < 1<<31 {
				slot += 1 << 26
			}
			gen := uint32(rng.IntN(4))
			if k := len(want); k > 0 && want[k-1].slot == slot && want[k-1].gen >= gen {
				gen = want[k-1].gen + 1 + uint32(rng.IntN(1<<20))
			}
			want = append(want, rec{slot: slot, gen: gen, c: Counters{RxPackets: big(), RxBytes: big(), TxPackets: big(), TxBytes: big()}})
		}
		var b bucket
		st.pool.pack(st, &b, slices.Clone(want))
		if got := b.unpack(nil); !cmp.Equal(got, want, cmp.AllowUnexported(rec{})) {
			t.Fatalf("%d records: unpack(pack(r)) differs: %s", n, cmp.Diff(want, got, cmp.AllowUnexported(rec{})))
		}
		for _, r := range want {
			if c, ok := b.find(r.slot, r.gen); !ok || c != r.c {
				t.Fatalf("%d records: find(%d, %d) = %v, %v; want %v, true", n, r.slot, r.gen, c, ok, r.c)
			}
			if _, ok := b.find(r.slot, r.gen+1<<31); ok {
				t.Fatalf("%d records: find(%d, %d) found a record never packed", n, r.slot, r.gen+1<<31)
			}
		}
		if _, ok := b.find(want[0].slot-1, 0); ok && want[0].slot > 0 {
			t.Fatalf("%d records: find before the first record found one", n)
		}
		if _, ok := b.find(want[n-1].slot+1, 0); ok {
			t.Fatalf("%d records: find after the last record found one", n)
		}
	}
}
