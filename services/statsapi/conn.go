package statsapi

import (
	"strconv"

	"github.com/multimeter-fw/multimeter/services/analysis/flow"
	"github.com/multimeter-fw/multimeter/services/apilist"
	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/stats"
)

// Connection is a connection (a flow: TCP, UDP or SCTP by endpoints,
// other IP protocols by address pair) seen from its client, the side that
// opened it: tx is what the client sent. Per-side figures are
// [client, server].
type Connection struct {
	ClientIP     string  `json:"clientIp"`
	ClientPort   uint16  `json:"clientPort"`
	ServerIP     string  `json:"serverIp"`
	ServerPort   uint16  `json:"serverPort"`
	Protocol     string  `json:"protocol"`    // tcp, udp, sctp, icmp, icmpv6, or the protocol number
	Application  string  `json:"application"` // as the DPI detected it
	State        string  `json:"state,omitempty"`
	VLAN         uint16  `json:"vlan"` // outer VLAN ID, 0 untagged
	ClientMAC    string  `json:"clientMac"`
	ServerMAC    string  `json:"serverMac"`
	FirstPacket  int64   `json:"firstPacket"` // µs since the epoch
	LastPacket   int64   `json:"lastPacket"`
	Handshake    bool    `json:"handshake"`    // TCP three-way handshake completed
	ResponseTime float64 `json:"responseTime"` // TCP SYN -> SYN/ACK, µs
	// TCP events per side: [client, server].
	Retransmissions [2]uint64 `json:"retransmissions"`
	ZeroWindows     [2]uint64 `json:"zeroWindows"`
	Resets          [2]uint64 `json:"resets"`
	Figures
}

func renderConn(_ *call, e *stats.Entity[flow.Key, flow.Conn]) *Connection {
	k, at := &e.Key, &e.Attr
	cli := int(at.ClientSide) & 1
	srv := 1 - cli
	f := e.Figures
	if cli == 1 { // the store counts from side A
		f = f.Swap()
	}
	mac := func(m decode.MAC) string {
		if m == (decode.MAC{}) {
			return ""
		}
		return m.String()
	}
	out := &Connection{
		ClientIP: k.Addr(cli).String(), ClientPort: k.Port(cli),
		ServerIP: k.Addr(srv).String(), ServerPort: k.Port(srv),
		Protocol: protoName(k.Proto), Application: at.App.String(), VLAN: at.VLAN,
		ClientMAC: mac(at.MAC[cli]), ServerMAC: mac(at.MAC[srv]),
		FirstPacket: at.FirstNs / 1e3, LastPacket: at.LastNs / 1e3,
		Handshake: at.Handshake, ResponseTime: float64(at.ResponseNs) / 1e3,
		Retransmissions: [2]uint64{at.Retransmissions[cli], at.Retransmissions[srv]},
		ZeroWindows:     [2]uint64{at.ZeroWindows[cli], at.ZeroWindows[srv]},
		Resets:          [2]uint64{at.Resets[cli], at.Resets[srv]},
		Figures:         figuresOf(&f),
	}
	if k.Proto == decode.ProtoTCP {
		out.State = at.State.String()
	}
	return out
}

func connColumns() []apilist.Column[*Connection] {
	itoa := func(v uint16) string { return strconv.Itoa(int(v)) }
	return append([]apilist.Column[*Connection]{
		{Name: "clientIp", Value: func(c *Connection) string { return c.ClientIP }},
		{Name: "clientPort", Value: func(c *Connection) string { return itoa(c.ClientPort) }},
		{Name: "serverIp", Value: func(c *Connection) string { return c.ServerIP }},
		{Name: "serverPort", Value: func(c *Connection) string { return itoa(c.ServerPort) }},
		{Name: "protocol", Value: func(c *Connection) string { return c.Protocol }},
		{Name: "application", Value: func(c *Connection) string { return c.Application }},
		{Name: "state", Value: func(c *Connection) string { return c.State }},
		{Name: "vlan", Value: func(c *Connection) string { return itoa(c.VLAN) }},
		{Name: "firstPacket", Value: func(c *Connection) string { return strconv.FormatInt(c.FirstPacket, 10) }},
		{Name: "lastPacket", Value: func(c *Connection) string { return strconv.FormatInt(c.LastPacket, 10) }},
		{Name: "retransmissions", Value: func(c *Connection) string { return u64(c.Retransmissions[0] + c.Retransmissions[1]) }},
	}, figureColumns(func(c *Connection) *Figures { return &c.Figures })...)
}
