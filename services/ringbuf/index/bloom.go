package index

import (
	"encoding/binary"
	"fmt"

	"github.com/multimeter-fw/multimeter/services/filter"
)

// Bloom is a segment's bloom filter over every key of its index: the
// catalog keeps it in memory so a query opens no segment that cannot
// match.
type Bloom struct {
	k    uint32
	bits []uint64
}

// Bloom sizing: about 1 % false positives, at most 64 KiB per segment.
const (
	bloomBitsPerKey = 10
	bloomHashes     = 7
	maxBloomWords   = 64 << 10 / 8
)

func newBloom(keys int) *Bloom {
	words := min(max((keys*bloomBitsPerKey+63)/64, 1), maxBloomWords)
	return &Bloom{k: bloomHashes, bits: make([]uint64, words)}
}

// hash is FNV-1a over the key's kind and value, mixed so that both halves
// are usable as independent hashes.
func (k key) hash() uint64 {
	h := uint64(14695981039346656037)
	h = (h ^ uint64(k.kind)) * 1099511628211
	n := 4
	if k.kind == filter.TermIP {
		n = 16
	}
	for _, c := range k.v[:n] {
		h = (h ^ uint64(c)) * 1099511628211
	}
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	return h
}

func (b *Bloom) probe(k key, fn func(word int, bit uint64) bool) bool {
	h := k.hash()
	h1, h2 := uint32(h), uint32(h>>32)|1
	n := uint32(len(b.bits) * 64)
	for i := range b.k {
		pos := (h1 + i*h2) % n
		if !fn(int(pos/64), 1<<(pos%64)) {
			return false
		}
	}
	return true
}

func (b *Bloom) add(k key) {
	b.probe(k, func(w int, bit uint64) bool { b.bits[w] |= bit; return true })
}

func (b *Bloom) has(k key) bool {
	return b.probe(k, func(w int, bit uint64) bool { return b.bits[w]&bit != 0 })
}

// maxProbes bounds how many values of a range term the filter is asked
// about; wider ranges are assumed present.
const maxProbes = 64

// MayMatch reports whether some packet of the segment may satisfy t. A nil
// Bloom knows nothing and says yes.
func (b *Bloom) MayMatch(t filter.Term) bool {
	if b == nil || len(b.bits) == 0 {
		return true
	}
	if t.Kind == filter.TermIP {
		if t.Bits != 128 {
			return true
		}
		return b.has(key{kind: filter.TermIP, v: t.Addr})
	}
	if t.Hi < t.Lo || t.Hi-t.Lo >= maxProbes {
		return t.Hi >= t.Lo
	}
	for v := uint64(t.Lo); v <= uint64(t.Hi); v++ {
		if b.has(numKey(t.Kind, uint32(v))) {
			return true
		}
	}
	return false
}

// MayMatchPlan reports whether every clause of the plan may be satisfied.
func (b *Bloom) MayMatchPlan(p filter.Plan) bool {
	for _, c := range p {
		hit := false
		for _, t := range c {
			if b.MayMatch(t) {
				hit = true
				break
			}
		}
		if !hit {
			return false
		}
	}
	return true
}

func (b *Bloom) encode() []byte {
	out := binary.LittleEndian.AppendUint32(nil, b.k)
	for _, w := range b.bits {
		out = binary.LittleEndian.AppendUint64(out, w)
	}
	return out
}

// DecodeBloom parses a bloom section read with BloomRange.
func DecodeBloom(data []byte) (*Bloom, error) { return decodeBloom(data) }

func decodeBloom(data []byte) (*Bloom, error) {
	if len(data) < 4 || (len(data)-4)%8 != 0 || len(data) == 4 {
		return nil, fmt.Errorf("%w: bloom filter size %d", ErrCorrupt, len(data))
	}
	b := &Bloom{k: binary.LittleEndian.Uint32(data)}
	if b.k == 0 || b.k > 32 {
		return nil, fmt.Errorf("%w: bloom filter hashes %d", ErrCorrupt, b.k)
	}
	for d := data[4:]; len(d) > 0; d = d[8:] {
		b.bits = append(b.bits, binary.LittleEndian.Uint64(d))
	}
	return b, nil
}
