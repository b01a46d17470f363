package statsapi

import (
	"fmt"
	"strconv"

	"github.com/multimeter-fw/multimeter/services/analysis/arp"
	"github.com/multimeter-fw/multimeter/services/analysis/dhcp"
	"github.com/multimeter-fw/multimeter/services/analysis/dns"
	"github.com/multimeter-fw/multimeter/services/analysis/flow"
	"github.com/multimeter-fw/multimeter/services/analysis/ip"
	"github.com/multimeter-fw/multimeter/services/analysis/sip"
	"github.com/multimeter-fw/multimeter/services/analysis/tcp"
	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/engine"
	"github.com/multimeter-fw/multimeter/services/stats"
)

// DNSServer is a DNS server with the messages it exchanged (rx: queries
// to it, tx: its responses); the module's totals have no server.
type DNSServer struct {
	Server       string            `json:"server,omitempty"`
	Requests     uint64            `json:"requests"`
	Responses    uint64            `json:"responses"`
	Malformed    uint64            `json:"malformed"`
	ReplyCodes   map[string]uint64 `json:"replyCodes"` // responses per reply code
	ResponseTime Timing            `json:"responseTime"`
	Figures
}

var rcodeNames = [16]string{"NOERROR", "FORMERR", "SERVFAIL", "NXDOMAIN", "NOTIMP", "REFUSED", "YXDOMAIN",
	"YXRRSET", "NXRRSET", "NOTAUTH", "NOTZONE", "DSOTYPENI", "RCODE12", "RCODE13", "RCODE14", "RCODE15"}

func renderDNS(_ *call, e *stats.Entity[dns.Key, dns.Counts]) *DNSServer {
	out := &DNSServer{Requests: e.Attr.Requests, Responses: e.Attr.Responses, Malformed: e.Attr.Malformed,
		ReplyCodes: map[string]uint64{}, ResponseTime: timingOf(&e.Attr.ResponseTime), Figures: figuresOf(&e.Figures)}
	if e.Key.Server != (decode.Addr{}) {
		out.Server = e.Key.Server.String()
	}
	for i, n := range e.Attr.RCodes {
		if n > 0 {
			out.ReplyCodes[rcodeNames[i]] = n
		}
	}
	return out
}

func (a *API) registerDNS() {
	a.summary("dns", func(c *call) map[string]int {
		n := c.st.DNS.Servers.Len(c.group)
		if _, ok := c.st.DNS.Totals(c.group, stats.Query{SkipHistory: true}); ok {
			n-- // the totals entry
		}
		return map[string]int{"servers": n}
	})
	servers := &entities[dns.Key, dns.Counts, DNSServer]{
		what:   "DNS server",
		param:  "ip",
		series: func(st *engine.Stats) *stats.Series[dns.Key, dns.Counts] { return st.DNS.Servers },
		key: func(id string, g uint16) (dns.Key, error) {
			addr, err := parseIP("ip", id)
			return dns.Key{Server: addr, Group: g}, err
		},
		render: renderDNS,
		filter: func(k *dns.Key, _ *dns.Counts) bool { return k.Server != (decode.Addr{}) },
		columns: figureCols(func(s *DNSServer) *Figures { return &s.Figures },
			col("server", func(s *DNSServer) string { return s.Server }), col("requests", func(s *DNSServer) string { return u64(s.Requests) }),
			col("responses", func(s *DNSServer) string { return u64(s.Responses) })),
		opts: listOpts{paged: true},
	}
	servers.register(a, "/modules/dns/servers", "/modules/dns/servers_paged")
	a.get("/modules/dns/totals", func(c *call) (any, error) {
		e, ok := c.st.DNS.Totals(c.group, c.time)
		if !ok {
			return renderDNS(c, &stats.Entity[dns.Key, dns.Counts]{}), nil
		}
		return renderDNS(c, &e), nil
	})
}

