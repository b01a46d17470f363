package statsapi

import (
	"cmp"
	"net/netip"
	"slices"
	"strconv"
	"strings"

	"github.com/multimeter-fw/multimeter/services/analysis"
	"github.com/multimeter-fw/multimeter/services/analysis/flow"
	"github.com/multimeter-fw/multimeter/services/analysis/ip"
	"github.com/multimeter-fw/multimeter/services/analysis/tcp"
	"github.com/multimeter-fw/multimeter/services/apilist"
	"github.com/multimeter-fw/multimeter/services/apiparam"
	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/engine"
	"github.com/multimeter-fw/multimeter/services/l7proto"
	"github.com/multimeter-fw/multimeter/services/stats"
)

// IP is one IP address with its traffic (tx: sent by it, rx: sent to it).
type IP struct {
	IP                  string `json:"ip"`
	Names               []Name `json:"names"`
	TTL                 *TTL   `json:"ttl,omitempty"` // of the packets it sent
	ConnectionsAsClient uint64 `json:"connectionsAsClient"`
	ConnectionsAsServer uint64 `json:"connectionsAsServer"`
	Figures
}

// Name is a name of an IP learned from the traffic.
type Name struct {
	Name   string `json:"name"`
	Source string `json:"source"` // dns, dhcp, tls (SNI) or http (Host)
}

// TTL is the range of TTLs (hop limits) seen.
type TTL struct {
	Min uint8 `json:"min"`
	Max uint8 `json:"max"`
}

// Peer is an IP's peer with the traffic between the two, seen from the
// IP: tx is what the IP sent to the peer.
type Peer struct {
	IP string `json:"ip"`
	Figures
}

// Port is an L4 server port an IP used, as server or as client, with the
// IP's traffic on it.
type Port struct {
	Port                uint16 `json:"port"`
	Protocol            string `json:"protocol"` // tcp, udp, sctp
	ConnectionsAsServer uint64 `json:"connectionsAsServer"`
	ConnectionsAsClient uint64 `json:"connectionsAsClient"`
	Figures
}

// Application is an application protocol with the traffic of an entity
// in it.
type Application struct {
	Protocol string `json:"protocol"` // as the DPI names it (HTTP, TLS, ...)
	Figures
}

// PeerPort is the traffic of an IP with one peer on one server port,
// summed over their connections and seen from the IP.
type PeerPort struct {
	IP          string `json:"ip"` // the peer
	Port        uint16 `json:"port"`
	Protocol    string `json:"protocol"`
	Connections int    `json:"connections"`
	Figures
}

// TCPStats are the TCP figures of an IP: connections it opened or
// accepted, handshakes it completed as server and as client, the
// segments it retransmitted, the zero windows it announced and the
// resets it sent, and its SYN -> SYN/ACK response time as a server.
type TCPStats struct {
	IP string `json:"ip"`
	tcp.Stats
	ResponseTime Timing `json:"responseTime"`
}

// Timing summarises response times in microseconds.
type Timing struct {
	Count  uint64  `json:"count"`
	Min    float64 `json:"min"`
	Avg    float64 `json:"avg"`
	Max    float64 `json:"max"`
	StdDev float64 `json:"stddev"`
}

func timingOf(t *analysis.Timing) Timing {
	s := t.Summary()
	us := func(d interface{ Microseconds() int64 }) float64 { return float64(d.Microseconds()) }
	return Timing{Count: s.Count, Min: us(s.Min), Avg: us(s.Avg), Max: us(s.Max), StdDev: us(s.StdDev)}
}

// ProtocolUsers is an application protocol with the number of IPs that
// used it.
type ProtocolUsers struct {
	Protocol string `json:"protocol"`
	IPs      int    `json:"ips"`
}

// ModuleSummary counts a module's entities in the requested group.
type ModuleSummary struct {
	Module   string         `json:"module"`
	Entities map[string]int `json:"entities"`
}

func parseIP(param, id string) (decode.Addr, error) {
	a, err := netip.ParseAddr(id)
	if err != nil || a.Zone() != "" {
		return decode.Addr{}, badID(param, "want an IPv4 or IPv6 address, got %s", shorten(id))
	}
	return decode.AddrFromNetip(a), nil
}

func ipColumn[T any](name string, get func(*T) string) apilist.Column[*T] {
	return apilist.Column[*T]{Name: name, Value: get}
}

func u64(v uint64) string { return strconv.FormatUint(v, 10) }

