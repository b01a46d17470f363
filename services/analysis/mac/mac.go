// Package mac keeps the statistics of Ethernet addresses: traffic (tx as
// source, rx as destination, so broadcast and multicast addresses only
// receive), the VLANs a MAC was seen in, its peers and the EtherTypes it
// sent. The IPs seen behind a MAC are in the IP module (ip.Store.IPsOf).
//
// The shard half sums each non-IP packet, and each second of each IP flow
// (see package flow), into per-second L2 flows (MAC pair, EtherType,
// VLANs) and derives MAC, peer, protocol and VLAN figures from those when
// the second closes.
package mac

import (
	"bytes"

	"github.com/multimeter-fw/multimeter/services/analysis"
	"github.com/multimeter-fw/multimeter/services/analysis/flow"
	"github.com/multimeter-fw/multimeter/services/analysis/vlan"
	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/flowtable"
	"github.com/multimeter-fw/multimeter/services/stats"
)

func macWord(m decode.MAC) uint64 {
	return uint64(m[0]) | uint64(m[1])<<8 | uint64(m[2])<<16 | uint64(m[3])<<24 | uint64(m[4])<<32 | uint64(m[5])<<40
}

// Key is a MAC in a group.
type Key struct {
	MAC   decode.MAC
	Group uint16
}

// Hash implements flowtable.Key.
func (k Key) Hash() uint64 { return flowtable.Mix(macWord(k.MAC), uint64(k.Group)) }

// GroupID implements stats.Key.
func (k Key) GroupID() uint16 { return k.Group }

// PairKey is two MACs that exchanged frames, A < B; counters seen from A.
type PairKey struct {
	A, B  decode.MAC
	Group uint16
}

// Hash implements flowtable.Key.
func (k PairKey) Hash() uint64 { return flowtable.Mix(macWord(k.A), macWord(k.B)^uint64(k.Group)<<48) }

// GroupID implements stats.Key.
func (k PairKey) GroupID() uint16 { return k.Group }

// ProtoKey is an EtherType a MAC sent (the innermost, after VLAN tags).
type ProtoKey struct {
	MAC       decode.MAC
	EtherType uint16
	Group     uint16
}

// Hash implements flowtable.Key.
func (k ProtoKey) Hash() uint64 {
	return flowtable.Mix(macWord(k.MAC), uint64(k.EtherType)|uint64(k.Group)<<16|1<<40)
}

// GroupID implements stats.Key.
func (k ProtoKey) GroupID() uint16 { return k.Group }

// l2Key is one second's L2 flow in a shard.
type l2Key struct {
	A, B         decode.MAC
	EtherType    uint16
	Outer, Inner uint16
	Tagged       uint8 // tags seen (0, 1, 2)
	Group        uint16
}

func (k l2Key) Hash() uint64 {
	return flowtable.Mix(macWord(k.A)^macWord(k.B)<<3, uint64(k.EtherType)|uint64(k.Outer)<<16|uint64(k.Inner)<<28|uint64(k.Group)<<40|uint64(k.Tagged)<<56)
}

type dir struct {
	packets uint32
	bytes   uint64
}

// Shard sums one second of packets per L2 flow.
type Shard struct {
	flows *flowtable.Dense[l2Key, [2]dir]
}

// NewShard returns the shard half for about capacity L2 flows a second.
func NewShard(capacity int) *Shard {
	return &Shard{flows: flowtable.NewDense[l2Key, [2]dir](capacity)}
}

// Room is how many more packets surely fit.
func (s *Shard) Room() int { return s.flows.Cap() - s.flows.Len() }

// Len is the number of L2 flows summed since the last Drain.
func (s *Shard) Len() int { return s.flows.Len() }

// Packet counts one frame.
func (s *Shard) Packet(p *decode.Packet, group uint16) {
	if p.Layers&decode.LayerEthernet == 0 {
		return // Linux cooked captures and raw IP have no Ethernet addresses
	}
	k := l2Key{A: p.SrcMAC, B: p.DstMAC, EtherType: p.EtherType, Group: group, Tagged: min(p.VLANCount, 2)}
	if p.VLANCount > 0 {
		k.Outer = p.VLANs[0]
	}
	if p.VLANCount > 1 {
		k.Inner = p.VLANs[1]
	}
	side := 0
	if bytes.Compare(k.A[:], k.B[:]) > 0 {
		k.A, k.B, side = k.B, k.A, 1
	}
	v, _ := s.flows.Upsert(k)
	if v == nil {
		return // the engine drains before this can happen
	}
	v[side].packets++
	v[side].bytes += uint64(p.OrigLen)
}

