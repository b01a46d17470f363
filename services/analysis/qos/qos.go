// Package qos counts traffic per quality-of-service marking: the DSCP of
// IP packets and the priority code point (PCP) of the outer VLAN tag. A
// marking is not an endpoint: everything it carried counts as rx.
package qos

import (
	"github.com/multimeter-fw/multimeter/services/analysis"
	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/flowtable"
	"github.com/multimeter-fw/multimeter/services/stats"
)

// Kind of marking.
type Kind uint8

// Markings.
const (
	DSCP Kind = iota
	PCP
)

func (k Kind) String() string {
	if k == PCP {
		return "pcp"
	}
	return "dscp"
}

// Key is one marking value.
type Key struct {
	Kind  Kind
	Value uint8
	Group uint16
}

// Hash implements flowtable.Key.
func (k Key) Hash() uint64 {
	return flowtable.Hash64(uint64(k.Kind) | uint64(k.Value)<<8 | uint64(k.Group)<<16)
}

// GroupID implements stats.Key.
func (k Key) GroupID() uint16 { return k.Group }

// Count adds packet p's markings to a: the PCP when it is VLAN tagged
// (from L2 on), the DSCP when it is IP and ip is set (from L3 on).
func Count(a *analysis.Acc[Key], p *decode.Packet, group uint16, ip bool) {
	c := stats.Counters{RxPackets: 1, RxBytes: uint64(p.OrigLen)}
	if p.VLANCount > 0 {
		a.Add(Key{Kind: PCP, Value: p.PCP, Group: group}, c)
	}
	if ip && p.IPVersion != 0 {
		a.Add(Key{Kind: DSCP, Value: p.DSCP(), Group: group}, c)
	}
}

// Store holds the QoS series.
type Store struct {
	Markings *stats.Series[Key, struct{}]
}

// NewStore adds the QoS series to st.
func NewStore(st *stats.Store) *Store {
	return &Store{Markings: stats.NewSeries[Key, struct{}](st, "qos", 4096)}
}

// Merge adds one shard's second.
func (s *Store) Merge(sec int64, a *analysis.Acc[Key]) { analysis.MergeInto(a, sec, s.Markings) }
