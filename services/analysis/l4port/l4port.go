// Package l4port counts traffic per L4 server port (TCP, UDP, SCTP): the
// port on the server side of each connection. The port is an endpoint:
// rx is what clients sent to it, tx what the server sent from it.
package l4port

import (
	"github.com/multimeter-fw/multimeter/services/analysis/flow"
	"github.com/multimeter-fw/multimeter/services/flowtable"
	"github.com/multimeter-fw/multimeter/services/stats"
)

// Key is a server port.
type Key struct {
	Port  uint16
	Proto uint8
	Group uint16
}

// Hash implements flowtable.Key.
func (k Key) Hash() uint64 {
	return flowtable.Hash64(uint64(k.Port) | uint64(k.Proto)<<16 | uint64(k.Group)<<24)
}

// GroupID implements stats.Key.
func (k Key) GroupID() uint16 { return k.Group }

// Attr counts the connections to a port.
type Attr struct {
	Connections uint64 `json:"connections"`
}

// Delta is one second of one port in a shard.
type Delta struct {
	C           stats.Counters
	Connections uint32
}

// Acc is one second of port figures of one shard.
type Acc = flowtable.Dense[Key, Delta]

// NewAcc returns an accumulator for capacity ports.
func NewAcc(capacity int) *Acc { return flowtable.NewDense[Key, Delta](capacity) }

// AddFlow counts one flow record (flows without ports are skipped).
func AddFlow(a *Acc, r *flow.Record) {
	k := &r.Key
	if k.PortA == 0 && k.PortB == 0 {
		return
	}
	s := r.ServerSide()
	d, _ := a.Upsert(Key{Port: k.Port(s), Proto: k.Proto, Group: k.Group})
	if d == nil {
		return
	}
	d.C.Add(stats.Counters{
		TxPackets: uint64(r.Sent[s].Packets), TxBytes: r.Sent[s].Bytes,
		RxPackets: uint64(r.Sent[1-s].Packets), RxBytes: r.Sent[1-s].Bytes,
	})
	if r.New {
		d.Connections++
	}
}

// Store holds the server port series.
type Store struct {
	Ports *stats.Series[Key, Attr]
}

// NewStore adds the server port series to st.
func NewStore(st *stats.Store, capacity int) *Store {
	return &Store{Ports: stats.NewSeries[Key, Attr](st, "l4ServerPorts", capacity)}
}

// Merge adds one shard's second.
func (s *Store) Merge(sec int64, a *Acc) {
	for i := range a.Len() {
		d := a.Val(i)
		s.Ports.Add(sec, *a.Key(i), d.C).Connections += uint64(d.Connections)
	}
}
