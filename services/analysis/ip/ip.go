// Package ip keeps the statistics of IP addresses (v4 and v6): traffic,
// first and last seen, TTL range, connections and TCP figures per IP, and
// per IP its peers, the L4 (server) ports, application protocols and MACs
// it used. Tx is what the IP sent (it was the source), rx what it received.
//
// The shard half (Acc) derives one second's figures from the flow records
// of that second; the store half (Store) merges them and answers queries.
package ip

import (
	"github.com/multimeter-fw/multimeter/services/analysis"
	"github.com/multimeter-fw/multimeter/services/analysis/flow"
	"github.com/multimeter-fw/multimeter/services/analysis/tcp"
	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/flowtable"
	"github.com/multimeter-fw/multimeter/services/l7proto"
	"github.com/multimeter-fw/multimeter/services/stats"
)

// Key is an IP address in a group.
type Key struct {
	Addr  decode.Addr
	Group uint16
}

// Hash implements flowtable.Key.
func (k Key) Hash() uint64 {
	return flowtable.Mix(flowtable.Hash16Bytes((*[16]byte)(&k.Addr)), uint64(k.Group))
}

// GroupID implements stats.Key.
func (k Key) GroupID() uint16 { return k.Group }

// PairKey is two IPs that talked, A < B; counters are seen from A.
type PairKey struct {
	A, B  decode.Addr
	Group uint16
}

// Hash implements flowtable.Key.
func (k PairKey) Hash() uint64 {
	return flowtable.Mix(flowtable.Hash16Bytes((*[16]byte)(&k.A))^flowtable.Hash16Bytes((*[16]byte)(&k.B))<<1, uint64(k.Group))
}

// GroupID implements stats.Key.
func (k PairKey) GroupID() uint16 { return k.Group }

// PortKey is an L4 port an IP used: the server port of its connections,
// whether the IP was the client or the server.
type PortKey struct {
	Addr  decode.Addr
	Port  uint16
	Proto uint8
	Group uint16
}

// Hash implements flowtable.Key.
func (k PortKey) Hash() uint64 {
	return flowtable.Mix(flowtable.Hash16Bytes((*[16]byte)(&k.Addr)), uint64(k.Port)|uint64(k.Proto)<<16|uint64(k.Group)<<24)
}

// GroupID implements stats.Key.
func (k PortKey) GroupID() uint16 { return k.Group }

// ProtoKey is an application protocol an IP used.
type ProtoKey struct {
	Addr  decode.Addr
	App   l7proto.ID
	Group uint16
}

// Hash implements flowtable.Key.
func (k ProtoKey) Hash() uint64 {
	return flowtable.Mix(flowtable.Hash16Bytes((*[16]byte)(&k.Addr)), uint64(k.App)|uint64(k.Group)<<16|1<<40)
}

// GroupID implements stats.Key.
func (k ProtoKey) GroupID() uint16 { return k.Group }

// MACKey is a MAC an IP was seen behind (as sender).
type MACKey struct {
	Addr  decode.Addr
	MAC   decode.MAC
	Group uint16
}

// Hash implements flowtable.Key.
func (k MACKey) Hash() uint64 {
	m := k.MAC
	v := uint64(m[0]) | uint64(m[1])<<8 | uint64(m[2])<<16 | uint64(m[3])<<24 | uint64(m[4])<<32 | uint64(m[5])<<40
	return flowtable.Mix(flowtable.Hash16Bytes((*[16]byte)(&k.Addr)), v^uint64(k.Group)<<48)
}

// GroupID implements stats.Key.
func (k MACKey) GroupID() uint16 { return k.Group }

// delta is one second of one IP in a shard.
type delta struct {
	c              stats.Counters
	ttlMin, ttlMax uint8
	tcp            tcp.Stats
	asClient       uint32
	asServer       uint32
}

type portDelta struct {
	c        stats.Counters
	asServer uint32 // new connections with this IP as server
	asClient uint32
}

// Acc is one second of IP figures of one shard.
type Acc struct {
	ips    *flowtable.Dense[Key, delta]
	pairs  *analysis.Acc[PairKey]
	ports  *flowtable.Dense[PortKey, portDelta]
	protos *analysis.Acc[ProtoKey]
	macs   *analysis.Acc[MACKey]
	level  analysis.Level
	// Lost counts figures that found the accumulator full.
	Lost uint64
}

// NewAcc returns an accumulator for about capacity IPs per second; level
// decides what is derived (L3: IPs, peers, MACs; L4: ports; all:
// protocols).
func NewAcc(capacity int, level analysis.Level) *Acc {
	return &Acc{
		ips:    flowtable.NewDense[Key, delta](capacity),
		pairs:  analysis.NewAcc[PairKey](capacity),
		ports:  flowtable.NewDense[PortKey, portDelta](capacity),
		protos: analysis.NewAcc[ProtoKey](capacity),
		macs:   analysis.NewAcc[MACKey](capacity),
		level:  level,
	}
}

