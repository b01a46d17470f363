package decode

import (
	"encoding/binary"
	"errors"
	"fmt"
)

// LinkType is a pcap link-layer header type (LINKTYPE_*).
type LinkType uint16

// Link types Decode understands.
const (
	LinkNull     LinkType = 0   // BSD loopback, host byte order family
	LinkEthernet LinkType = 1   // Ethernet II
	LinkPPP      LinkType = 9   // PPP in HDLC-like framing
	LinkRaw      LinkType = 101 // raw IPv4/IPv6
	LinkCHDLC    LinkType = 104 // Cisco HDLC
	LinkLoop     LinkType = 108 // OpenBSD loopback, network byte order family
	LinkSLL      LinkType = 113 // Linux cooked capture v1
	LinkIPv4     LinkType = 228
	LinkIPv6     LinkType = 229
	LinkSLL2     LinkType = 276 // Linux cooked capture v2
	// DLT_RAW on some platforms.
	linkRaw12 LinkType = 12
	linkRaw14 LinkType = 14
)

// Supported reports whether Decode knows link type l.
func Supported(l LinkType) bool {
	switch l {
	case LinkNull, LinkEthernet, LinkPPP, LinkRaw, LinkCHDLC, LinkLoop, LinkSLL, LinkIPv4, LinkIPv6, LinkSLL2, linkRaw12, linkRaw14:
		return true
	}
	return false
}

// Errors Decode returns. They are sentinels so returning them never
// allocates; the Layers of the Packet show how far decoding got.
var (
	ErrTruncated   = errors.New("decode: packet truncated")
	ErrMalformed   = errors.New("decode: malformed header")
	ErrUnsupported = errors.New("decode: unsupported link type")
)

// EtherTypes handled.
const (
	etherIPv4      = 0x0800
	etherARP       = 0x0806
	etherVLAN      = 0x8100
	etherQinQ      = 0x88a8
	etherQinQOld   = 0x9100
	etherIPv6      = 0x86dd
	etherMPLS      = 0x8847
	etherMPLSMulti = 0x8848
	etherPPPoE     = 0x8864
	etherTEB       = 0x6558 // transparent Ethernet bridging (GRE)
	etherERSPAN2   = 0x88be
	etherERSPAN3   = 0x22eb
)

const (
	vxlanPort = 4789
	// maxTunnelDepth bounds nested encapsulation so hostile input cannot
	// recurse without end.
	maxTunnelDepth = 2
	maxIPv6Ext     = 8
)

// Decode resets p's decoded fields and parses frame into it. Timestamp,
// OrigLen and Port are left as the caller set them; CapLen is set to
// len(frame). It allocates nothing.
func Decode(p *Packet, link LinkType, frame []byte) error {
	ts, orig, port, repeat := p.Timestamp, p.OrigLen, p.Port, p.Repeat
	// Zero in place, then set: a composite literal with fields is built
	// on the stack and copied, twice the stores and a stall on each.
	*p = Packet{}
	p.Timestamp, p.OrigLen, p.Port, p.Repeat = ts, orig, port, repeat
	p.CapLen, p.Link, p.TCPWindowScale = uint32(len(frame)), link, -1
	if len(frame) > 0xffff {
		// Offsets are 16 bits; jumbo frames beyond 64 KiB do not occur on
		// monitor ports, and GRO super-packets are decoded up to this limit.
		frame = frame[:0xffff]
	}
	d := decoder{p: p, b: frame}
	switch link {
	case LinkEthernet:
		return d.ethernet(0, 0)
	case LinkRaw, linkRaw12, linkRaw14:
		return d.rawIP(0, 0)
	case LinkIPv4:
		return d.ipv4(0, 0)
	case LinkIPv6:
		return d.ipv6(0, 0)
	case LinkNull, LinkLoop:
		if len(frame) < 4 {
			return ErrTruncated
		}
		return d.rawIP(4, 0)
	case LinkCHDLC:
		if len(frame) < 4 {
			return ErrTruncated
		}
		return d.ethertype(d.u16(2), 4, 0)
	case LinkPPP:
		return d.ppp()
	case LinkSLL:
		return d.sll(16, 14)
	case LinkSLL2:
		return d.sll(20, 0)
	}
	return ErrUnsupported
}

