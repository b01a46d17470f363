// Package trafficgen generates a deterministic, realistic mix of Ethernet
// frames: TCP sessions (handshake, request/response data, retransmissions,
// zero windows, FIN or RST), DNS queries and responses (with names, address
// answers and error codes), DHCP exchanges, other UDP flows, ARP, ICMP and
// ICMPv6 echo, VLAN-tagged traffic and IPv6. The same seed always yields the
// same frames and timestamps, so tests and benchmarks can compare our
// figures with tshark's on the very same packets.
//
//	g := trafficgen.New(trafficgen.Config{Seed: 1})
//	var buf []byte
//	for range n {
//		frame, ts := g.Next(buf[:0])
//		...
//	}
//
// It also feeds the appliance's monitor port under QEMU and writes the
// captures used by the benchmarks (see WritePcap).
package trafficgen

import (
	"encoding/binary"
	"math/rand/v2"
	"time"
)

// Config shapes the mix. The zero value gives the defaults.
type Config struct {
	Seed    uint64
	Clients int       // client hosts; default 500
	Servers int       // server hosts; default 40
	Active  int       // conversations interleaved at once; default 64
	Start   time.Time // first timestamp; default 2026-01-01T00:00:00Z
	// PacketsPerSecond spaces the timestamps; default 200,000.
	PacketsPerSecond float64
	// Shares of conversations that are VLAN-tagged and IPv6; defaults
	// 0.15 and 0.2. Use a negative value for none.
	VLANShare, IPv6Share float64
	// BulkShare is the share of TCP conversations that are bulk transfers
	// (the server sends full-size segments, the client acknowledges every
	// second one): it raises the average frame from about 360 bytes
	// towards an enterprise link's (EnterpriseBulkShare). Default none.
	BulkShare float64
}

// EnterpriseBulkShare is the BulkShare whose mix averages about 800-byte
// frames, like a typical enterprise link (many full-size data segments and
// small acknowledgements) rather than the default mix of small
// request/response exchanges.
const EnterpriseBulkShare = 0.25

func (c *Config) fillDefaults() {
	if c.Clients <= 0 {
		c.Clients = 500
	}
	if c.Servers <= 0 {
		c.Servers = 40
	}
	if c.Active <= 0 {
		c.Active = 64
	}
	if c.Start.IsZero() {
		c.Start = time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	}
	if c.PacketsPerSecond <= 0 {
		c.PacketsPerSecond = 200_000
	}
	if c.VLANShare == 0 {
		c.VLANShare = 0.15
	}
	if c.IPv6Share == 0 {
		c.IPv6Share = 0.2
	}
}

// Generator produces frames; it is not safe for concurrent use.
type Generator struct {
	cfg   Config
	rng   *rand.Rand
	now   int64 // ns
	gap   float64
	convs []conversation
	fill  []byte // pseudo-random payload bytes
}

// New returns a generator for cfg.
func New(cfg Config) *Generator {
	cfg.fillDefaults()
	g := &Generator{
		cfg: cfg,
		rng: rand.New(rand.NewPCG(cfg.Seed, cfg.Seed^0x9e3779b97f4a7c15)),
		now: cfg.Start.UnixNano(),
		gap: 1e9 / cfg.PacketsPerSecond,
	}
	g.fill = make([]byte, 4096)
	for i := range g.fill {
		g.fill[i] = byte(g.rng.Uint32())
	}
	g.convs = make([]conversation, cfg.Active)
	for i := range g.convs {
		g.convs[i] = g.newConversation()
	}
	return g
}

// Next appends the next frame to buf and returns it with its timestamp.
func (g *Generator) Next(buf []byte) ([]byte, time.Time) {
	// Exponential gaps give bursts and lulls like real traffic.
	g.now += int64(g.rng.ExpFloat64()*g.gap) + 1
	i := g.rng.IntN(len(g.convs))
	c := &g.convs[i]
	frame, done := c.next(g, buf)
	if done {
		g.convs[i] = g.newConversation()
	}
	return frame, time.Unix(0, g.now)
}

type kind uint8

const (
	kindTCP kind = iota
	kindDNS
	kindUDP
	kindARP
	kindICMP
	kindDHCP
)

// endpoint is one side of a conversation.
type endpoint struct {
	mac  [6]byte
	ip4  [4]byte
	ip6  [16]byte
	port uint16
	seq  uint32
	win  uint16
}

// conversation is a scripted exchange; step counts the packets sent.
type conversation struct {
	kind   kind
	v6     bool
	vlan   uint16 // 0 = untagged
	cli    endpoint
	srv    endpoint
	step   int
	steps  int // packets in the data phase
	rcode  uint8
	name   int
	ending uint8 // 0 FIN, 1 RST
	bulk   bool  // TCP: a bulk transfer from the server
	txid   uint16
}

var serverPorts = [...]uint16{80, 443, 443, 443, 22, 445, 3306, 8080, 25, 993}

var dnsNames = [...]string{
	"www.example.com", "mail.example.com", "api.multimeter.test", "cdn.example.net",
	"updates.vendor.example", "files.corp.internal", "login.example.org", "time.example.com",
	"db01.corp.internal", "wiki.corp.internal", "nonexistent.example.com", "printer.lan",
}

