// Package iface counts the traffic the analysis processed per monitor
// interface (port). Packets a port received count as rx; tx stays zero on a
// monitor port (the capture source reports what bridge mode forwards).
// Packets that were not processed because the analyzers were overloaded,
// and kernel drops, are counted by the engine and the capture source.
package iface

import (
	"github.com/multimeter-fw/multimeter/services/flowtable"
	"github.com/multimeter-fw/multimeter/services/stats"
)

// Key is a port in a group.
type Key struct {
	Port  uint16
	Group uint16
}

// Hash implements flowtable.Key.
func (k Key) Hash() uint64 { return flowtable.Hash64(uint64(k.Port) | uint64(k.Group)<<16) }

// GroupID implements stats.Key.
func (k Key) GroupID() uint16 { return k.Group }

// Attr holds the errors seen per interface.
type Attr struct {
	DecodeErrors uint64 `json:"decodeErrors"` // truncated or malformed frames
}

// Delta is one second of one port in a shard.
type Delta struct {
	C            stats.Counters
	DecodeErrors uint64
}

// Store holds the interface series.
type Store struct {
	Ports *stats.Series[Key, Attr]
}

// NewStore adds the interface series to st.
func NewStore(st *stats.Store) *Store {
	return &Store{Ports: stats.NewSeries[Key, Attr](st, "interface", 4096)}
}

// Merge adds one shard's second.
func (s *Store) Merge(sec int64, a *flowtable.Dense[Key, Delta]) {
	for i := range a.Len() {
		d := a.Val(i)
		s.Ports.Add(sec, *a.Key(i), d.C).DecodeErrors += d.DecodeErrors
	}
}
