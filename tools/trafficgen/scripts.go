package trafficgen

import (
	"encoding/binary"
)

// TCP flags.
const (
	fin = 0x01
	syn = 0x02
	rst = 0x04
	psh = 0x08
	ack = 0x10
)

// nextTCP walks handshake, data phase and teardown. Steps: 0 SYN,
// 1 SYN/ACK, 2 ACK, 3..3+steps data, then FIN/ACK, FIN/ACK, ACK (or RST).
func (c *conversation) nextTCP(g *Generator, buf []byte) ([]byte, bool) {
	s := c.step
	c.step++
	switch {
	case s == 0:
		return c.tcp(buf, true, syn, nil, true), false
	case s == 1:
		c.cli.seq++ // SYN consumed one
		return c.tcp(buf, false, syn|ack, nil, true), false
	case s == 2:
		c.srv.seq++
		return c.tcp(buf, true, ack, nil, false), false
	case s < 3+c.steps && c.bulk:
		return c.nextBulk(g, buf, s-3), false
	case s < 3+c.steps:
		fromClient := (s-3)%2 == 0
		n := 1 + g.rng.IntN(1460)
		if fromClient {
			n = 1 + g.rng.IntN(400)
		}
		data := c.payload(g, fromClient, s < 5, n)
		frame := c.tcp(buf, fromClient, psh|ack, data, false)
		switch g.rng.IntN(40) {
		case 0:
			// A retransmission: the same segment again (seq not advanced).
			c.step--
		case 1:
			if !fromClient {
				c.cli.win = 0 // the client announces a zero window next
			}
			fallthrough
		default:
			c.side(fromClient).seq += uint32(len(data))
		}
		return frame, false
	case c.ending == 1:
		return c.tcp(buf, true, rst|ack, nil, false), true
	case s == 3+c.steps:
		c.cli.win = 64240
		f := c.tcp(buf, true, fin|ack, nil, false)
		c.cli.seq++
		return f, false
	case s == 4+c.steps:
		f := c.tcp(buf, false, fin|ack, nil, false)
		c.srv.seq++
		return f, false
	default:
		return c.tcp(buf, true, ack, nil, false), true
	}
}

// nextBulk is step k of a bulk transfer's data phase: two server
// segments, mostly full-size, then the client's acknowledgement.
func (c *conversation) nextBulk(g *Generator, buf []byte, k int) []byte {
	if k%3 == 2 {
		return c.tcp(buf, true, ack, nil, false)
	}
	n := 1460
	if g.rng.IntN(8) == 0 {
		n = 1 + g.rng.IntN(1460)
	}
	data := c.payload(g, false, k == 0, n)
	frame := c.tcp(buf, false, psh|ack, data, false)
	c.srv.seq += uint32(len(data))
	return frame
}

func (c *conversation) side(fromClient bool) *endpoint {
	if fromClient {
		return &c.cli
	}
	return &c.srv
}

func (c *conversation) tcp(buf []byte, fromClient bool, flags uint8, data []byte, synOpts bool) []byte {
	src, dst := c.side(fromClient), c.side(!fromClient)
	hdrLen := 20
	if synOpts {
		hdrLen = 28
	}
	seg := make([]byte, hdrLen, hdrLen+len(data))
	binary.BigEndian.PutUint16(seg[0:], src.port)
	binary.BigEndian.PutUint16(seg[2:], dst.port)
	binary.BigEndian.PutUint32(seg[4:], src.seq)
	if flags&ack != 0 {
		binary.BigEndian.PutUint32(seg[8:], dst.seq)
	}
	seg[12] = byte(hdrLen/4) << 4
	seg[13] = flags
	binary.BigEndian.PutUint16(seg[14:], src.win)
	if synOpts {
		// MSS 1460, NOP, window scale 7, NOP, NOP, EOL-padded.
		copy(seg[20:], []byte{2, 4, 0x05, 0xb4, 1, 3, 3, 7})
	}
	if src.win == 0 {
		src.win = 64240 // the zero window lasts one segment
	}
	seg = append(seg, data...)
	return c.ip(buf, fromClient, 6, seg)
}

// nextDNS sends a query and its response.
func (c *conversation) nextDNS(g *Generator, buf []byte) ([]byte, bool) {
	s := c.step
	c.step++
	name := dnsNames[c.name]
	qtype := uint16(1)
	if c.v6 {
		qtype = 28
	}
	m := binary.BigEndian.AppendUint16(nil, c.txid)
	if s == 0 {
		m = append(m, 0x01, 0x00, 0, 1, 0, 0, 0, 0, 0, 0)
		m = appendQuestion(m, name, qtype)
		return c.udp(buf, true, m), false
	}
	answers := 0
	if c.rcode == 0 {
		answers = 1 + g.rng.IntN(2)
	}
	m = append(m, 0x81, 0x80|c.rcode, 0, 1, 0, byte(answers), 0, 0, 0, 0)
	m = appendQuestion(m, name, qtype)
	for i := range answers {
		m = append(m, 0xc0, 12) // pointer to the question name
		m = binary.BigEndian.AppendUint16(m, qtype)
		m = append(m, 0, 1, 0, 0, 0x0e, 0x10) // IN, TTL 3600
		if qtype == 1 {
			m = append(m, 0, 4, 10, 2, byte(c.name), byte(i+1))
		} else {
			m = append(m, 0, 16, 0x20, 0x01, 0x0d, 0xb8, 0, 2, 0, 0, 0, 0, 0, 0, 0, 0, 0, byte(c.name), 0, byte(i+1))
		}
	}
	return c.udp(buf, false, m), true
}