// protoName names an IP protocol number.
func protoName(p uint8) string {
	switch p {
	case decode.ProtoTCP:
		return "tcp"
	case decode.ProtoUDP:
		return "udp"
	case decode.ProtoSCTP:
		return "sctp"
	case decode.ProtoICMP:
		return "icmp"
	case decode.ProtoICMPv6:
		return "icmpv6"
	case decode.ProtoGRE:
		return "gre"
	}
	return strconv.Itoa(int(p))
}

// parseProto reads a protocol name or number.
func parseProto(s string) (uint8, bool) {
	for _, p := range []uint8{decode.ProtoTCP, decode.ProtoUDP, decode.ProtoSCTP, decode.ProtoICMP, decode.ProtoICMPv6, decode.ProtoGRE} {
		if strings.EqualFold(s, protoName(p)) {
			return p, true
		}
	}
	n, err := strconv.ParseUint(s, 10, 8)
	return uint8(n), err == nil
}

func (a *API) renderIP(c *call, e *stats.Entity[ip.Key, ip.Attr]) *IP {
	out := &IP{
		IP:                  e.Key.Addr.String(),
		Names:               namesOf(c.st, e.Key.Group, e.Key.Addr),
		ConnectionsAsClient: e.Attr.ConnsAsClient,
		ConnectionsAsServer: e.Attr.ConnsAsServer,
		Figures:             figuresOf(&e.Figures),
	}
	if e.Attr.TTLMax > 0 {
		out.TTL = &TTL{Min: e.Attr.TTLMin, Max: e.Attr.TTLMax}
	}
	return out
}

func namesOf(st *engine.Stats, g uint16, addr decode.Addr) []Name {
	ns := st.Names.Of(g, addr)
	out := make([]Name, len(ns))
	for i, n := range ns {
		out[i] = Name{Name: n.Name, Source: n.Source.String()}
	}
	return out
}

func (a *API) ips() *entities[ip.Key, ip.Attr, IP] {
	cols := []apilist.Column[*IP]{
		ipColumn("ip", func(p *IP) string { return p.IP }),
		{Name: "names", Value: func(p *IP) string {
			names := make([]string, len(p.Names))
			for i, n := range p.Names {
				names[i] = n.Name
			}
			return strings.Join(names, " ")
		}},
	}
	return &entities[ip.Key, ip.Attr, IP]{
		what:   "IP",
		param:  "ip",
		series: func(st *engine.Stats) *stats.Series[ip.Key, ip.Attr] { return st.IP.IPs },
		key: func(id string, g uint16) (ip.Key, error) {
			addr, err := parseIP("ip", id)
			return ip.Key{Addr: addr, Group: g}, err
		},
		render:  a.renderIP,
		columns: append(cols, figureColumns(func(p *IP) *Figures { return &p.Figures })...),
		opts:    listOpts{paged: true},
		match: func(f *textFilter) stats.Filter[ip.Key, ip.Attr] {
			return func(k *ip.Key, _ *ip.Attr) bool { return f.matchAddr(k.Addr) }
		},
	}
}

func (a *API) registerIP() {
	const base = "/modules/ip"
	ips := a.ips()
	ips.register(a, base+"/ips", base+"/ips_paged")
	a.get(base, func(c *call) (any, error) {
		return ModuleSummary{Module: "ip", Entities: map[string]int{
			"ips": c.st.IP.IPs.Len(c.group), "peers": c.st.IP.Pairs.Len(c.group), "connections": c.st.Conns.Conns.Len(c.group),
		}}, nil
	})

	// The lists of one IP. Each first checks the IP is known.
	ipOf := func(c *call) (decode.Addr, error) {
		id := c.param("ip")
		addr, err := parseIP("ip", id)
		if err != nil {
			return addr, err
		}
		return addr, exists(c.st.IP.IPs, ip.Key{Addr: addr, Group: c.group}, "IP", id)
	}
	sub := func(name string, h func(c *call, addr decode.Addr) (any, error)) {
		a.get(base+"/ips/:ip/"+name, func(c *call) (any, error) {
			addr, err := ipOf(c)
			if err != nil {
				return nil, err
			}
			return h(c, addr)
		})
	}
	sub("peers", a.ipPeers)
	sub("ports", a.ipPorts)
	sub("protocols", a.ipProtocols)
	sub("macs", a.ipMACs)
	sub("connections", func(c *call, addr decode.Addr) (any, error) {
		lq, l, err := c.listQuery(listOpts{undirected: true})
		if err != nil {
			return nil, err
		}
		items, total := c.st.Conns.ListOf(addr, lq)
		return renderPage(c, items, total, l, lq, renderConn, connColumns()), nil
	})
	sub("peers_ports", a.ipPeersPorts)
	sub("tcpStats", func(c *call, addr decode.Addr) (any, error) {
		e, ok := c.st.IP.IPs.Get(ip.Key{Addr: addr, Group: c.group}, stats.Query{SkipHistory: true})
		if !ok {
			return nil, notFound("IP", c.param("ip"), c.group)
		}
		return &TCPStats{IP: addr.String(), Stats: e.Attr.TCP, ResponseTime: timingOf(&e.Attr.TCP.ResponseTime)}, nil
	})

	a.get(base+"/ips/protocol", a.protocolUsers)
	a.get(base+"/ips/protocol/:protocol", a.ipsOfProtocol)
	conns := func(c *call) (any, error) {
		lq, l, err := c.listQuery(listOpts{paged: true, undirected: true})
		if err != nil {
			return nil, err
		}
		tf, err := parseTextFilter(c.q)
		if err != nil {
			return nil, err
		}
		var filter stats.Filter[flow.Key, flow.Conn]
		if tf != nil {
			filter = tf.matchConn
		}
		items, total := c.st.Conns.Conns.List(lq, filter)
		return renderPage(c, items, total, l, lq, renderConn, connColumns()), nil
	}
	a.get(base+"/globalConnections", conns)
	a.get(base+"/globalConnections/csv", conns)
}

