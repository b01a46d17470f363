package index

import (
	"encoding/binary"

	"github.com/multimeter-fw/multimeter/services/decode"
)

// addrTable maps IP addresses to values (posting list numbers): open
// addressing with linear probing in a power-of-two array at most half
// full. Every indexed packet looks up two or more addresses; a multiply
// hash of the address's two halves and a 16-byte compare cost less than a
// general map.
type addrTable struct {
	keys  []decode.Addr
	vals  []int32 // 0: empty slot
	n     int
	shift uint // 64 - log2(len(vals))
}

const addrTableMin = 1 << 10

func newAddrTable() addrTable {
	return addrTable{keys: make([]decode.Addr, addrTableMin), vals: make([]int32, addrTableMin), shift: 64 - 10}
}

func (t *addrTable) hash(a *decode.Addr) uint64 {
	lo := binary.LittleEndian.Uint64(a[:8])
	hi := binary.LittleEndian.Uint64(a[8:])
	// IPv4 addresses differ only in hi: mix it with an odd multiplier and
	// take the top bits, the best mixed.
	return ((lo*0x9e3779b97f4a7c15 ^ hi) * 0xbf58476d1ce4e5b9) >> t.shift
}

// find returns a's slot and whether a is there; if not, the slot is where
// insert puts it.
func (t *addrTable) find(a *decode.Addr) (slot int, ok bool) {
	mask := len(t.vals) - 1
	for i := int(t.hash(a)); ; i = (i + 1) & mask {
		if t.vals[i] == 0 {
			return i, false
		}
		if t.keys[i] == *a {
			return i, true
		}
	}
}

// get returns a's value, 0 when a is absent.
func (t *addrTable) get(a *decode.Addr) int32 {
	if i, ok := t.find(a); ok {
		return t.vals[i]
	}
	return 0
}

// insert puts a with value v (not 0) at the slot find returned for it.
func (t *addrTable) insert(slot int, a *decode.Addr, v int32) {
	t.keys[slot], t.vals[slot] = *a, v
	t.n++
	if 2*t.n > len(t.vals) {
		t.grow()
	}
}

func (t *addrTable) grow() {
	keys, vals := t.keys, t.vals
	t.keys, t.vals = make([]decode.Addr, 2*len(keys)), make([]int32, 2*len(vals))
	t.shift--
	for i, v := range vals {
		if v != 0 {
			slot, _ := t.find(&keys[i])
			t.keys[slot], t.vals[slot] = keys[i], v
		}
	}
}

// each calls f for every address and its value.
func (t *addrTable) each(f func(a *decode.Addr, v int32)) {
	for i, v := range t.vals {
		if v != 0 {
			f(&t.keys[i], v)
		}
	}
}