func appendQuestion(m []byte, name string, qtype uint16) []byte {
	start := 0
	for i := 0; i <= len(name); i++ {
		if i == len(name) || name[i] == '.' {
			m = append(m, byte(i-start))
			m = append(m, name[start:i]...)
			start = i + 1
		}
	}
	m = append(m, 0)
	m = binary.BigEndian.AppendUint16(m, qtype)
	return append(m, 0, 1)
}

func (c *conversation) nextUDP(g *Generator, buf []byte) ([]byte, bool) {
	s := c.step
	c.step++
	n := 20 + g.rng.IntN(300)
	return c.udp(buf, s%3 != 2, c.payload(g, true, false, n)), s+1 >= c.steps
}

// nextDHCP is a DISCOVER/OFFER/REQUEST/ACK exchange with a hostname.
func (c *conversation) nextDHCP(g *Generator, buf []byte) ([]byte, bool) {
	s := c.step
	c.step++
	msgType := [...]byte{1, 2, 3, 5}[s]
	fromClient := s%2 == 0
	m := make([]byte, 240)
	m[0] = 1 + byte(s%2) // op: request/reply
	m[1], m[2] = 1, 6
	binary.BigEndian.PutUint32(m[4:], uint32(c.txid)<<16|uint32(c.txid))
	if !fromClient {
		copy(m[16:20], c.cli.ip4[:]) // yiaddr
		copy(m[20:24], c.srv.ip4[:]) // siaddr
	}
	copy(m[28:34], c.cli.mac[:])
	copy(m[236:240], []byte{99, 130, 83, 99})
	m = append(m, 53, 1, msgType)
	if fromClient {
		host := []byte("client-")
		host = append(host, byte('a'+c.cli.mac[5]%26), byte('a'+c.cli.mac[4]%26))
		m = append(m, 12, byte(len(host)))
		m = append(m, host...)
	} else {
		m = append(m, 54, 4)
		m = append(m, c.srv.ip4[:]...)
		m = append(m, 51, 4, 0, 0, 0x0e, 0x10, 1, 4, 255, 255, 0, 0)
	}
	m = append(m, 255)
	var src, dst [4]byte
	var dstMAC [6]byte
	if fromClient {
		dst, dstMAC = [4]byte{255, 255, 255, 255}, [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	} else {
		src, dst, dstMAC = c.srv.ip4, c.cli.ip4, c.cli.mac
	}
	sp, dp := uint16(68), uint16(67)
	srcMAC := c.cli.mac
	if !fromClient {
		sp, dp, srcMAC = 67, 68, c.srv.mac
	}
	seg := udpHeader(sp, dp, m)
	return ethernet(buf, dstMAC, srcMAC, 0, 0x0800, ipv4(src, dst, 17, 128, seg)), s == 3
}

func (c *conversation) nextARP(buf []byte) ([]byte, bool) {
	s := c.step
	c.step++
	a := make([]byte, 28)
	binary.BigEndian.PutUint16(a[0:], 1)
	binary.BigEndian.PutUint16(a[2:], 0x0800)
	a[4], a[5] = 6, 4
	dstMAC := [6]byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}
	srcMAC := c.cli.mac
	if s == 0 {
		binary.BigEndian.PutUint16(a[6:], 1)
		copy(a[8:], c.cli.mac[:])
		copy(a[14:], c.cli.ip4[:])
		copy(a[24:], c.srv.ip4[:])
	} else {
		binary.BigEndian.PutUint16(a[6:], 2)
		copy(a[8:], c.srv.mac[:])
		copy(a[14:], c.srv.ip4[:])
		copy(a[18:], c.cli.mac[:])
		copy(a[24:], c.cli.ip4[:])
		dstMAC, srcMAC = c.cli.mac, c.srv.mac
	}
	// Pad to the 60-byte Ethernet minimum as real NICs do.
	a = append(a, make([]byte, 18)...)
	return ethernet(buf, dstMAC, srcMAC, c.vlan, 0x0806, a), s == 1
}

