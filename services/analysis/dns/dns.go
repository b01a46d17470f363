// Package dns analyses DNS over UDP and TCP port 53: requests, responses
// and their reply codes and response times per server and in total, and
// the addresses resolved per name, which become the names of those IPs.
// A server's rx counts the queries it received, tx its responses.
//
// Queries and their responses meet in one shard (the dispatcher keeps an
// IP pair together), which matches them by client, port and ID.
package dns

import (
	"encoding/binary"

	"github.com/multimeter-fw/multimeter/services/analysis"
	"github.com/multimeter-fw/multimeter/services/analysis/names"
	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/flowtable"
	"github.com/multimeter-fw/multimeter/services/stats"
)

// Port is the DNS port.
const Port = 53

// Key is a DNS server in a group; the zero address holds the group's
// totals.
type Key struct {
	Server decode.Addr
	Group  uint16
}

// Hash implements flowtable.Key.
func (k Key) Hash() uint64 {
	return flowtable.Mix(flowtable.Hash16Bytes((*[16]byte)(&k.Server)), uint64(k.Group)|1<<24)
}

// GroupID implements stats.Key.
func (k Key) GroupID() uint16 { return k.Group }

// Counts are DNS figures of a server or a group.
type Counts struct {
	Requests  uint64     `json:"requests"`
	Responses uint64     `json:"responses"`
	Malformed uint64     `json:"malformed"`
	RCodes    [16]uint64 `json:"replyCodes"` // responses per reply code (0 NOERROR, 2 SERVFAIL, 3 NXDOMAIN, ...)
	// ResponseTime from query to matching response.
	ResponseTime analysis.Timing `json:"-"`
}

func (c *Counts) merge(o *Counts) {
	c.Requests += o.Requests
	c.Responses += o.Responses
	c.Malformed += o.Malformed
	for i := range c.RCodes {
		c.RCodes[i] += o.RCodes[i]
	}
	c.ResponseTime.Merge(&o.ResponseTime)
}

// Delta is one second of one server in a shard.
type Delta struct {
	C      stats.Counters
	Counts Counts
}

// Acc is one second of DNS figures of one shard.
type Acc = flowtable.Dense[Key, Delta]

// NewAcc returns an accumulator for capacity servers a second.
func NewAcc(capacity int) *Acc { return flowtable.NewDense[Key, Delta](capacity) }

type queryKey struct {
	Client, Server decode.Addr
	Port, ID       uint16
	Group          uint16
}

func (k queryKey) Hash() uint64 {
	return flowtable.Mix(flowtable.Hash16Bytes((*[16]byte)(&k.Client))^flowtable.Hash16Bytes((*[16]byte)(&k.Server))<<1,
		uint64(k.Port)|uint64(k.ID)<<16|uint64(k.Group)<<32)
}

// Shard matches queries with responses.
type Shard struct {
	pending *flowtable.Table[queryKey, int64]
	msg     Message
}

// NewShard returns the shard half, remembering up to capacity open
// queries (the oldest are forgotten first).
func NewShard(capacity int) *Shard {
	return &Shard{pending: flowtable.New[queryKey, int64](capacity)}
}

// IsDNS reports whether p is on the DNS port.
func IsDNS(p *decode.Packet) bool {
	return p.Layers&(decode.LayerUDP|decode.LayerTCP) != 0 && (p.SrcPort == Port || p.DstPort == Port) && p.Frag != decode.FragLater
}

// Packet analyses one DNS packet with its L4 payload. Names learned go to
// nr.
func (s *Shard) Packet(a *Acc, nr *names.Records, p *decode.Packet, payload []byte, group uint16, sec int64) {
	if p.Layers&decode.LayerTCP != 0 {
		// One message per segment is all we look at: skip the length.
		if len(payload) <= 2 {
			return
		}
		if n := int(binary.BigEndian.Uint16(payload)); n+2 < len(payload) {
			payload = payload[:n+2]
		}
		payload = payload[2:]
	}
	m := &s.msg
	err := Parse(m, payload)
	if err != nil && len(payload) < flagsLen {
		if d, _ := a.Upsert(Key{Group: group}); d != nil {
			d.Counts.Malformed++
		}
		return
	}
	// A message cut short (snap length, fragments) still has a header:
	// count it, but learn no names from it.
	server := p.DstIP
	if m.Response {
		server = p.SrcIP
	}
	d, _ := a.Upsert(Key{Server: server, Group: group})
	t, _ := a.Upsert(Key{Group: group})
	if d == nil || t == nil {
		return
	}
	c := stats.Counters{RxPackets: 1, RxBytes: uint64(p.OrigLen)}
	if err != nil {
		d.Counts.Malformed++
		t.Counts.Malformed++
	}
	if !m.Response {
		d.C.Add(c)
		t.C.Add(c)
		d.Counts.Requests++
		t.Counts.Requests++
		slot, _ := s.pending.Upsert(queryKey{Client: p.SrcIP, Server: p.DstIP, Port: p.SrcPort, ID: m.ID, Group: group}, uint32(max(sec, 0)))
		*s.pending.Val(slot) = p.Timestamp
		return
	}
	c = c.Swap()
	d.C.Add(c)
	t.C.Add(c)
	d.Counts.Responses++
	t.Counts.Responses++
	d.Counts.RCodes[m.RCode]++
	t.Counts.RCodes[m.RCode]++
	if slot, ok := s.pending.Find(queryKey{Client: p.DstIP, Server: p.SrcIP, Port: p.DstPort, ID: m.ID, Group: group}); ok {
		rt := p.Timestamp - *s.pending.Val(slot)
		d.Counts.ResponseTime.Add(rt)
		t.Counts.ResponseTime.Add(rt)
		s.pending.Delete(slot)
	}
	if err == nil && m.RCode == 0 && nr != nil {
		for _, addr := range m.Addrs[:m.NAddrs] {
			nr.Add(group, addr, names.DNS, m.Name())
		}
	}
}

// Store holds the DNS series: servers, and totals per group (server ::).
type Store struct {
	Servers *stats.Series[Key, Counts]
}

// NewStore adds the DNS series to st.
func NewStore(st *stats.Store, capacity int) *Store {
	return &Store{Servers: stats.NewSeries[Key, Counts](st, "dns", capacity)}
}

// Merge adds one shard's second. Called with the store's write lock held.
func (s *Store) Merge(sec int64, a *Acc) {
	for i := range a.Len() {
		d := a.Val(i)
		s.Servers.Add(sec, *a.Key(i), d.C).merge(&d.Counts)
	}
}

// Totals returns the DNS totals of group g.
func (s *Store) Totals(g uint16, q stats.Query) (stats.Entity[Key, Counts], bool) {
	return s.Servers.Get(Key{Group: g}, q)
}

// ListServers returns a page of the group's DNS servers.
func (s *Store) ListServers(lq stats.ListQuery) ([]stats.Entity[Key, Counts], int) {
	return s.Servers.List(lq, func(k *Key, _ *Counts) bool { return k.Server != (decode.Addr{}) })
}
