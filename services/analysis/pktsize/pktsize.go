// Package pktsize counts packets per size class. Classes follow RMON
// (RFC 2819) and so include the 4-byte FCS: a minimal frame, 60 bytes
// captured without FCS, is in class 64. A class is not an endpoint:
// everything in it counts as rx.
package pktsize

import (
	"github.com/multimeter-fw/multimeter/services/analysis"
	"github.com/multimeter-fw/multimeter/services/flowtable"
	"github.com/multimeter-fw/multimeter/services/stats"
)

// Class is a size class by its lower bound in bytes including FCS:
// 0 (< 64), 64, 65, 128, 256, 512, 1024, 1519 (> 1518).
type Class uint16

// Classes in order.
var Classes = []Class{0, 64, 65, 128, 256, 512, 1024, 1519}

// IndexOf returns the position of origLen's class in Classes.
func IndexOf(origLen uint32) int {
	n := origLen + 4
	switch {
	case n < 64:
		return 0
	case n == 64:
		return 1
	case n < 128:
		return 2
	case n < 256:
		return 3
	case n < 512:
		return 4
	case n < 1024:
		return 5
	case n <= 1518:
		return 6
	}
	return 7
}

// ClassOf returns the class of a frame of origLen bytes without FCS.
func ClassOf(origLen uint32) Class {
	n := origLen + 4
	switch {
	case n < 64:
		return 0
	case n == 64:
		return 64
	case n < 128:
		return 65
	case n < 256:
		return 128
	case n < 512:
		return 256
	case n < 1024:
		return 512
	case n <= 1518:
		return 1024
	}
	return 1519
}

// Key is a size class in a group.
type Key struct {
	Class Class
	Group uint16
}

// Hash implements flowtable.Key.
func (k Key) Hash() uint64 { return flowtable.Hash64(uint64(k.Class) | uint64(k.Group)<<16) }

// GroupID implements stats.Key.
func (k Key) GroupID() uint16 { return k.Group }

// Store holds the packet size series.
type Store struct {
	Sizes *stats.Series[Key, struct{}]
}

// NewStore adds the packet size series to st.
func NewStore(st *stats.Store) *Store {
	return &Store{Sizes: stats.NewSeries[Key, struct{}](st, "packetSize", 1024)}
}

// Merge adds one shard's second.
func (s *Store) Merge(sec int64, a *analysis.Acc[Key]) { analysis.MergeInto(a, sec, s.Sizes) }