type decoder struct {
	p *Packet
	b []byte
}

func (d *decoder) u16(off int) uint16 { return binary.BigEndian.Uint16(d.b[off:]) }
func (d *decoder) u32(off int) uint32 { return binary.BigEndian.Uint32(d.b[off:]) }

// sll decodes Linux cooked headers; typeOff is where the protocol field is.
func (d *decoder) sll(hdrLen, typeOff int) error {
	if len(d.b) < hdrLen {
		return ErrTruncated
	}
	d.p.Layers |= LayerSLL
	var etype uint16
	if hdrLen == 20 { // SLL2: protocol type first, address at 12
		etype = d.u16(0)
		copy(d.p.SrcMAC[:], d.b[12:18])
	} else {
		etype = d.u16(typeOff)
		copy(d.p.SrcMAC[:], d.b[6:12])
	}
	return d.ethertype(etype, hdrLen, 0)
}

// ppp decodes PPP with or without the HDLC address/control bytes.
func (d *decoder) ppp() error {
	off := 0
	if len(d.b) >= 2 && d.b[0] == 0xff && d.b[1] == 0x03 {
		off = 2
	}
	if len(d.b) < off+2 {
		return ErrTruncated
	}
	switch d.u16(off) {
	case 0x0021:
		return d.ipv4(off+2, 0)
	case 0x0057:
		return d.ipv6(off+2, 0)
	}
	return nil
}

// rawIP decodes an IP packet whose version is in its first nibble.
func (d *decoder) rawIP(off, depth int) error {
	if len(d.b) <= off {
		return ErrTruncated
	}
	switch d.b[off] >> 4 {
	case 4:
		return d.ipv4(off, depth)
	case 6:
		return d.ipv6(off, depth)
	}
	return ErrMalformed
}

func (d *decoder) ethernet(off, depth int) error {
	if len(d.b) < off+14 {
		return ErrTruncated
	}
	p := d.p
	if depth > 0 {
		// An inner Ethernet header replaces the outer one: the inner frame
		// is what users care about. VLAN/MPLS of the outer frame are kept.
		p.Layers &^= LayerIPv4 | LayerIPv6 | LayerUDP
	}
	p.Layers |= LayerEthernet
	copy(p.DstMAC[:], d.b[off:off+6])
	copy(p.SrcMAC[:], d.b[off+6:off+12])
	return d.ethertype(d.u16(off+12), off+14, depth)
}

// ethertype walks VLAN, MPLS and PPPoE headers to the network layer.
func (d *decoder) ethertype(etype uint16, off, depth int) error {
	p := d.p
	for {
		p.EtherType = etype
		switch etype {
		case etherVLAN, etherQinQ, etherQinQOld:
			if len(d.b) < off+4 {
				return ErrTruncated
			}
			tci := d.u16(off)
			if p.VLANCount < MaxVLANs {
				p.VLANs[p.VLANCount] = tci & 0x0fff
			}
			if p.VLANCount == 0 {
				p.PCP = uint8(tci >> 13)
			}
			if p.VLANCount < 255 {
				p.VLANCount++
			}
			p.Layers |= LayerVLAN
			etype = d.u16(off + 2)
			off += 4
		case etherMPLS, etherMPLSMulti:
			return d.mpls(off, depth)
		case etherPPPoE:
			if len(d.b) < off+8 {
				return ErrTruncated
			}
			p.Layers |= LayerPPPoE
			p.PPPoESession = d.u16(off + 2)
			switch d.u16(off + 6) { // PPP protocol
			case 0x0021:
				etype = etherIPv4
			case 0x0057:
				etype = etherIPv6
			default:
				return nil
			}
			off += 8
		case etherIPv4:
			return d.ipv4(off, depth)
		case etherIPv6:
			return d.ipv6(off, depth)
		case etherARP:
			return d.arp(off)
		default:
			return nil
		}
	}
}

