package index

import (
	"math/rand/v2"
	"testing"

	"github.com/multimeter-fw/multimeter/services/decode"
)

// TestAddrTable checks the table against a Go map over IPv4-mapped and
// IPv6 addresses, through several doublings.
func TestAddrTable(t *testing.T) {
	for _, tc := range []struct {
		name string
		addr func(r *rand.Rand) decode.Addr
	}{
		{"ipv4", func(r *rand.Rand) decode.Addr {
			return decode.AddrFrom4([4]byte{10, byte(r.IntN(4)), byte(r.IntN(256)), byte(r.IntN(256))})
		}},
		{"ipv6", func(r *rand.Rand) decode.Addr {
			var a decode.Addr
			a[0], a[1], a[14], a[15] = 0x20, 0x01, byte(r.IntN(256)), byte(r.IntN(256))
			a[7] = byte(r.IntN(8))
			return a
		}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r := rand.New(rand.NewPCG(1, 2))
			tab := newAddrTable()
			want := map[decode.Addr]int32{}
			for i := range 50000 {
				a := tc.addr(r)
				slot, ok := tab.find(&a)
				if _, in := want[a]; ok != in {
					t.Fatalf("find(%v) found = %v; want %v", a, ok, in)
				}
				if !ok {
					want[a] = int32(i + 1)
					tab.insert(slot, &a, int32(i+1))
				}
			}
			for a, v := range want {
				if got := tab.get(&a); got != v {
					t.Fatalf("get(%v) = %d; want %d", a, got, v)
				}
			}
			n := 0
			tab.each(func(a *decode.Addr, v int32) {
				n++
				if want[*a] != v {
					t.Errorf("each: %v = %d; want %d", *a, v, want[*a])
				}
			})
			if n != len(want) || tab.n != len(want) {
				t.Errorf("each visits %d, n = %d; want %d", n, tab.n, len(want))
			}
			var absent decode.Addr
			absent[0] = 0xfe
			if got := tab.get(&absent); got != 0 {
				t.Errorf("get(absent) = %d; want 0", got)
			}
		})
	}
}
