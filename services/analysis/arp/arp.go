// Package arp analyses ARP: requests, replies and gratuitous ARP per IP,
// the MAC an IP is bound to, how often that binding changed, and frames
// whose ARP sender MAC differs from their Ethernet source (a mismatch,
// typical of proxies and spoofing). An IP's tx counts the ARP packets it
// sent (as sender), rx those that targeted it.
//
// The dispatcher sends all ARP packets of one sender IP to one shard, so
// each shard sees every binding change of the IPs it owns in order.
package arp

import (
	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/flowtable"
	"github.com/multimeter-fw/multimeter/services/stats"
)

// ARP operations.
const (
	OpRequest = 1
	OpReply   = 2
)

// Key is an IPv4 address (IPv4-mapped) in a group.
type Key struct {
	IP    decode.Addr
	Group uint16
}

// Hash implements flowtable.Key.
func (k Key) Hash() uint64 {
	return flowtable.Mix(flowtable.Hash16Bytes((*[16]byte)(&k.IP)), uint64(k.Group)|1<<20)
}

// GroupID implements stats.Key.
func (k Key) GroupID() uint16 { return k.Group }

// Counts are ARP event counters.
type Counts struct {
	Requests   uint64 `json:"requests"`
	Replies    uint64 `json:"replies"`
	Gratuitous uint64 `json:"gratuitous"`
	Changes    uint64 `json:"macChanges"`    // the IP's MAC changed
	Mismatches uint64 `json:"macMismatches"` // ARP sender MAC != Ethernet source
}

func (c *Counts) add(o *Counts) {
	c.Requests += o.Requests
	c.Replies += o.Replies
	c.Gratuitous += o.Gratuitous
	c.Changes += o.Changes
	c.Mismatches += o.Mismatches
}

// Delta is one second of one IP in a shard.
type Delta struct {
	C      stats.Counters
	Counts Counts
	MAC    decode.MAC // latest sender MAC (zero: not a sender this second)
	Prev   decode.MAC // MAC before the latest change
}

// Acc is one second of ARP figures of one shard.
type Acc = flowtable.Dense[Key, Delta]

// NewAcc returns an accumulator for capacity IPs a second.
func NewAcc(capacity int) *Acc { return flowtable.NewDense[Key, Delta](capacity) }

// Shard remembers the MAC of every sender IP it saw.
type Shard struct {
	bindings *flowtable.Table[Key, decode.MAC]
}

// NewShard returns the shard half with room for capacity bindings.
func NewShard(capacity int) *Shard {
	return &Shard{bindings: flowtable.New[Key, decode.MAC](capacity)}
}

// Packet analyses one ARP packet.
func (s *Shard) Packet(a *Acc, p *decode.Packet, group uint16, sec int64) {
	if p.Layers&decode.LayerARP == 0 {
		return
	}
	c := stats.Counters{TxPackets: 1, TxBytes: uint64(p.OrigLen)}
	sender := Key{IP: p.ARPSenderIP, Group: group}
	d, _ := a.Upsert(sender)
	if d == nil {
		return
	}
	d.C.Add(c)
	gratuitous := p.ARPSenderIP == p.ARPTargetIP
	switch p.ARPOp {
	case OpRequest:
		d.Counts.Requests++
	case OpReply:
		d.Counts.Replies++
	}
	if gratuitous {
		d.Counts.Gratuitous++
	}
	if p.Layers&decode.LayerEthernet != 0 && p.ARPSenderMAC != p.SrcMAC {
		d.Counts.Mismatches++
	}
	if p.ARPSenderIP != decode.AddrFrom4([4]byte{}) { // not a probe
		slot, isNew := s.bindings.Upsert(sender, uint32(max(sec, 0)))
		mac := s.bindings.Val(slot)
		if !isNew && *mac != p.ARPSenderMAC {
			d.Counts.Changes++
			d.Prev = *mac
		}
		*mac = p.ARPSenderMAC
		d.MAC = p.ARPSenderMAC
	}
	if !gratuitous {
		if t, _ := a.Upsert(Key{IP: p.ARPTargetIP, Group: group}); t != nil {
			t.C.Add(c.Swap())
		}
	}
}

// Attr is what the store keeps about an IP's ARP.
type Attr struct {
	MAC     decode.MAC // current binding
	PrevMAC decode.MAC // binding before the last change
	Counts
}

// Store holds the ARP series: per IP, and totals per group (IP ::).
type Store struct {
	IPs    *stats.Series[Key, Attr]
	Totals *stats.Series[Key, Counts]
}

// NewStore adds the ARP series to st.
func NewStore(st *stats.Store, capacity int) *Store {
	return &Store{
		IPs:    stats.NewSeries[Key, Attr](st, "arp", capacity),
		Totals: stats.NewSeries[Key, Counts](st, "arpTotals", 1024),
	}
}

// Merge adds one shard's second. Called with the store's write lock held.
func (s *Store) Merge(sec int64, a *Acc) {
	for i := range a.Len() {
		k, d := a.Key(i), a.Val(i)
		at := s.IPs.Add(sec, *k, d.C)
		at.Counts.add(&d.Counts)
		if d.MAC != (decode.MAC{}) {
			if d.Counts.Changes > 0 {
				at.PrevMAC = d.Prev
			} else if at.MAC != (decode.MAC{}) && at.MAC != d.MAC {
				// Seen by different shards over time: still a change.
				at.Changes++
				at.PrevMAC = at.MAC
			}
			at.MAC = d.MAC
		}
		if d.C.TxPackets > 0 {
			s.Totals.Add(sec, Key{Group: k.Group}, stats.Counters{RxPackets: d.C.TxPackets, RxBytes: d.C.TxBytes}).add(&d.Counts)
		}
	}
}

// TotalsOf returns the ARP totals of group g.
func (s *Store) TotalsOf(g uint16, q stats.Query) (stats.Entity[Key, Counts], bool) {
	return s.Totals.Get(Key{Group: g}, q)
}
