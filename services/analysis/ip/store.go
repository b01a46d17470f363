package ip

import (
	"github.com/multimeter-fw/multimeter/services/analysis"
	"github.com/multimeter-fw/multimeter/services/analysis/tcp"
	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/stats"
)

// Attr is what the store keeps about an IP besides its counters.
type Attr struct {
	TTLMin, TTLMax uint8
	// Connections the IP opened (client) and accepted (server).
	ConnsAsClient, ConnsAsServer uint64
	TCP                          tcp.Stats
}

// PortAttr is what the store keeps about an IP's port.
type PortAttr struct {
	AsServer, AsClient uint64 // connections with the IP in that role
}

// Capacities sizes the IP tables.
type Capacities struct {
	IPs, Pairs, Ports, Protocols, MACs int
}

// Store is the IP module's part of the statistics store.
type Store struct {
	IPs       *stats.Series[Key, Attr]
	Pairs     *stats.Series[PairKey, struct{}]
	Ports     *stats.Series[PortKey, PortAttr]
	Protocols *stats.Series[ProtoKey, struct{}]
	MACs      *stats.Series[MACKey, struct{}]
}

// NewStore adds the IP series to st.
func NewStore(st *stats.Store, c Capacities) *Store {
	s := &Store{
		IPs:       stats.NewSeries[Key, Attr](st, "ip", c.IPs),
		Pairs:     stats.NewSeries[PairKey, struct{}](st, "ipPeers", c.Pairs),
		Ports:     stats.NewSeries[PortKey, PortAttr](st, "ipPorts", c.Ports),
		Protocols: stats.NewSeries[ProtoKey, struct{}](st, "ipProtocols", c.Protocols),
		MACs:      stats.NewSeries[MACKey, struct{}](st, "ipMacs", c.MACs),
	}
	s.Pairs.IndexOwners(func(k *PairKey) (uint64, uint64) {
		return analysis.IPOwner(k.Group, k.A), analysis.IPOwner(k.Group, k.B)
	})
	s.Ports.IndexOwners(func(k *PortKey) (uint64, uint64) { return analysis.IPOwner(k.Group, k.Addr), 0 })
	s.Protocols.IndexOwners(func(k *ProtoKey) (uint64, uint64) { return analysis.IPOwner(k.Group, k.Addr), 0 })
	s.MACs.IndexOwners(func(k *MACKey) (uint64, uint64) {
		return analysis.IPOwner(k.Group, k.Addr), analysis.MACOwner(k.Group, k.MAC)
	})
	return s
}

// Merge adds one shard's second. Called with the store's write lock held.
func (s *Store) Merge(sec int64, a *Acc) {
	stats.Prefetched(s.IPs, a.ips.Len(), a.ips.Key, func(i int, h uint64) {
		d := a.ips.Val(i)
		at := s.IPs.AddHash(sec, *a.ips.Key(i), h, d.c)
		if d.ttlMax > 0 {
			if at.TTLMax == 0 || d.ttlMin < at.TTLMin {
				at.TTLMin = d.ttlMin
			}
			at.TTLMax = max(at.TTLMax, d.ttlMax)
		}
		at.ConnsAsClient += uint64(d.asClient)
		at.ConnsAsServer += uint64(d.asServer)
		at.TCP.Merge(&d.tcp)
	})
	analysis.MergeInto(a.pairs, sec, s.Pairs)
	stats.Prefetched(s.Ports, a.ports.Len(), a.ports.Key, func(i int, h uint64) {
		d := a.ports.Val(i)
		at := s.Ports.AddHash(sec, *a.ports.Key(i), h, d.c)
		at.AsServer += uint64(d.asServer)
		at.AsClient += uint64(d.asClient)
	})
	analysis.MergeInto(a.protos, sec, s.Protocols)
	analysis.MergeInto(a.macs, sec, s.MACs)
}

// Get returns one IP.
func (s *Store) Get(group uint16, addr decode.Addr, q stats.Query) (stats.Entity[Key, Attr], bool) {
	return s.IPs.Get(Key{Addr: addr, Group: group}, q)
}

// List returns a page of the group's IPs.
func (s *Store) List(lq stats.ListQuery) ([]stats.Entity[Key, Attr], int) {
	return s.IPs.List(lq, nil)
}

// Peer is an IP's peer with the traffic between them, seen from the IP.
type Peer struct {
	Addr decode.Addr
	stats.Figures
}

// Peers returns a page of the peers of addr.
func (s *Store) Peers(addr decode.Addr, lq stats.ListQuery) ([]Peer, int) {
	items, total := s.Pairs.ListOwned(analysis.IPOwner(lq.Group, addr), lq,
		func(k *PairKey, _ *struct{}) bool { return k.A == addr || k.B == addr },
		func(k *PairKey) bool { return k.B == addr })
	out := make([]Peer, len(items))
	for i, e := range items {
		p := Peer{Addr: e.Key.B, Figures: e.Figures}
		if e.Key.B == addr {
			p.Addr = e.Key.A
		}
		out[i] = p
	}
	return out, total
}

// PortsOf returns a page of the L4 ports addr used.
func (s *Store) PortsOf(addr decode.Addr, lq stats.ListQuery) ([]stats.Entity[PortKey, PortAttr], int) {
	return s.Ports.ListOwned(analysis.IPOwner(lq.Group, addr), lq,
		func(k *PortKey, _ *PortAttr) bool { return k.Addr == addr }, nil)
}

// ProtocolsOf returns a page of the application protocols addr used.
func (s *Store) ProtocolsOf(addr decode.Addr, lq stats.ListQuery) ([]stats.Entity[ProtoKey, struct{}], int) {
	return s.Protocols.ListOwned(analysis.IPOwner(lq.Group, addr), lq,
		func(k *ProtoKey, _ *struct{}) bool { return k.Addr == addr }, nil)
}

// MACsOf returns a page of the MACs addr was sent from.
func (s *Store) MACsOf(addr decode.Addr, lq stats.ListQuery) ([]stats.Entity[MACKey, struct{}], int) {
	return s.MACs.ListOwned(analysis.IPOwner(lq.Group, addr), lq,
		func(k *MACKey, _ *struct{}) bool { return k.Addr == addr }, nil)
}

// IPsOf returns a page of the IPs seen sending from MAC m (for the MAC
// module's view).
func (s *Store) IPsOf(m decode.MAC, lq stats.ListQuery) ([]stats.Entity[MACKey, struct{}], int) {
	return s.MACs.ListOwned(analysis.MACOwner(lq.Group, m), lq,
		func(k *MACKey, _ *struct{}) bool { return k.MAC == m }, nil)
}