// DHCPMessages counts DHCP messages by type.
type DHCPMessages map[string]uint64

var dhcpTypeNames = [9]string{"other", "DISCOVER", "OFFER", "REQUEST", "DECLINE", "ACK", "NAK", "RELEASE", "INFORM"}

func dhcpMessages(t *dhcp.Types) DHCPMessages {
	m := DHCPMessages{}
	for i, n := range t {
		if n > 0 {
			m[dhcpTypeNames[i]] = n
		}
	}
	return m
}

// DHCPServer is a DHCP server with its messages (tx: its answers, rx:
// the clients' messages naming it); the module's totals have no server.
type DHCPServer struct {
	Server    string       `json:"server,omitempty"`
	Messages  DHCPMessages `json:"messages"`
	Malformed uint64       `json:"malformed,omitempty"` // totals only
	Figures
}

// DHCPClient is a DHCP client by its hardware address.
type DHCPClient struct {
	MAC        string       `json:"mac"`
	IP         string       `json:"ip,omitempty"`
	IPAssigned bool         `json:"ipAssigned"` // the IP is from a server's ACK, not only requested
	Hostname   string       `json:"hostname"`
	Messages   DHCPMessages `json:"messages"`
	Figures
}

func (a *API) registerDHCP() {
	a.summary("dhcp", func(c *call) map[string]int {
		n := c.st.DHCP.Servers.Len(c.group)
		if _, ok := c.st.DHCP.Totals(c.group, stats.Query{SkipHistory: true}); ok {
			n--
		}
		return map[string]int{"servers": n, "clients": c.st.DHCP.Clients.Len(c.group)}
	})
	renderServer := func(_ *call, e *stats.Entity[dhcp.ServerKey, dhcp.Types]) *DHCPServer {
		s := &DHCPServer{Messages: dhcpMessages(&e.Attr), Figures: figuresOf(&e.Figures)}
		if e.Key.Server != (decode.Addr{}) {
			s.Server = e.Key.Server.String()
		}
		return s
	}
	servers := &entities[dhcp.ServerKey, dhcp.Types, DHCPServer]{
		what:   "DHCP server",
		param:  "ip",
		series: func(st *engine.Stats) *stats.Series[dhcp.ServerKey, dhcp.Types] { return st.DHCP.Servers },
		key: func(id string, g uint16) (dhcp.ServerKey, error) {
			addr, err := parseIP("ip", id)
			return dhcp.ServerKey{Server: addr, Group: g}, err
		},
		render:  renderServer,
		filter:  func(k *dhcp.ServerKey, _ *dhcp.Types) bool { return k.Server != (decode.Addr{}) },
		columns: figureCols(func(s *DHCPServer) *Figures { return &s.Figures }, col("server", func(s *DHCPServer) string { return s.Server })),
		opts:    listOpts{paged: true},
	}
	servers.register(a, "/modules/dhcp/servers", "/modules/dhcp/servers_paged")
	a.get("/modules/dhcp/totals", func(c *call) (any, error) {
		e, _ := c.st.DHCP.Totals(c.group, c.time)
		s := renderServer(c, &e)
		c.st.Store.RLock()
		s.Malformed = c.st.DHCP.Malformed
		c.st.Store.RUnlock()
		return s, nil
	})
	clients := &entities[dhcp.ClientKey, dhcp.ClientAttr, DHCPClient]{
		what:   "DHCP client",
		param:  "mac",
		series: func(st *engine.Stats) *stats.Series[dhcp.ClientKey, dhcp.ClientAttr] { return st.DHCP.Clients },
		key: func(id string, g uint16) (dhcp.ClientKey, error) {
			m, err := parseMAC("mac", id)
			return dhcp.ClientKey{MAC: m, Group: g}, err
		},
		render: func(_ *call, e *stats.Entity[dhcp.ClientKey, dhcp.ClientAttr]) *DHCPClient {
			cl := &DHCPClient{MAC: e.Key.MAC.String(), IPAssigned: e.Attr.Assigned, Hostname: e.Attr.Hostname(),
				Messages: dhcpMessages(&e.Attr.Types), Figures: figuresOf(&e.Figures)}
			if e.Attr.HasIP {
				cl.IP = e.Attr.IP.String()
			}
			return cl
		},
		columns: figureCols(func(c *DHCPClient) *Figures { return &c.Figures }, col("mac", func(c *DHCPClient) string { return c.MAC }),
			col("ip", func(c *DHCPClient) string { return c.IP }), col("hostname", func(c *DHCPClient) string { return c.Hostname })),
		opts: listOpts{paged: true},
	}
	clients.register(a, "/modules/dhcp/clients", "/modules/dhcp/clients_paged")
}

