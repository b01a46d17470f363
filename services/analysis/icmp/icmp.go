// Package icmp counts ICMP and ICMPv6 messages per type and code. A
// message type is not an endpoint: everything counts as rx.
package icmp

import (
	"github.com/multimeter-fw/multimeter/services/analysis"
	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/flowtable"
	"github.com/multimeter-fw/multimeter/services/stats"
)

// Key is an ICMP type and code (V6 for ICMPv6).
type Key struct {
	V6         bool
	Type, Code uint8
	Group      uint16
}

// Hash implements flowtable.Key.
func (k Key) Hash() uint64 {
	v := uint64(k.Type) | uint64(k.Code)<<8 | uint64(k.Group)<<16
	if k.V6 {
		v |= 1 << 40
	}
	return flowtable.Hash64(v)
}

// GroupID implements stats.Key.
func (k Key) GroupID() uint16 { return k.Group }

// Count adds packet p to a if it is ICMP.
func Count(a *analysis.Acc[Key], p *decode.Packet, group uint16) {
	switch {
	case p.Layers&decode.LayerICMPv4 != 0:
		a.Add(Key{Type: p.ICMPType, Code: p.ICMPCode, Group: group}, stats.Counters{RxPackets: 1, RxBytes: uint64(p.OrigLen)})
	case p.Layers&decode.LayerICMPv6 != 0:
		a.Add(Key{V6: true, Type: p.ICMPType, Code: p.ICMPCode, Group: group}, stats.Counters{RxPackets: 1, RxBytes: uint64(p.OrigLen)})
	}
}

// Store holds the ICMP series.
type Store struct {
	Messages *stats.Series[Key, struct{}]
}

// NewStore adds the ICMP series to st.
func NewStore(st *stats.Store) *Store {
	return &Store{Messages: stats.NewSeries[Key, struct{}](st, "icmp", 16384)}
}

// Merge adds one shard's second.
func (s *Store) Merge(sec int64, a *analysis.Acc[Key]) { analysis.MergeInto(a, sec, s.Messages) }
