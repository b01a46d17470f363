// Package vlan counts traffic per VLAN: the outer tag and, for QinQ, the
// inner one. Untagged traffic is not a VLAN. A VLAN is not an endpoint:
// everything it carried counts as rx.
package vlan

import (
	"github.com/multimeter-fw/multimeter/services/analysis"
	"github.com/multimeter-fw/multimeter/services/flowtable"
	"github.com/multimeter-fw/multimeter/services/stats"
)

// Key is a VLAN (Inner 0 without a second tag).
type Key struct {
	Outer, Inner uint16
	Group        uint16
}

// Hash implements flowtable.Key.
func (k Key) Hash() uint64 {
	return flowtable.Hash64(uint64(k.Outer) | uint64(k.Inner)<<16 | uint64(k.Group)<<32)
}

// GroupID implements stats.Key.
func (k Key) GroupID() uint16 { return k.Group }

// Store holds the VLAN series.
type Store struct {
	VLANs *stats.Series[Key, struct{}]
}

// NewStore adds the VLAN series to st.
func NewStore(st *stats.Store, capacity int) *Store {
	return &Store{VLANs: stats.NewSeries[Key, struct{}](st, "vlan", capacity)}
}

// Merge adds one shard's second.
func (s *Store) Merge(sec int64, a *analysis.Acc[Key]) { analysis.MergeInto(a, sec, s.VLANs) }