func (c *conversation) nextICMP(g *Generator, buf []byte) ([]byte, bool) {
	s := c.step
	c.step++
	fromClient := s%2 == 0
	typ := byte(8)
	proto := byte(1)
	if c.v6 {
		typ, proto = 128, 58
	}
	if !fromClient {
		typ = map[byte]byte{8: 0, 128: 129}[typ]
	}
	m := []byte{typ, 0, 0, 0, byte(c.txid >> 8), byte(c.txid), 0, byte(s / 2)}
	m = append(m, c.payload(g, true, false, 56)...)
	return c.ip(buf, fromClient, proto, m), s+1 >= 2*c.steps
}

func (c *conversation) udp(buf []byte, fromClient bool, data []byte) []byte {
	src, dst := c.side(fromClient), c.side(!fromClient)
	return c.ip(buf, fromClient, 17, udpHeader(src.port, dst.port, data))
}

func udpHeader(sp, dp uint16, data []byte) []byte {
	seg := make([]byte, 8, 8+len(data))
	binary.BigEndian.PutUint16(seg[0:], sp)
	binary.BigEndian.PutUint16(seg[2:], dp)
	binary.BigEndian.PutUint16(seg[4:], uint16(8+len(data)))
	return append(seg, data...)
}

// ip wraps an L4 segment in IPv4 or IPv6 and Ethernet (with the
// conversation's VLAN), filling the L4 checksum.
func (c *conversation) ip(buf []byte, fromClient bool, proto byte, seg []byte) []byte {
	src, dst := c.side(fromClient), c.side(!fromClient)
	ttl := byte(64)
	if !fromClient {
		ttl = 57
	}
	if c.v6 {
		setL4Checksum(proto, seg, src.ip6[:], dst.ip6[:])
		return ethernet(buf, dst.mac, src.mac, c.vlan, 0x86dd, ipv6(src.ip6, dst.ip6, proto, ttl, seg))
	}
	return ethernet(buf, dst.mac, src.mac, c.vlan, 0x0800, ipv4(src.ip4, dst.ip4, proto, ttl, seg))
}

func ethernet(buf []byte, dst, src [6]byte, vlan uint16, etype uint16, payload []byte) []byte {
	buf = append(buf, dst[:]...)
	buf = append(buf, src[:]...)
	if vlan != 0 {
		buf = binary.BigEndian.AppendUint16(buf, 0x8100)
		buf = binary.BigEndian.AppendUint16(buf, vlan)
	}
	buf = binary.BigEndian.AppendUint16(buf, etype)
	buf = append(buf, payload...)
	// Pad to the 60-byte minimum frame (without FCS).
	for len(buf) < 60 {
		buf = append(buf, 0)
	}
	return buf
}

func ipv4(src, dst [4]byte, proto, ttl byte, seg []byte) []byte {
	if proto == 6 || proto == 17 {
		setL4Checksum(proto, seg, src[:], dst[:])
	} else if proto == 1 {
		binary.BigEndian.PutUint16(seg[2:], 0)
		binary.BigEndian.PutUint16(seg[2:], checksum(0, seg))
	}
	h := make([]byte, 20, 20+len(seg))
	h[0] = 0x45
	binary.BigEndian.PutUint16(h[2:], uint16(20+len(seg)))
	binary.BigEndian.PutUint16(h[6:], 0x4000) // DF
	h[8], h[9] = ttl, proto
	copy(h[12:], src[:])
	copy(h[16:], dst[:])
	binary.BigEndian.PutUint16(h[10:], checksum(0, h))
	return append(h, seg...)
}

func ipv6(src, dst [16]byte, proto, hop byte, seg []byte) []byte {
	h := make([]byte, 40, 40+len(seg))
	h[0] = 0x60
	binary.BigEndian.PutUint16(h[4:], uint16(len(seg)))
	h[6], h[7] = proto, hop
	copy(h[8:], src[:])
	copy(h[24:], dst[:])
	return append(h, seg...)
}

// setL4Checksum fills the TCP, UDP or ICMPv6 checksum over the pseudo-header.
func setL4Checksum(proto byte, seg, src, dst []byte) {
	var off int
	switch proto {
	case 6:
		off = 16
	case 17:
		off = 6
	case 58:
		off = 2
	default:
		return
	}
	seg[off], seg[off+1] = 0, 0
	var sum uint32
	sum = sumBytes(sum, src)
	sum = sumBytes(sum, dst)
	sum += uint32(proto) + uint32(len(seg))
	cs := checksum(sum, seg)
	if cs == 0 && proto == 17 {
		cs = 0xffff
	}
	binary.BigEndian.PutUint16(seg[off:], cs)
}

func sumBytes(sum uint32, b []byte) uint32 {
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1]) << 8
	}
	return sum
}

func checksum(sum uint32, b []byte) uint16 {
	sum = sumBytes(sum, b)
	for sum>>16 != 0 {
		sum = sum&0xffff + sum>>16
	}
	return ^uint16(sum)
}