func (g *Generator) host(client bool, n int) endpoint {
	var e endpoint
	// Clients in 10.1.0.0/16 (and 2001:db8:1::/64), servers in 10.2.0.0/16.
	net := byte(1)
	if !client {
		net = 2
	}
	e.mac = [6]byte{0x02, 0x00, net, byte(n >> 16), byte(n >> 8), byte(n)}
	e.ip4 = [4]byte{10, net, byte(n >> 8), byte(n) + 1}
	e.ip6 = [16]byte{0x20, 0x01, 0x0d, 0xb8, 0, net, 14: byte(n >> 8), 15: byte(n) + 1}
	e.win = 64240
	e.seq = g.rng.Uint32()
	return e
}

func (g *Generator) newConversation() conversation {
	r := g.rng
	c := conversation{
		cli: g.host(true, r.IntN(g.cfg.Clients)),
		srv: g.host(false, r.IntN(g.cfg.Servers)),
	}
	c.v6 = r.Float64() < g.cfg.IPv6Share
	if r.Float64() < g.cfg.VLANShare {
		c.vlan = [...]uint16{10, 20, 100}[r.IntN(3)]
	}
	c.cli.port = uint16(32768 + r.IntN(28000))
	switch x := r.IntN(100); {
	case x < 55:
		c.kind = kindTCP
		c.srv.port = serverPorts[r.IntN(len(serverPorts))]
		c.steps = 2 + r.IntN(30)
		if r.IntN(10) == 0 {
			c.ending = 1
		}
		// Draw only when asked for: the default mix stays the same.
		if g.cfg.BulkShare > 0 && r.Float64() < g.cfg.BulkShare {
			c.bulk = true
			c.steps = 40 + r.IntN(400)
		}
	case x < 75:
		c.kind = kindDNS
		c.srv.port = 53
		c.name = r.IntN(len(dnsNames))
		c.txid = uint16(r.Uint32())
		switch y := r.IntN(20); {
		case y == 0:
			c.rcode = 2 // SERVFAIL
		case y < 3 || dnsNames[c.name] == "nonexistent.example.com":
			c.rcode = 3 // NXDOMAIN
		}
	case x < 87:
		c.kind = kindUDP
		c.srv.port = [...]uint16{123, 514, 5004, 5060, 161}[r.IntN(5)]
		c.steps = 1 + r.IntN(12)
	case x < 91:
		c.kind = kindARP
		c.v6 = false
	case x < 97:
		c.kind = kindICMP
		c.steps = 1 + r.IntN(4)
	default:
		c.kind = kindDHCP
		c.v6, c.vlan = false, 0
		c.txid = uint16(r.Uint32())
	}
	return c
}

func (c *conversation) next(g *Generator, buf []byte) ([]byte, bool) {
	switch c.kind {
	case kindTCP:
		return c.nextTCP(g, buf)
	case kindDNS:
		return c.nextDNS(g, buf)
	case kindUDP:
		return c.nextUDP(g, buf)
	case kindARP:
		return c.nextARP(buf)
	case kindICMP:
		return c.nextICMP(g, buf)
	default:
		return c.nextDHCP(g, buf)
	}
}

// payload returns n pseudo-random bytes, with a protocol-like start for
// the first data segment of well-known services so DPI has something to
// recognise.
func (c *conversation) payload(g *Generator, fromClient bool, first bool, n int) []byte {
	if first {
		if p := greeting(c.srv.port, fromClient); p != nil {
			return p
		}
	}
	off := g.rng.IntN(len(g.fill) - 1500)
	return g.fill[off : off+n]
}

func greeting(port uint16, fromClient bool) []byte {
	switch {
	case (port == 80 || port == 8080) && fromClient:
		return []byte("GET /index.html HTTP/1.1\r\nHost: www.example.com\r\nUser-Agent: trafficgen\r\n\r\n")
	case port == 80 || port == 8080:
		return []byte("HTTP/1.1 200 OK\r\nContent-Type: text/html\r\nContent-Length: 512\r\n\r\n<html></html>")
	case port == 22:
		return []byte("SSH-2.0-OpenSSH_9.2p1 Debian-2\r\n")
	case port == 443 && fromClient:
		return tlsClientHello
	case port == 25 && !fromClient:
		return []byte("220 mail.example.com ESMTP ready\r\n")
	}
	return nil
}

// tlsClientHello is a minimal TLS 1.2 ClientHello record with an SNI.
var tlsClientHello = func() []byte {
	sni := "www.example.com"
	ext := []byte{0x00, 0x00} // server_name
	list := append([]byte{0x00}, be16(uint16(len(sni)))...)
	list = append(list, sni...)
	body := append(be16(uint16(len(list))), list...)
	ext = append(ext, be16(uint16(len(body)))...)
	ext = append(ext, body...)
	hello := []byte{0x03, 0x03}
	hello = append(hello, make([]byte, 32)...) // random
	hello = append(hello, 0x00)                // session id
	hello = append(hello, 0x00, 0x02, 0x13, 0x01)
	hello = append(hello, 0x01, 0x00) // compression
	hello = append(hello, be16(uint16(len(ext)))...)
	hello = append(hello, ext...)
	hs := append([]byte{0x01, 0x00}, be16(uint16(len(hello)))...)
	hs = append(hs, hello...)
	rec := append([]byte{0x16, 0x03, 0x01}, be16(uint16(len(hs)))...)
	return append(rec, hs...)
}()

func be16(v uint16) []byte { return binary.BigEndian.AppendUint16(nil, v) }
