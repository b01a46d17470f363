package flow

import (
	"github.com/multimeter-fw/multimeter/services/analysis"
	"github.com/multimeter-fw/multimeter/services/analysis/tcp"
	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/l7proto"
	"github.com/multimeter-fw/multimeter/services/stats"
)

// Conn is what the store keeps about a connection besides its counters
// (which are seen from side A: tx = sent by A).
type Conn struct {
	FirstNs, LastNs int64
	ClientSide      uint8
	App             l7proto.ID
	State           tcp.State
	VLAN            uint16
	MAC             [2]decode.MAC
	SIP             [2]uint64
	Handshake       bool
	ResponseNs      int64 // SYN -> SYN/ACK
	Retransmissions [2]uint64
	ZeroWindows     [2]uint64
	Resets          [2]uint64
}

// Store is the connection table of an analysis instance.
type Store struct {
	Conns *stats.Series[Key, Conn]
}

// NewStore adds the connection series to st.
func NewStore(st *stats.Store, capacity int) *Store {
	s := &Store{Conns: stats.NewSeries[Key, Conn](st, "connections", capacity)}
	s.Conns.IndexOwners(func(k *Key) (uint64, uint64) {
		return analysis.IPOwner(k.Group, k.A), analysis.IPOwner(k.Group, k.B)
	})
	return s
}

// Merge adds one flow record in second sec. Called with the store's write
// lock held.
func (s *Store) Merge(sec int64, r *Record) { s.merge(sec, r, r.Key.Hash()) }

// MergeAll adds flow records in second sec. Called with the store's write
// lock held.
func (s *Store) MergeAll(sec int64, recs []Record) {
	stats.Prefetched(s.Conns, len(recs), func(i int) *Key { return &recs[i].Key }, func(i int, h uint64) {
		s.merge(sec, &recs[i], h)
	})
}

// merge adds record r whose key has hash h.
func (s *Store) merge(sec int64, r *Record, h uint64) {
	c := stats.Counters{
		TxPackets: uint64(r.Sent[0].Packets), TxBytes: r.Sent[0].Bytes,
		RxPackets: uint64(r.Sent[1].Packets), RxBytes: r.Sent[1].Bytes,
	}
	a := s.Conns.AddHash(sec, r.Key, h, c)
	if a.FirstNs == 0 || r.FirstNs < a.FirstNs {
		a.FirstNs = r.FirstNs
	}
	if r.New && a.LastNs == 0 {
		a.ClientSide = r.ClientSide
	}
	a.LastNs = max(a.LastNs, r.LastNs)
	if r.App != l7proto.Unknown {
		a.App = r.App
	}
	a.State = r.State
	a.VLAN = r.VLAN
	for i := range 2 {
		if r.MAC[i] != (decode.MAC{}) {
			a.MAC[i] = r.MAC[i]
		}
		a.Retransmissions[i] += uint64(r.TCP.Retransmissions[i])
		a.ZeroWindows[i] += uint64(r.TCP.ZeroWindows[i])
		a.Resets[i] += uint64(r.TCP.Resets[i])
	}
	if r.SIP != ([2]uint64{}) {
		a.SIP = r.SIP
	}
	if r.TCP.Handshakes > 0 {
		a.Handshake = true
	}
	if r.TCP.ResponseNs > 0 {
		a.ResponseNs = r.TCP.ResponseNs
	}
}

// Get returns one connection.
func (s *Store) Get(k Key, q stats.Query) (stats.Entity[Key, Conn], bool) { return s.Conns.Get(k, q) }

// List returns a page of all connections of a group.
func (s *Store) List(lq stats.ListQuery) ([]stats.Entity[Key, Conn], int) {
	return s.Conns.List(lq, nil)
}

// ListOf returns a page of the connections of IP a. Counters stay as seen
// from side A of each connection.
func (s *Store) ListOf(a decode.Addr, lq stats.ListQuery) ([]stats.Entity[Key, Conn], int) {
	return s.Conns.ListOwned(analysis.IPOwner(lq.Group, a), lq, func(k *Key, _ *Conn) bool {
		return k.A == a || k.B == a
	}, nil)
}