// ARPEntry is an IP's ARP: its binding and the ARP packets it sent (tx)
// and that asked for it (rx). The module's totals have no IP and count
// every ARP packet as rx.
type ARPEntry struct {
	IP          string `json:"ip,omitempty"`
	MAC         string `json:"mac,omitempty"`         // current binding
	PreviousMAC string `json:"previousMac,omitempty"` // binding before the last change
	arp.Counts
	Figures
}

func (a *API) registerARP() {
	a.summary("arp", func(c *call) map[string]int { return map[string]int{"ips": c.st.ARP.IPs.Len(c.group)} })
	mac := func(m decode.MAC) string {
		if m == (decode.MAC{}) {
			return ""
		}
		return m.String()
	}
	ips := &entities[arp.Key, arp.Attr, ARPEntry]{
		what:   "ARP entry for",
		param:  "ip",
		series: func(st *engine.Stats) *stats.Series[arp.Key, arp.Attr] { return st.ARP.IPs },
		key: func(id string, g uint16) (arp.Key, error) {
			addr, err := parseIP("ip", id)
			return arp.Key{IP: addr, Group: g}, err
		},
		render: func(_ *call, e *stats.Entity[arp.Key, arp.Attr]) *ARPEntry {
			return &ARPEntry{IP: e.Key.IP.String(), MAC: mac(e.Attr.MAC), PreviousMAC: mac(e.Attr.PrevMAC), Counts: e.Attr.Counts, Figures: figuresOf(&e.Figures)}
		},
		columns: figureCols(func(e *ARPEntry) *Figures { return &e.Figures }, col("ip", func(e *ARPEntry) string { return e.IP }),
			col("mac", func(e *ARPEntry) string { return e.MAC }), col("macChanges", func(e *ARPEntry) string { return u64(e.Changes) })),
		opts: listOpts{paged: true},
	}
	ips.register(a, "/modules/arp/ips", "/modules/arp/ips_paged")
	a.get("/modules/arp/totals", func(c *call) (any, error) {
		e, _ := c.st.ARP.TotalsOf(c.group, c.time)
		return &ARPEntry{Counts: e.Attr, Figures: figuresOf(&e.Figures)}, nil
	})
}

// SIPCall is a SIP call with its signalling traffic (rx).
type SIPCall struct {
	CallID string `json:"callId"` // hash of the Call-ID header, hexadecimal
	From   string `json:"from"`
	To     string `json:"to"`
	State  string `json:"state"`  // invited, answered, failed, ended
	Status int    `json:"status"` // final response status
	Invite int64  `json:"invite"` // µs since the epoch, 0 if not seen
	Answer int64  `json:"answer"`
	End    int64  `json:"end"`
	Figures
}

var callStates = [...]string{"unknown", "invited", "answered", "failed", "ended"}