func (d *decoder) mpls(off, depth int) error {
	p := d.p
	p.Layers |= LayerMPLS
	for {
		if len(d.b) < off+4 {
			return ErrTruncated
		}
		e := d.u32(off)
		if p.MPLSCount < MaxMPLS {
			p.MPLS[p.MPLSCount] = e >> 12
		}
		if p.MPLSCount < 255 {
			p.MPLSCount++
		}
		off += 4
		if e&0x100 != 0 { // bottom of stack
			break
		}
	}
	// No protocol field after MPLS: guess from the first nibble, as
	// Wireshark does (pseudowire control words start with 0).
	if len(d.b) <= off {
		return ErrTruncated
	}
	switch d.b[off] >> 4 {
	case 4:
		p.EtherType = etherIPv4
		return d.ipv4(off, depth)
	case 6:
		p.EtherType = etherIPv6
		return d.ipv6(off, depth)
	}
	return nil
}

func (d *decoder) arp(off int) error {
	if len(d.b) < off+8 {
		return ErrTruncated
	}
	htype, ptype, hlen, plen := d.u16(off), d.u16(off+2), d.b[off+4], d.b[off+5]
	if htype != 1 || ptype != etherIPv4 || hlen != 6 || plen != 4 {
		return nil // not Ethernet/IPv4 ARP: leave it at L2
	}
	if len(d.b) < off+28 {
		return ErrTruncated
	}
	p := d.p
	p.Layers |= LayerARP
	p.ARPOp = d.u16(off + 6)
	copy(p.ARPSenderMAC[:], d.b[off+8:off+14])
	p.ARPSenderIP.set4(d.b[off+14 : off+18])
	copy(p.ARPTargetMAC[:], d.b[off+18:off+24])
	p.ARPTargetIP.set4(d.b[off+24 : off+28])
	return nil
}

// enterTunnel records the current (outer) IP header before an inner packet
// overwrites the L3/L4 fields.
func (d *decoder) enterTunnel(t Tunnel) {
	p := d.p
	p.Tunnel = t
	p.OuterSrc, p.OuterDst = p.SrcIP, p.DstIP
	p.SrcPort, p.DstPort, p.Proto = 0, 0, 0
	p.PayloadOff, p.PayloadLen = 0, 0
}

func (d *decoder) ipv4(off, depth int) error {
	p := d.p
	if len(d.b) < off+20 {
		return ErrTruncated
	}
	vihl := d.b[off]
	ihl := int(vihl&0x0f) * 4
	if vihl>>4 != 4 || ihl < 20 {
		p.IPHeaderBroken = true
		return ErrMalformed
	}
	if len(d.b) < off+ihl {
		return ErrTruncated
	}
	total := int(d.u16(off + 2))
	if total == 0 {
		// Sent with TCP segmentation offload and captured before the NIC
		// split it: the length is what was captured, as Wireshark assumes.
		total = len(d.b) - off
	}
	if total < ihl {
		p.IPHeaderBroken = true
		return ErrMalformed
	}
	p.Layers = p.Layers&^(LayerIPv6|LayerTCP|LayerUDP|LayerSCTP|LayerICMPv4|LayerICMPv6) | LayerIPv4
	p.IPVersion = 4
	p.L3Off = uint16(off)
	p.TOS = d.b[off+1]
	p.IPTotalLen = uint32(total)
	p.IPID = uint32(d.u16(off + 4))
	fl := d.u16(off + 6)
	p.MoreFragments = fl&0x2000 != 0
	p.FragOffset = (fl & 0x1fff) * 8
	switch {
	case p.FragOffset != 0:
		p.Frag = FragLater
	case p.MoreFragments:
		p.Frag = FragFirst
	default:
		p.Frag = FragNone
	}
	p.TTL = d.b[off+8]
	p.Proto = d.b[off+9]
	p.SrcIP.set4(d.b[off+12 : off+16])
	p.DstIP.set4(d.b[off+16 : off+20])
	return d.transport(off+ihl, total-ihl, depth)
}

