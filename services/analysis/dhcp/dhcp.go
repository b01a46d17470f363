// Package dhcp analyses DHCPv4: message types per server and in total,
// and per client (MAC) its host name and the address it was given; a
// client's host name becomes a name of its address. A server's tx counts
// the messages it sent, rx those clients addressed to it (option 54); a
// client's tx the messages it sent, rx the replies for it.
package dhcp

import (
	"github.com/multimeter-fw/multimeter/services/analysis/names"
	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/flowtable"
	"github.com/multimeter-fw/multimeter/services/stats"
)

// IsDHCP reports whether p is on the DHCP ports.
func IsDHCP(p *decode.Packet) bool {
	return p.Layers&decode.LayerUDP != 0 && p.Frag != decode.FragLater &&
		((p.SrcPort == 68 && p.DstPort == 67) || (p.SrcPort == 67 && p.DstPort == 68) || (p.SrcPort == 67 && p.DstPort == 67))
}

// ServerKey is a DHCP server in a group; the zero address holds the
// group's totals.
type ServerKey struct {
	Server decode.Addr
	Group  uint16
}

// Hash implements flowtable.Key.
func (k ServerKey) Hash() uint64 {
	return flowtable.Mix(flowtable.Hash16Bytes((*[16]byte)(&k.Server)), uint64(k.Group)|1<<26)
}

// GroupID implements stats.Key.
func (k ServerKey) GroupID() uint16 { return k.Group }

// ClientKey is a DHCP client in a group.
type ClientKey struct {
	MAC   decode.MAC
	Group uint16
}

// Hash implements flowtable.Key.
func (k ClientKey) Hash() uint64 {
	m := k.MAC
	return flowtable.Hash64(uint64(m[0]) | uint64(m[1])<<8 | uint64(m[2])<<16 | uint64(m[3])<<24 | uint64(m[4])<<32 | uint64(m[5])<<40 | uint64(k.Group)<<48)
}

// GroupID implements stats.Key.
func (k ClientKey) GroupID() uint16 { return k.Group }

// Types counts messages per type (index = option 53 value, 0 = none).
type Types [9]uint64

func (t *Types) add(typ uint8) {
	if int(typ) < len(t) {
		t[typ]++
	}
}

func (t *Types) merge(o *Types) {
	for i := range t {
		t[i] += o[i]
	}
}

// ServerDelta is one second of one server in a shard.
type ServerDelta struct {
	C     stats.Counters
	Types Types
}

// ClientDelta is one second of one client in a shard.
type ClientDelta struct {
	C        stats.Counters
	Types    Types
	IP       decode.Addr // address assigned (ACK) or requested
	HasIP    bool
	host     [MaxHostname]byte
	hostLen  uint8
	Assigned bool // IP comes from an ACK
}

// Acc is one second of DHCP figures of one shard.
type Acc struct {
	Servers *flowtable.Dense[ServerKey, ServerDelta]
	Clients *flowtable.Dense[ClientKey, ClientDelta]
	// Malformed counts messages that did not parse.
	Malformed uint64
}

// NewAcc returns an accumulator for capacity servers and clients.
func NewAcc(capacity int) *Acc {
	return &Acc{
		Servers: flowtable.NewDense[ServerKey, ServerDelta](capacity),
		Clients: flowtable.NewDense[ClientKey, ClientDelta](capacity),
	}
}

// Room is how many more messages surely fit.
func (a *Acc) Room() int {
	return min(a.Servers.Cap()-a.Servers.Len(), a.Clients.Cap()-a.Clients.Len()) / 2
}

// Reset empties the accumulator.
func (a *Acc) Reset() {
	a.Servers.Reset()
	a.Clients.Reset()
	a.Malformed = 0
}

// Shard parses DHCP messages.
type Shard struct{ msg Message }