func (a *API) ipPeers(c *call, addr decode.Addr) (any, error) {
	lq, l, err := c.listQuery(listOpts{})
	if err != nil {
		return nil, err
	}
	peers, total := c.st.IP.Peers(addr, lq)
	out := make([]*Peer, len(peers))
	for i := range peers {
		out[i] = &Peer{IP: peers[i].Addr.String(), Figures: figuresOf(&peers[i].Figures)}
	}
	cols := append([]apilist.Column[*Peer]{ipColumn("ip", func(p *Peer) string { return p.IP })},
		figureColumns(func(p *Peer) *Figures { return &p.Figures })...)
	l.Sort = lq.Sort.String()
	return apilist.NewPage(out, total, l, lq.Count, cols), nil
}

func (a *API) ipPorts(c *call, addr decode.Addr) (any, error) {
	lq, l, err := c.listQuery(listOpts{})
	if err != nil {
		return nil, err
	}
	items, total := c.st.IP.PortsOf(addr, lq)
	render := func(_ *call, e *stats.Entity[ip.PortKey, ip.PortAttr]) *Port {
		return &Port{Port: e.Key.Port, Protocol: protoName(e.Key.Proto), ConnectionsAsServer: e.Attr.AsServer,
			ConnectionsAsClient: e.Attr.AsClient, Figures: figuresOf(&e.Figures)}
	}
	cols := append([]apilist.Column[*Port]{
		{Name: "port", Value: func(p *Port) string { return strconv.Itoa(int(p.Port)) }},
		{Name: "protocol", Value: func(p *Port) string { return p.Protocol }},
	}, figureColumns(func(p *Port) *Figures { return &p.Figures })...)
	return renderPage(c, items, total, l, lq, render, cols), nil
}

func appColumns() []apilist.Column[*Application] {
	return append([]apilist.Column[*Application]{{Name: "protocol", Value: func(p *Application) string { return p.Protocol }}},
		figureColumns(func(p *Application) *Figures { return &p.Figures })...)
}

func (a *API) ipProtocols(c *call, addr decode.Addr) (any, error) {
	lq, l, err := c.listQuery(listOpts{})
	if err != nil {
		return nil, err
	}
	items, total := c.st.IP.ProtocolsOf(addr, lq)
	render := func(_ *call, e *stats.Entity[ip.ProtoKey, struct{}]) *Application {
		return &Application{Protocol: e.Key.App.String(), Figures: figuresOf(&e.Figures)}
	}
	return renderPage(c, items, total, l, lq, render, appColumns()), nil
}

// MACOfIP is a MAC an IP sent from, with what it sent from there.
type MACOfIP struct {
	MAC string `json:"mac"`
	Figures
}

func (a *API) ipMACs(c *call, addr decode.Addr) (any, error) {
	lq, l, err := c.listQuery(listOpts{})
	if err != nil {
		return nil, err
	}
	items, total := c.st.IP.MACsOf(addr, lq)
	render := func(_ *call, e *stats.Entity[ip.MACKey, struct{}]) *MACOfIP {
		return &MACOfIP{MAC: e.Key.MAC.String(), Figures: figuresOf(&e.Figures)}
	}
	cols := append([]apilist.Column[*MACOfIP]{{Name: "mac", Value: func(m *MACOfIP) string { return m.MAC }}},
		figureColumns(func(m *MACOfIP) *Figures { return &m.Figures })...)
	return renderPage(c, items, total, l, lq, render, cols), nil
}