// Room is how many more flow records surely fit.
func (a *Acc) Room() int {
	return min(a.ips.Cap()-a.ips.Len(), a.pairs.Room(), a.ports.Cap()-a.ports.Len(), a.protos.Room(), a.macs.Room()) / 2
}

// Reset empties the accumulator.
func (a *Acc) Reset() {
	a.ips.Reset()
	a.pairs.Reset()
	a.ports.Reset()
	a.protos.Reset()
	a.macs.Reset()
}

// sideCounters are the counters of side s of a flow record from its view.
func sideCounters(r *flow.Record, s int) stats.Counters {
	return stats.Counters{
		TxPackets: uint64(r.Sent[s].Packets), TxBytes: r.Sent[s].Bytes,
		RxPackets: uint64(r.Sent[1-s].Packets), RxBytes: r.Sent[1-s].Bytes,
	}
}

// AddFlow derives the IP figures of one flow record.
func (a *Acc) AddFlow(r *flow.Record) {
	k := &r.Key
	self := k.A == k.B // talking to itself: one IP that sent and received everything
	for s := range 2 {
		c := sideCounters(r, s)
		if self {
			if s == 1 {
				a.addTCP(Key{Addr: k.A, Group: k.Group}, r, s)
				break
			}
			c = stats.Counters{TxPackets: c.Packets(), TxBytes: c.Bytes(), RxPackets: c.Packets(), RxBytes: c.Bytes()}
		}
		a.addSide(r, s, c)
	}
	if !self {
		pk := PairKey{A: k.A, B: k.B, Group: k.Group}
		a.pairs.AddHash(&pk, pk.Hash(), sideCounters(r, 0))
	}
}

// addSide adds what side s of flow r did, with counters c from its view.
func (a *Acc) addSide(r *flow.Record, s int, c stats.Counters) {
	k := &r.Key
	addr := k.Addr(s)
	server := r.ServerSide()
	ik := Key{Addr: addr, Group: k.Group}
	d, isNew := a.ips.UpsertHash(&ik, ik.Hash())
	if d == nil {
		a.Lost++
		return
	}
	if isNew {
		d.ttlMin = 255
	}
	d.c.Add(c)
	if r.Sent[s].Packets > 0 {
		d.ttlMin = min(d.ttlMin, r.TTLMin[s])
		d.ttlMax = max(d.ttlMax, r.TTLMax[s])
	}
	if r.New {
		if s == server {
			d.asServer++
		} else {
			d.asClient++
		}
	}
	if k.Proto == decode.ProtoTCP {
		addTCPEvents(d, r, s)
	}
	if r.Sent[s].Packets > 0 && r.MAC[s] != (decode.MAC{}) {
		mk := MACKey{Addr: addr, MAC: r.MAC[s], Group: k.Group}
		a.macs.AddHash(&mk, mk.Hash(), stats.Counters{TxPackets: c.TxPackets, TxBytes: c.TxBytes})
	}
	if a.level >= analysis.LevelL4 && (k.PortA != 0 || k.PortB != 0) {
		pk := PortKey{Addr: addr, Port: k.Port(server), Proto: k.Proto, Group: k.Group}
		pd, _ := a.ports.UpsertHash(&pk, pk.Hash())
		if pd == nil {
			a.Lost++
		} else {
			pd.c.Add(c)
			if r.New && s == server {
				pd.asServer++
			} else if r.New {
				pd.asClient++
			}
		}
	}
	if a.level >= analysis.LevelAll {
		pk := ProtoKey{Addr: addr, App: r.App, Group: k.Group}
		a.protos.AddHash(&pk, pk.Hash(), c)
	}
}

// addTCP adds the TCP events side s of flow r caused to IP ik.
func (a *Acc) addTCP(ik Key, r *flow.Record, s int) {
	if r.Key.Proto != decode.ProtoTCP {
		return
	}
	d, _ := a.ips.Upsert(ik)
	if d == nil {
		a.Lost++
		return
	}
	addTCPEvents(d, r, s)
}

// addTCPEvents adds the TCP events side s of flow r caused to an IP's
// delta.
func addTCPEvents(d *delta, r *flow.Record, s int) {
	ev := &r.TCP
	d.tcp.Retransmissions += uint64(ev.Retransmissions[s])
	d.tcp.ZeroWindows += uint64(ev.ZeroWindows[s])
	d.tcp.Resets += uint64(ev.Resets[s])
	if ev.Opened {
		d.tcp.Connections++
	}
	if ev.Handshakes > 0 {
		if int(ev.ServerSide) == s {
			d.tcp.Handshakes++
			d.tcp.AddResponse(ev.ResponseNs)
		} else {
			d.tcp.HandshakesAsClient++
		}
	}
}
