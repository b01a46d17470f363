// Package mpls counts traffic per MPLS label; a packet counts for every
// label of its stack (up to decode.MaxMPLS). A label is not an endpoint:
// everything it carried counts as rx.
package mpls

import (
	"github.com/multimeter-fw/multimeter/services/analysis"
	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/flowtable"
	"github.com/multimeter-fw/multimeter/services/stats"
)

// Key is an MPLS label and its depth in the stack (0 outermost).
type Key struct {
	Label uint32
	Depth uint8
	Group uint16
}

// Hash implements flowtable.Key.
func (k Key) Hash() uint64 {
	return flowtable.Hash64(uint64(k.Label) | uint64(k.Depth)<<24 | uint64(k.Group)<<32)
}

// GroupID implements stats.Key.
func (k Key) GroupID() uint16 { return k.Group }

// Count adds packet p's labels to a.
func Count(a *analysis.Acc[Key], p *decode.Packet, group uint16) {
	c := stats.Counters{RxPackets: 1, RxBytes: uint64(p.OrigLen)}
	for i := range min(int(p.MPLSCount), decode.MaxMPLS) {
		a.Add(Key{Label: p.MPLS[i], Depth: uint8(i), Group: group}, c)
	}
}

// Store holds the MPLS series.
type Store struct {
	Labels *stats.Series[Key, struct{}]
}

// NewStore adds the MPLS series to st.
func NewStore(st *stats.Store, capacity int) *Store {
	return &Store{Labels: stats.NewSeries[Key, struct{}](st, "mpls", capacity)}
}

// Merge adds one shard's second.
func (s *Store) Merge(sec int64, a *analysis.Acc[Key]) { analysis.MergeInto(a, sec, s.Labels) }
