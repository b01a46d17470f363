package sip

import (
	"encoding/binary"
	"sync/atomic"

	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/flowtable"
)

// Media kinds in the registry.
const (
	kindRTP  = 1
	kindRTCP = 2
)

// Registry is where a shard that parsed a call's SDP publishes the media
// endpoints, for the shards that see the RTP/RTCP flows (the media flows
// have other address pairs than the signalling, so they usually land in
// another shard). It is a fixed table of seqlocked entries: lookups take no
// lock and allocate nothing; a newer call may overwrite an older one on a
// hash collision.
type Registry struct {
	entries []entry
	mask    uint64
}

type entry struct {
	seq atomic.Uint64
	// key: address (2 words), port | group<<16 | kind<<32; value: numbers.
	w [5]atomic.Uint64
}

// NewRegistry returns a registry of size entries (rounded up to a power
// of two).
func NewRegistry(size int) *Registry {
	n := 1
	for n < size {
		n <<= 1
	}
	return &Registry{entries: make([]entry, n), mask: uint64(n - 1)}
}

func mediaHash(a *decode.Addr, port, group uint16) uint64 {
	return flowtable.Mix(flowtable.Hash16Bytes((*[16]byte)(a)), uint64(port)|uint64(group)<<16)
}

// put publishes the numbers of the call whose media is at (a, port).
func (r *Registry) put(a decode.Addr, port, group uint16, kind uint8, numbers [2]uint64) {
	e := &r.entries[mediaHash(&a, port, group)&r.mask]
	s := e.seq.Load()
	if s&1 == 1 || !e.seq.CompareAndSwap(s, s+1) {
		return // another writer is here: losing one of two is fine
	}
	e.w[0].Store(binary.LittleEndian.Uint64(a[:8]))
	e.w[1].Store(binary.LittleEndian.Uint64(a[8:]))
	e.w[2].Store(uint64(port) | uint64(group)<<16 | uint64(kind)<<32)
	e.w[3].Store(numbers[0])
	e.w[4].Store(numbers[1])
	e.seq.Store(s + 2)
}

// lookup returns the numbers of the call with media at (a, port).
func (r *Registry) lookup(a *decode.Addr, port, group uint16) (numbers [2]uint64, kind uint8, ok bool) {
	e := &r.entries[mediaHash(a, port, group)&r.mask]
	s := e.seq.Load()
	if s == 0 || s&1 == 1 {
		return numbers, 0, false
	}
	w0, w1, w2 := e.w[0].Load(), e.w[1].Load(), e.w[2].Load()
	numbers = [2]uint64{e.w[3].Load(), e.w[4].Load()}
	if e.seq.Load() != s {
		return numbers, 0, false
	}
	if w0 != binary.LittleEndian.Uint64(a[:8]) || w1 != binary.LittleEndian.Uint64(a[8:]) || uint16(w2) != port || uint16(w2>>16) != group {
		return numbers, 0, false
	}
	return numbers, uint8(w2 >> 32), true
}