// AddFlow counts one second of an IP flow: each side's packets went from
// its source to its destination MAC (as its first packet did).
func (s *Shard) AddFlow(r *flow.Record) {
	for side := range 2 {
		d := r.L2Sent[side]
		if d.Packets == 0 {
			continue
		}
		k := l2Key{A: r.MAC[side], B: r.DstMAC[side], EtherType: r.EtherType, Group: r.Key.Group, Tagged: r.VLANCount, Outer: r.VLAN, Inner: r.InnerVLAN}
		i := 0
		if bytes.Compare(k.A[:], k.B[:]) > 0 {
			k.A, k.B, i = k.B, k.A, 1
		}
		v, _ := s.flows.Upsert(k)
		if v == nil {
			return // the engine drains before this can happen
		}
		v[i].packets += d.Packets
		v[i].bytes += d.Bytes
	}
}

// Drain derives MAC and VLAN figures from the L2 flows summed so far into
// a and vlans, and starts afresh. vlans may be nil (no VLAN module).
func (s *Shard) Drain(a *Acc, vlans *analysis.Acc[vlan.Key]) {
	for i := range s.flows.Len() {
		k, v := s.flows.Key(i), s.flows.Val(i)
		a.addL2(k, v)
		if vlans != nil && k.Tagged > 0 {
			vlans.Add(vlan.Key{Outer: k.Outer, Inner: k.Inner, Group: k.Group}, stats.Counters{
				RxPackets: uint64(v[0].packets) + uint64(v[1].packets), RxBytes: v[0].bytes + v[1].bytes,
			})
		}
	}
	s.flows.Reset()
}

// delta is one second of one MAC.
type delta struct {
	c     stats.Counters
	vlans VLANSet
}

// VLANSet is a small set of VLAN IDs (outer tags); 0 means untagged.
type VLANSet struct {
	IDs [4]uint16
	N   uint8
}

func (v *VLANSet) add(id uint16) {
	for i := range v.N {
		if v.IDs[i] == id {
			return
		}
	}
	if int(v.N) < len(v.IDs) {
		v.IDs[v.N] = id
		v.N++
	}
}

// List returns the VLAN IDs.
func (v *VLANSet) List() []uint16 { return append([]uint16(nil), v.IDs[:v.N]...) }

// Acc is one second of MAC figures of one shard.
type Acc struct {
	macs   *flowtable.Dense[Key, delta]
	pairs  *analysis.Acc[PairKey]
	protos *analysis.Acc[ProtoKey]
}

// NewAcc returns an accumulator for about capacity MACs a second.
func NewAcc(capacity int) *Acc {
	return &Acc{
		macs:   flowtable.NewDense[Key, delta](capacity),
		pairs:  analysis.NewAcc[PairKey](capacity),
		protos: analysis.NewAcc[ProtoKey](capacity),
	}
}

// Room is how many more L2 flows surely fit.
func (a *Acc) Room() int {
	return min(a.macs.Cap()-a.macs.Len(), a.pairs.Room(), a.protos.Room()) / 2
}

// Reset empties the accumulator.
func (a *Acc) Reset() {
	a.macs.Reset()
	a.pairs.Reset()
	a.protos.Reset()
}