func (a *API) registerSIP() {
	a.summary("sip", func(c *call) map[string]int { return map[string]int{"calls": c.st.SIP.Calls.Len(c.group)} })
	calls := &entities[sip.CallKey, sip.CallAttr, SIPCall]{
		what:   "SIP call",
		param:  "call",
		series: func(st *engine.Stats) *stats.Series[sip.CallKey, sip.CallAttr] { return st.SIP.Calls },
		key: func(id string, g uint16) (sip.CallKey, error) {
			v, err := strconv.ParseUint(id, 16, 64)
			if err != nil {
				return sip.CallKey{}, badID("call", "want a call id (16 hex digits), got %s", shorten(id))
			}
			return sip.CallKey{CallID: v, Group: g}, nil
		},
		render: func(_ *call, e *stats.Entity[sip.CallKey, sip.CallAttr]) *SIPCall {
			at := &e.Attr
			state := callStates[0]
			if int(at.State) < len(callStates) {
				state = callStates[at.State]
			}
			return &SIPCall{CallID: fmt.Sprintf("%016x", e.Key.CallID), From: at.From.String(), To: at.To.String(), State: state,
				Status: at.Status, Invite: at.InviteNs / 1e3, Answer: at.AnswerNs / 1e3, End: at.EndNs / 1e3, Figures: figuresOf(&e.Figures)}
		},
		columns: figureCols(func(s *SIPCall) *Figures { return &s.Figures }, col("callId", func(s *SIPCall) string { return s.CallID }),
			col("from", func(s *SIPCall) string { return s.From }), col("to", func(s *SIPCall) string { return s.To }),
			col("state", func(s *SIPCall) string { return s.State })),
		opts: listOpts{paged: true},
	}
	calls.register(a, "/modules/sip/calls", "/modules/sip/calls_paged")
}

// TCPTotals are the TCP figures of a group: the connections by state and
// the events summed over every IP.
type TCPTotals struct {
	Connections     int            `json:"connections"` // TCP connections in the table
	States          map[string]int `json:"states"`
	Handshakes      uint64         `json:"handshakes"`
	Retransmissions uint64         `json:"retransmissions"`
	ZeroWindows     uint64         `json:"zeroWindows"`
	Resets          uint64         `json:"resets"`
	ResponseTime    Timing         `json:"responseTime"` // SYN -> SYN/ACK of the servers
}

func (a *API) registerTCP() {
	isTCP := func(k *flow.Key, _ *flow.Conn) bool { return k.Proto == decode.ProtoTCP }
	a.summary("tcp", func(c *call) map[string]int {
		n := 0
		c.st.Conns.Conns.List(stats.ListQuery{Group: c.group, Count: 1}, func(k *flow.Key, at *flow.Conn) bool {
			if isTCP(k, at) {
				n++
			}
			return false
		})
		return map[string]int{"connections": n}
	})
	a.get("/modules/tcp/totals", func(c *call) (any, error) {
		t := &TCPTotals{States: map[string]int{}}
		c.st.Conns.Conns.List(stats.ListQuery{Group: c.group, Count: 1}, func(k *flow.Key, at *flow.Conn) bool {
			if isTCP(k, at) {
				t.Connections++
				t.States[at.State.String()]++
			}
			return false
		})
		var sum tcp.Stats
		c.st.IP.IPs.List(stats.ListQuery{Group: c.group, Count: 1}, func(_ *ip.Key, at *ip.Attr) bool {
			sum.Merge(&at.TCP)
			return false
		})
		t.Handshakes, t.Retransmissions, t.ZeroWindows, t.Resets = sum.Handshakes, sum.Retransmissions, sum.ZeroWindows, sum.Resets
		t.ResponseTime = timingOf(&sum.ResponseTime)
		return t, nil
	})
	conns := &entities[flow.Key, flow.Conn, Connection]{
		series:  func(st *engine.Stats) *stats.Series[flow.Key, flow.Conn] { return st.Conns.Conns },
		render:  renderConn,
		filter:  isTCP,
		columns: connColumns(),
		opts:    listOpts{paged: true, undirected: true},
	}
	a.get("/modules/tcp/connections_paged", conns.list)
}