func (d *decoder) ipv6(off, depth int) error {
	p := d.p
	if len(d.b) < off+40 {
		return ErrTruncated
	}
	if d.b[off]>>4 != 6 {
		p.IPHeaderBroken = true
		return ErrMalformed
	}
	p.Layers = p.Layers&^(LayerIPv4|LayerTCP|LayerUDP|LayerSCTP|LayerICMPv4|LayerICMPv6) | LayerIPv6
	p.IPVersion = 6
	p.L3Off = uint16(off)
	p.TOS = uint8(d.u16(off) >> 4)
	plen := int(d.u16(off + 4))
	if plen == 0 && d.b[off+6] != 0 {
		// TSO, or a jumbogram (hop-by-hop option): take the captured length.
		plen = len(d.b) - off - 40
	}
	p.IPTotalLen = uint32(40 + plen)
	p.TTL = d.b[off+7]
	p.SrcIP = Addr(d.b[off+8 : off+24])
	p.DstIP = Addr(d.b[off+24 : off+40])
	p.Frag, p.MoreFragments, p.FragOffset, p.IPID = FragNone, false, 0, 0
	next := d.b[off+6]
	off += 40
	remain := plen
	for range maxIPv6Ext {
		switch next {
		case 0, 43, 60, 135, 139, 140: // hop-by-hop, routing, dest opts, mobility, HIP, shim6
			if len(d.b) < off+8 {
				p.Proto = next
				return ErrTruncated
			}
			n := (int(d.b[off+1]) + 1) * 8
			next = d.b[off]
			off += n
			remain -= n
		case 44: // fragment
			if len(d.b) < off+8 {
				p.Proto = next
				return ErrTruncated
			}
			fo := d.u16(off + 2)
			p.FragOffset = fo &^ 7
			p.MoreFragments = fo&1 != 0
			p.IPID = d.u32(off + 4)
			switch {
			case p.FragOffset != 0:
				p.Frag = FragLater
			case p.MoreFragments:
				p.Frag = FragFirst
			}
			next = d.b[off]
			off += 8
			remain -= 8
		case 51: // AH: length in 4-octet units minus 2
			if len(d.b) < off+8 {
				p.Proto = next
				return ErrTruncated
			}
			n := (int(d.b[off+1]) + 2) * 4
			next = d.b[off]
			off += n
			remain -= n
		default:
			p.Proto = next
			if remain < 0 {
				p.IPHeaderBroken = true
				return ErrMalformed
			}
			return d.transport(off, remain, depth)
		}
	}
	p.Proto = next
	return ErrMalformed
}

// transport decodes the L4 header at off; l4Len is the L4 length the IP
// header announces (the capture may hold less).
func (d *decoder) transport(off, l4Len, depth int) error {
	p := d.p
	p.L4Off = uint16(off)
	if p.Frag == FragLater {
		p.PayloadOff, p.PayloadLen = uint16(off), uint32(l4Len)
		return nil
	}
	switch p.Proto {
	case ProtoTCP:
		return d.tcp(off, l4Len)
	case ProtoUDP:
		return d.udp(off, l4Len, depth)
	case ProtoSCTP:
		if len(d.b) < off+12 {
			return ErrTruncated
		}
		p.Layers |= LayerSCTP
		p.SrcPort, p.DstPort = d.u16(off), d.u16(off+2)
		d.setPayload(off+12, l4Len-12)
	case ProtoICMP, ProtoICMPv6:
		if len(d.b) < off+4 {
			return ErrTruncated
		}
		if p.Proto == ProtoICMP {
			p.Layers |= LayerICMPv4
		} else {
			p.Layers |= LayerICMPv6
		}
		p.ICMPType, p.ICMPCode = d.b[off], d.b[off+1]
		d.setPayload(off+4, l4Len-4)
	case ProtoGRE:
		if depth < maxTunnelDepth {
			return d.gre(off, depth)
		}
	default:
		d.setPayload(off, l4Len)
	}
	return nil
}

func (d *decoder) setPayload(off, n int) {
	if n < 0 {
		n = 0
	}
	d.p.PayloadOff, d.p.PayloadLen = uint16(off), uint32(n)
}

func (d *decoder) tcp(off, l4Len int) error {
	p := d.p
	if len(d.b) < off+20 {
		return ErrTruncated
	}
	doff := int(d.b[off+12]>>4) * 4
	if doff < 20 {
		return ErrMalformed
	}
	p.Layers |= LayerTCP
	p.SrcPort, p.DstPort = d.u16(off), d.u16(off+2)
	p.TCPSeq, p.TCPAck = d.u32(off+4), d.u32(off+8)
	p.TCPFlags = d.b[off+13]
	p.TCPWindow = d.u16(off + 14)
	if len(d.b) < off+doff {
		return ErrTruncated
	}
	if p.TCPFlags&TCPSyn != 0 {
		d.tcpOptions(d.b[off+20 : off+doff])
	}
	d.setPayload(off+doff, l4Len-doff)
	return nil
}