func (a *Acc) addL2(k *l2Key, v *[2]dir) {
	macs := [2]decode.MAC{k.A, k.B}
	for s := range 2 {
		c := stats.Counters{
			TxPackets: uint64(v[s].packets), TxBytes: v[s].bytes,
			RxPackets: uint64(v[1-s].packets), RxBytes: v[1-s].bytes,
		}
		if k.A == k.B { // to itself: sent and received every frame
			if s == 1 {
				break
			}
			all := c.Packets()
			c = stats.Counters{TxPackets: all, TxBytes: c.Bytes(), RxPackets: all, RxBytes: c.Bytes()}
		}
		if d, _ := a.macs.Upsert(Key{MAC: macs[s], Group: k.Group}); d != nil {
			d.c.Add(c)
			d.vlans.add(k.Outer)
		}
		if v[s].packets > 0 {
			a.protos.Add(ProtoKey{MAC: macs[s], EtherType: k.EtherType, Group: k.Group}, stats.Counters{TxPackets: c.TxPackets, TxBytes: c.TxBytes})
		}
	}
	if k.A != k.B {
		a.pairs.Add(PairKey{A: k.A, B: k.B, Group: k.Group}, stats.Counters{
			TxPackets: uint64(v[0].packets), TxBytes: v[0].bytes, RxPackets: uint64(v[1].packets), RxBytes: v[1].bytes,
		})
	}
}

// Attr is what the store keeps about a MAC besides its counters.
type Attr struct {
	VLANs VLANSet // outer VLAN IDs seen (0: untagged), the first four
}

// Capacities sizes the MAC tables.
type Capacities struct {
	MACs, Pairs, Protocols int
}

// Store is the MAC module's part of the statistics store.
type Store struct {
	MACs      *stats.Series[Key, Attr]
	Pairs     *stats.Series[PairKey, struct{}]
	Protocols *stats.Series[ProtoKey, struct{}]
}

// NewStore adds the MAC series to st.
func NewStore(st *stats.Store, c Capacities) *Store {
	s := &Store{
		MACs:      stats.NewSeries[Key, Attr](st, "mac", c.MACs),
		Pairs:     stats.NewSeries[PairKey, struct{}](st, "macPeers", c.Pairs),
		Protocols: stats.NewSeries[ProtoKey, struct{}](st, "macProtocols", c.Protocols),
	}
	s.Pairs.IndexOwners(func(k *PairKey) (uint64, uint64) {
		return analysis.MACOwner(k.Group, k.A), analysis.MACOwner(k.Group, k.B)
	})
	s.Protocols.IndexOwners(func(k *ProtoKey) (uint64, uint64) { return analysis.MACOwner(k.Group, k.MAC), 0 })
	return s
}

// Merge adds one shard's second. Called with the store's write lock held.
func (s *Store) Merge(sec int64, a *Acc) {
	for i := range a.macs.Len() {
		d := a.macs.Val(i)
		at := s.MACs.Add(sec, *a.macs.Key(i), d.c)
		for _, id := range d.vlans.IDs[:d.vlans.N] {
			at.VLANs.add(id)
		}
	}
	analysis.MergeInto(a.pairs, sec, s.Pairs)
	analysis.MergeInto(a.protos, sec, s.Protocols)
}

// Get returns one MAC.
func (s *Store) Get(group uint16, m decode.MAC, q stats.Query) (stats.Entity[Key, Attr], bool) {
	return s.MACs.Get(Key{MAC: m, Group: group}, q)
}

// List returns a page of the group's MACs.
func (s *Store) List(lq stats.ListQuery) ([]stats.Entity[Key, Attr], int) {
	return s.MACs.List(lq, nil)
}

// Peer is a MAC's peer with the traffic between them, seen from the MAC.
type Peer struct {
	MAC decode.MAC
	stats.Figures
}

// Peers returns a page of the peers of m.
func (s *Store) Peers(m decode.MAC, lq stats.ListQuery) ([]Peer, int) {
	items, total := s.Pairs.ListOwned(analysis.MACOwner(lq.Group, m), lq,
		func(k *PairKey, _ *struct{}) bool { return k.A == m || k.B == m },
		func(k *PairKey) bool { return k.B == m })
	out := make([]Peer, len(items))
	for i, e := range items {
		p := Peer{MAC: e.Key.B, Figures: e.Figures}
		if e.Key.B == m {
			p.MAC = e.Key.A
		}
		out[i] = p
	}
	return out, total
}

// ProtocolsOf returns a page of the EtherTypes m sent.
func (s *Store) ProtocolsOf(m decode.MAC, lq stats.ListQuery) ([]stats.Entity[ProtoKey, struct{}], int) {
	return s.Protocols.ListOwned(analysis.MACOwner(lq.Group, m), lq,
		func(k *ProtoKey, _ *struct{}) bool { return k.MAC == m }, nil)
}