// ipPeersPorts sums an IP's connections by peer and server port.
func (a *API) ipPeersPorts(c *call, addr decode.Addr) (any, error) {
	type ppKey struct {
		peer  decode.Addr
		port  uint16
		proto uint8
	}
	byKey := map[ppKey]*PeerPort{}
	q := c.time
	q.SkipHistory = true
	c.st.Conns.Conns.EachOwned(analysis.IPOwner(c.group, addr), c.group, q, func(e *stats.Entity[flow.Key, flow.Conn]) {
		k := &e.Key
		side := 0
		switch addr {
		case k.A:
		case k.B:
			side = 1
		default:
			return // another owner with the same hash
		}
		server := 1 - int(e.Attr.ClientSide)
		pk := ppKey{peer: k.Addr(1 - side), port: k.Port(server), proto: k.Proto}
		f := e.Figures
		if side == 1 {
			f = f.Swap()
		}
		fig := figuresOf(&f)
		pp := byKey[pk]
		if pp == nil {
			byKey[pk] = &PeerPort{IP: pk.peer.String(), Port: pk.port, Protocol: protoName(pk.proto), Connections: 1, Figures: fig}
			return
		}
		pp.Connections++
		pp.Figures.add(&fig)
	})
	items := make([]*PeerPort, 0, len(byKey))
	for _, pp := range byKey {
		items = append(items, pp)
	}
	order := func(x, y *PeerPort) int {
		if c := strings.Compare(x.IP, y.IP); c != 0 {
			return c
		}
		if x.Port != y.Port {
			return int(x.Port) - int(y.Port)
		}
		return strings.Compare(x.Protocol, y.Protocol)
	}
	cols := append([]apilist.Column[*PeerPort]{
		ipColumn("ip", func(p *PeerPort) string { return p.IP }),
		{Name: "port", Value: func(p *PeerPort) string { return strconv.Itoa(int(p.Port)) }},
		{Name: "protocol", Value: func(p *PeerPort) string { return p.Protocol }},
		{Name: "connections", Value: func(p *PeerPort) string { return strconv.Itoa(p.Connections) }},
	}, figureColumns(func(p *PeerPort) *Figures { return &p.Figures })...)
	return selectPage(c, items, func(p *PeerPort) *Figures { return &p.Figures }, order, listOpts{}, cols)
}

// protocolUsers counts the IPs that used each application protocol.
func (a *API) protocolUsers(c *call) (any, error) {
	counts := map[l7proto.ID]int{}
	c.st.IP.Protocols.List(stats.ListQuery{Group: c.group, Count: 1}, func(k *ip.ProtoKey, _ *struct{}) bool {
		counts[k.App]++
		return false // counted; nothing to list
	})
	items := make([]*ProtocolUsers, 0, len(counts))
	for app, n := range counts {
		items = append(items, &ProtocolUsers{Protocol: app.String(), IPs: n})
	}
	l, err := apiparam.ParseList(c.q)
	if err != nil {
		return nil, err
	}
	spec := apilist.Spec[*ProtocolUsers]{
		Keys:  []apilist.Key[*ProtocolUsers]{{Name: "ips", Compare: func(x, y *ProtocolUsers) int { return cmp.Compare(x.IPs, y.IPs) }}},
		Order: func(x, y *ProtocolUsers) int { return strings.Compare(x.Protocol, y.Protocol) },
		Columns: []apilist.Column[*ProtocolUsers]{
			{Name: "protocol", Value: func(p *ProtocolUsers) string { return p.Protocol }},
			{Name: "ips", Value: func(p *ProtocolUsers) string { return strconv.Itoa(p.IPs) }},
		},
	}
	return spec.Select(slices.Values(items), l, c.csv)
}

// ipsOfProtocol lists the IPs that used an application protocol, with
// their traffic in it.
func (a *API) ipsOfProtocol(c *call) (any, error) {
	id := c.param("protocol")
	app, ok := l7proto.Parse(id)
	if !ok {
		return nil, notFound("application protocol", id, c.group)
	}
	lq, l, err := c.listQuery(listOpts{paged: true})
	if err != nil {
		return nil, err
	}
	items, total := c.st.IP.Protocols.List(lq, func(k *ip.ProtoKey, _ *struct{}) bool { return k.App == app })
	render := func(_ *call, e *stats.Entity[ip.ProtoKey, struct{}]) *Peer {
		return &Peer{IP: e.Key.Addr.String(), Figures: figuresOf(&e.Figures)}
	}
	cols := append([]apilist.Column[*Peer]{ipColumn("ip", func(p *Peer) string { return p.IP })},
		figureColumns(func(p *Peer) *Figures { return &p.Figures })...)
	return renderPage(c, items, total, l, lq, render, cols), nil
}