// Packet analyses one DHCP packet with its UDP payload.
func (s *Shard) Packet(a *Acc, p *decode.Packet, payload []byte, group uint16) {
	m := &s.msg
	if err := Parse(m, payload); err != nil {
		a.Malformed++
		return
	}
	c := stats.Counters{TxPackets: 1, TxBytes: uint64(p.OrigLen)}
	fromServer := m.Op == 2
	server := m.ServerID
	if fromServer && !m.HasServerID {
		server = p.SrcIP
	}
	if fromServer || m.HasServerID {
		sc := c
		if !fromServer {
			sc = c.Swap()
		}
		if d, _ := a.Servers.Upsert(ServerKey{Server: server, Group: group}); d != nil {
			d.C.Add(sc)
			d.Types.add(m.Type)
		}
	}
	if t, _ := a.Servers.Upsert(ServerKey{Group: group}); t != nil {
		t.C.Add(stats.Counters{RxPackets: 1, RxBytes: uint64(p.OrigLen)})
		t.Types.add(m.Type)
	}
	if m.ClientMAC == (decode.MAC{}) {
		return
	}
	d, _ := a.Clients.Upsert(ClientKey{MAC: m.ClientMAC, Group: group})
	if d == nil {
		return
	}
	if fromServer {
		d.C.Add(c.Swap())
	} else {
		d.C.Add(c)
	}
	d.Types.add(m.Type)
	switch {
	case fromServer && m.Type == Ack && m.YourIP != decode.AddrFrom4([4]byte{}):
		d.IP, d.HasIP, d.Assigned = m.YourIP, true, true
	case !fromServer && m.HasRequest && !d.Assigned:
		d.IP, d.HasIP = m.RequestedIP, true
	}
	if h := m.Hostname(); len(h) > 0 {
		d.hostLen = uint8(copy(d.host[:], h))
	}
}

// ClientAttr is what the store keeps about a DHCP client.
type ClientAttr struct {
	Types    Types
	IP       decode.Addr
	HasIP    bool
	host     [MaxHostname]byte
	hostLen  uint8
	Assigned bool
}

// Hostname is the client's host name (option 12).
func (c *ClientAttr) Hostname() string { return string(c.host[:c.hostLen]) }

// Store holds the DHCP series and feeds host names to the names store.
type Store struct {
	Servers *stats.Series[ServerKey, Types]
	Clients *stats.Series[ClientKey, ClientAttr]
	names   *names.Store
	// Malformed counts messages that did not parse.
	Malformed uint64
}

// NewStore adds the DHCP series to st; names (may be nil) learns the
// clients' host names.
func NewStore(st *stats.Store, capacity int, nm *names.Store) *Store {
	return &Store{
		Servers: stats.NewSeries[ServerKey, Types](st, "dhcpServers", 4096),
		Clients: stats.NewSeries[ClientKey, ClientAttr](st, "dhcpClients", capacity),
		names:   nm,
	}
}

// Merge adds one shard's second. Called with the store's write lock held.
func (s *Store) Merge(sec int64, a *Acc) {
	s.Malformed += a.Malformed
	for i := range a.Servers.Len() {
		d := a.Servers.Val(i)
		s.Servers.Add(sec, *a.Servers.Key(i), d.C).merge(&d.Types)
	}
	for i := range a.Clients.Len() {
		k, d := a.Clients.Key(i), a.Clients.Val(i)
		at := s.Clients.Add(sec, *k, d.C)
		at.Types.merge(&d.Types)
		if d.HasIP && (d.Assigned || !at.Assigned) {
			at.IP, at.HasIP, at.Assigned = d.IP, true, d.Assigned || at.Assigned
		}
		if d.hostLen > 0 {
			at.host, at.hostLen = d.host, d.hostLen
		}
		if s.names != nil && at.HasIP && at.hostLen > 0 && (d.HasIP || d.hostLen > 0) {
			s.names.Add(sec, k.Group, at.IP, names.DHCP, at.host[:at.hostLen])
		}
	}
}

// Totals returns the message counts of group g.
func (s *Store) Totals(g uint16, q stats.Query) (stats.Entity[ServerKey, Types], bool) {
	return s.Servers.Get(ServerKey{Group: g}, q)
}
