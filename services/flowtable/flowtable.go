// Package flowtable provides the open-addressing hash tables the analysis
// engine and the statistics store keep their entities in: fixed-size keys,
// values without pointers, memory allocated once at construction and never
// grown, so that a flood of new hosts or flows costs evictions, not memory.
//
// Table is the long-lived kind: it keeps its slots in a least-recently-
// active list ordered by the second an entry was last touched, evicts the
// oldest-inactive entry when it is full, and counts fills and evictions.
//
//	t := flowtable.New[flowKey, flowState](1 << 20)
//	slot, isNew := t.Upsert(k, nowSec) // evicts the oldest entry if full
//	st := t.Val(slot)
//
// Dense is the short-lived kind: an accumulator that is filled during one
// second, read in insertion order and reset.
//
// Keys implement Hash; Mix and Hash64 help build a good one from the key's
// fields. Neither table is safe for concurrent use.
package flowtable

import (
	"encoding/binary"
	"math/bits"
)

// Key is a fixed-size, comparable table key with a well-mixed hash.
type Key interface {
	comparable
	Hash() uint64
}

// Hash constants (from wyhash).
const (
	p0 = 0xa0761d6478bd642f
	p1 = 0xe7037ed1a0b428db
	p2 = 0x8ebc6af09c88c6e3
)

// Mix combines two 64-bit words into a well-distributed hash.
func Mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a^p0, b^p1)
	return hi ^ lo
}

// Hash64 hashes one 64-bit word.
func Hash64(a uint64) uint64 { return Mix(a, p2) }

// Hash16Bytes folds 16 bytes (an IPv6 or IPv4-mapped address) into a hash
// input.
func Hash16Bytes(b *[16]byte) uint64 {
	return Mix(binary.LittleEndian.Uint64(b[:8]), binary.LittleEndian.Uint64(b[8:]))
}

// Stats are a table's fill and eviction counters.
type Stats struct {
	Len       int    // entries in use
	Cap       int    // entries the table can hold
	Inserts   uint64 // entries ever inserted
	Evictions uint64 // entries removed to make room (not expired or deleted)
}

// none marks the end of a list.
const none = ^uint32(0)

// bucket layout: high 32 bits hold the upper half of the key's hash (its
// low bits are the home bucket), low 32 bits hold slot+1; 0 is empty.
func bucketOf(tag uint32, slot uint32) uint64 { return uint64(tag)<<32 | uint64(slot+1) }

func indexSize(capacity int) uint64 {
	n := uint64(8)
	for n < uint64(capacity)*2 {
		n <<= 1
	}
	return n
}

// minIndex is the smallest part of an index in use. An index is allocated
// for a table's capacity, but lookups only probe its first part, sized
// for the entries held (at most half full) and doubled as they grow: a
// table with few entries then stays in the caches, where a lookup at a
// random place of a capacity-sized index would miss them every time.
const minIndex = 1 << 10

// startMask is the mask of the part of index used when empty.
func startMask(index []uint64) uint64 { return uint64(min(len(index), minIndex)) - 1 }

// needsGrowth reports whether an index part of mask+1 buckets holding n
// entries should double (it may, while smaller than the index).
func needsGrowth(n int, mask uint64, index []uint64) bool {
	return uint64(n)*2 > mask+1 && mask+1 < uint64(len(index))
}

// grow doubles the part of index in use, whose mask is mask, and returns
// the new mask. Buckets move in index order, read from a copy of the old
// part: a bucket's new home is its old one or that plus the old size, so
// the writes advance through two runs, where moving entries in slot order
// would write all over the index (a cache miss for each). The copy lives
// in the index beyond the new part while that has room.
func grow(index []uint64, mask uint64) uint64 {
	old := mask + 1
	newMask := mask<<1 | 1
	var moved []uint64
	if 3*old <= uint64(len(index)) {
		moved = index[2*old : 3*old]
	} else {
		moved = make([]uint64, old) // the last doubling of a table's life
	}
	copy(moved, index[:old])
	clear(index[:old]) // beyond the part in use it is empty already
	for _, b := range moved {
		if b != 0 {
			place(index, newMask, uint32(b>>32), uint32(b)-1)
		}
	}
	clear(moved)
	return newMask
}

// place puts a bucket for (tag, slot) in the first free bucket of its
// probe run.
func place(index []uint64, mask uint64, tag, slot uint32) {
	pos := uint64(tag) & mask
	for index[pos] != 0 {
		pos = (pos + 1) & mask
	}
	index[pos] = bucketOf(tag, slot)
}