// tcpOptions reads MSS and window scale from a SYN.
func (d *decoder) tcpOptions(o []byte) {
	for len(o) > 0 {
		kind := o[0]
		if kind == 0 {
			return
		}
		if kind == 1 {
			o = o[1:]
			continue
		}
		if len(o) < 2 || int(o[1]) < 2 || int(o[1]) > len(o) {
			return
		}
		switch {
		case kind == 2 && o[1] == 4:
			d.p.TCPMSS = binary.BigEndian.Uint16(o[2:])
		case kind == 3 && o[1] == 3:
			d.p.TCPWindowScale = int8(min(o[2], 14))
		}
		o = o[o[1]:]
	}
}

func (d *decoder) udp(off, l4Len, depth int) error {
	p := d.p
	if len(d.b) < off+8 {
		return ErrTruncated
	}
	p.Layers |= LayerUDP
	p.SrcPort, p.DstPort = d.u16(off), d.u16(off+2)
	d.setPayload(off+8, l4Len-8)
	if p.DstPort == vxlanPort && depth < maxTunnelDepth && len(d.b) >= off+16 && d.b[off+8]&0x08 != 0 {
		vni := d.u32(off+12) >> 8
		d.enterTunnel(TunnelVXLAN)
		p.Layers |= LayerVXLAN
		p.VNI = vni
		return d.ethernet(off+16, depth+1)
	}
	return nil
}

func (d *decoder) gre(off, depth int) error {
	p := d.p
	if len(d.b) < off+4 {
		return ErrTruncated
	}
	flags, proto := d.u16(off), d.u16(off+2)
	if flags&0x0007 != 0 { // GRE version other than 0 (e.g. PPTP's enhanced GRE)
		d.setPayload(off, 0)
		return nil
	}
	hdr := 4
	if flags&0x8000 != 0 { // checksum present
		hdr += 4
	}
	if flags&0x2000 != 0 { // key
		hdr += 4
	}
	seq := flags&0x1000 != 0
	if seq {
		hdr += 4
	}
	if len(d.b) < off+hdr {
		return ErrTruncated
	}
	in := off + hdr
	switch proto {
	case etherIPv4, etherIPv6:
		d.enterTunnel(TunnelGRE)
		p.Layers |= LayerGRE
		if proto == etherIPv4 {
			return d.ipv4(in, depth+1)
		}
		return d.ipv6(in, depth+1)
	case etherTEB:
		d.enterTunnel(TunnelGRE)
		p.Layers |= LayerGRE
		return d.ethernet(in, depth+1)
	case etherERSPAN2:
		// Type I has no sequence number and no ERSPAN header.
		if !seq {
			d.enterTunnel(TunnelERSPAN)
			p.Layers |= LayerGRE | LayerERSPAN
			return d.ethernet(in, depth+1)
		}
		if len(d.b) < in+8 {
			return ErrTruncated
		}
		sess := d.u16(in+2) & 0x03ff
		d.enterTunnel(TunnelERSPAN)
		p.Layers |= LayerGRE | LayerERSPAN
		p.ERSPANSession = sess
		return d.ethernet(in+8, depth+1)
	case etherERSPAN3:
		if len(d.b) < in+12 {
			return ErrTruncated
		}
		sess := d.u16(in+2) & 0x03ff
		n := 12
		if d.b[in+11]&0x01 != 0 { // O bit: platform-specific subheader
			n += 8
		}
		d.enterTunnel(TunnelERSPAN)
		p.Layers |= LayerGRE | LayerERSPAN
		p.ERSPANSession = sess
		return d.ethernet(in+n, depth+1)
	}
	d.setPayload(in, 0)
	return nil
}

// String summarises p for logs and test failures.
func (p *Packet) String() string {
	return fmt.Sprintf("ts=%d len=%d port=%d layers=%#x %s %s:%d -> %s:%d proto=%d vlan=%d/%v",
		p.Timestamp, p.OrigLen, p.Port, uint32(p.Layers), p.SrcMAC, p.SrcIP, p.SrcPort, p.DstIP, p.DstPort, p.Proto,
		p.VLANCount, p.VLANs)
}
