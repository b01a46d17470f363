// Package l7 counts traffic per application protocol as the DPI module
// detected it (services/dpi). A protocol is not an endpoint: everything
// it carried counts as rx.
package l7

import (
	"github.com/multimeter-fw/multimeter/services/analysis/flow"
	"github.com/multimeter-fw/multimeter/services/flowtable"
	"github.com/multimeter-fw/multimeter/services/l7proto"
	"github.com/multimeter-fw/multimeter/services/stats"
)

// Key is a protocol in a group.
type Key struct {
	App   l7proto.ID
	Group uint16
}

// Hash implements flowtable.Key.
func (k Key) Hash() uint64 { return flowtable.Hash64(uint64(k.App) | uint64(k.Group)<<16) }

// GroupID implements stats.Key.
func (k Key) GroupID() uint16 { return k.Group }

// Attr counts the flows of a protocol.
type Attr struct {
	Flows uint64 `json:"flows"`
}

// Delta is one second of one protocol in a shard.
type Delta struct {
	C     stats.Counters
	Flows uint32
}

// Acc is one second of protocol figures of one shard.
type Acc = flowtable.Dense[Key, Delta]

// NewAcc returns an accumulator for capacity protocols.
func NewAcc(capacity int) *Acc { return flowtable.NewDense[Key, Delta](capacity) }

// AddFlow counts one flow record.
func AddFlow(a *Acc, r *flow.Record) {
	d, _ := a.Upsert(Key{App: r.App, Group: r.Key.Group})
	if d == nil {
		return
	}
	d.C.RxPackets += uint64(r.Sent[0].Packets) + uint64(r.Sent[1].Packets)
	d.C.RxBytes += r.Sent[0].Bytes + r.Sent[1].Bytes
	if r.New {
		d.Flows++
	}
}

// Store holds the protocol series.
type Store struct {
	Protocols *stats.Series[Key, Attr]
}

// NewStore adds the protocol series to st.
func NewStore(st *stats.Store) *Store {
	return &Store{Protocols: stats.NewSeries[Key, Attr](st, "dpi", 16384)}
}

// Merge adds one shard's second.
func (s *Store) Merge(sec int64, a *Acc) {
	for i := range a.Len() {
		d := a.Val(i)
		s.Protocols.Add(sec, *a.Key(i), d.C).Flows += uint64(d.Flows)
	}
}
