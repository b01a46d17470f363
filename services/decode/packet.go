// Package decode parses a frame's headers in place into a reused Packet,
// without allocating: Ethernet, 802.1Q/QinQ, MPLS, PPPoE, ARP, IPv4
// (fragments), IPv6 (extension headers), ICMP/ICMPv6, TCP, UDP, SCTP, and
// the tunnels whose inner packet is what users care about (GRE, ERSPAN
// type II/III, VXLAN).
//
//	var p decode.Packet
//	for each frame {
//		err := decode.Decode(&p, decode.LinkEthernet, frame)
//		// p holds offsets into frame; p is valid until frame is reused.
//	}
//
// A Packet holds no pointers: it records header fields and offsets into the
// frame, so it can be copied into batches and queues without the garbage
// collector ever scanning it. Short or malformed input marks how far
// decoding got (Layers) and returns ErrTruncated or ErrMalformed; it never
// reads out of bounds.
package decode

import (
	"encoding/binary"
	"net/netip"
)

// Addr is an IPv4 or IPv6 address in 16 bytes; IPv4 is stored
// IPv4-mapped (::ffff:a.b.c.d). It is a fixed-size, comparable value so
// tables can key on it directly.
type Addr [16]byte

var v4InV6Prefix = [12]byte{10: 0xff, 11: 0xff}

// AddrFrom4 returns the IPv4-mapped form of a.
func AddrFrom4(a [4]byte) Addr {
	var x Addr
	x[10], x[11] = 0xff, 0xff
	copy(x[12:], a[:])
	return x
}

// set4 stores the IPv4-mapped form of the 4 bytes b in a. Decoding writes
// addresses in place with it: AddrFrom4's result, built on the stack with
// narrow stores and then copied with one wide load, makes that load wait
// for the stores (a store-forwarding stall, twice a packet). The two 8-byte
// stores here are what the dispatcher's hash loads back.
func (a *Addr) set4(b []byte) {
	binary.LittleEndian.PutUint64(a[:8], 0)
	binary.LittleEndian.PutUint64(a[8:], 0xffff<<16|uint64(binary.LittleEndian.Uint32(b))<<32)
}

// AddrFromNetip converts a netip.Addr (IPv4 becomes IPv4-mapped).
func AddrFromNetip(a netip.Addr) Addr { return Addr(a.As16()) }

// Is4 reports whether a is an IPv4 address.
func (a Addr) Is4() bool { return [12]byte(a[:12]) == v4InV6Prefix }

// Netip returns a as a netip.Addr, IPv4 unmapped.
func (a Addr) Netip() netip.Addr { return netip.AddrFrom16(a).Unmap() }

// String formats a like netip.Addr does.
func (a Addr) String() string { return a.Netip().String() }

// MAC is an Ethernet address.
type MAC [6]byte

// String formats m as aa:bb:cc:dd:ee:ff.
func (m MAC) String() string {
	const hexDigits = "0123456789abcdef"
	var b [17]byte
	for i, v := range m {
		if i > 0 {
			b[i*3-1] = ':'
		}
		b[i*3] = hexDigits[v>>4]
		b[i*3+1] = hexDigits[v&0xf]
	}
	return string(b[:])
}

// IsBroadcast reports whether m is ff:ff:ff:ff:ff:ff.
func (m MAC) IsBroadcast() bool { return m == MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff} }

// IsMulticast reports whether m is a group address (broadcast included).
func (m MAC) IsMulticast() bool { return m[0]&1 == 1 }

// Layer is a bit set of the headers found in a packet.
type Layer uint32

// Layers a Packet can carry. Tunnel bits describe the outer encapsulation;
// the other bits describe the innermost packet.
const (
	LayerEthernet Layer = 1 << iota
	LayerVLAN
	LayerMPLS
	LayerPPPoE
	LayerARP
	LayerIPv4
	LayerIPv6
	LayerICMPv4
	LayerICMPv6
	LayerTCP
	LayerUDP
	LayerSCTP
	LayerGRE
	LayerERSPAN
	LayerVXLAN
	LayerSLL
)

// Tunnel says how the decoded (inner) packet was encapsulated.
type Tunnel uint8

// Tunnel kinds.
const (
	TunnelNone Tunnel = iota
	TunnelGRE
	TunnelERSPAN
	TunnelVXLAN
)

// IP protocol numbers used across the packages.
const (
	ProtoICMP   = 1
	ProtoTCP    = 6
	ProtoUDP    = 17
	ProtoGRE    = 47
	ProtoICMPv6 = 58
	ProtoSCTP   = 132
)

// TCP flag bits as they appear in the header's flags byte.
const (
	TCPFin = 1 << iota
	TCPSyn
	TCPRst
	TCPPsh
	TCPAck
	TCPUrg
	TCPEce
	TCPCwr
)

// Frag flags describe IP fragmentation.
type Frag uint8

// Fragment states.
const (
	FragNone  Frag = iota
	FragFirst      // offset 0, more fragments follow: L4 header present
	FragLater      // non-zero offset: no L4 header in this packet
)

// MaxVLANs and MaxMPLS bound the tags kept per packet; deeper stacks are
// still skipped correctly, only not recorded.
const (
	MaxVLANs = 2
	MaxMPLS  = 3
)

// Packet is one decoded frame. Capture fills Timestamp, OrigLen and Port;
// Decode fills the rest, including the link type it decoded the frame as. Offsets index the frame passed to Decode.
type Packet struct {
	Timestamp int64  // nanoseconds since the Unix epoch
	OrigLen   uint32 // length on the wire without FCS
	CapLen    uint32 // bytes captured (len(frame))
	Port      uint16 // receiving monitor port
	Link      LinkType
	// Repeat is set by a source that hands this packet to the analysis
	// a second time: a replayed file analysed again from its start when
	// the statistics start over. It is analysed as any other; recorders
	// (the ring buffer) have it already.
	Repeat bool

	Layers Layer

	// Layer 2 (outer Ethernet, or the inner one for tunnels).
	SrcMAC, DstMAC MAC
	EtherType      uint16 // innermost EtherType after VLAN/MPLS/PPPoE
	VLANCount      uint8  // tags seen (may exceed MaxVLANs)
	VLANs          [MaxVLANs]uint16
	PCP            uint8 // priority of the outer tag
	MPLSCount      uint8
	MPLS           [MaxMPLS]uint32 // labels, outermost first
	PPPoESession   uint16

	// Tunnel: outer addresses and identifiers when the packet was encapsulated.
	Tunnel             Tunnel
	VNI                uint32 // VXLAN network identifier
	ERSPANSession      uint16
	OuterSrc, OuterDst Addr

	// ARP (Ethernet/IPv4 only).
	ARPOp                      uint16
	ARPSenderMAC, ARPTargetMAC MAC
	ARPSenderIP, ARPTargetIP   Addr

	// Layer 3.
	IPVersion      uint8 // 0, 4 or 6
	SrcIP, DstIP   Addr
	Proto          uint8 // IP protocol of the L4 header (after IPv6 extensions)
	TTL            uint8 // TTL or hop limit
	TOS            uint8 // IPv4 TOS / IPv6 traffic class; DSCP is TOS>>2
	Frag           Frag
	IPID           uint32 // IPv4 ID or IPv6 fragment identification
	FragOffset     uint16 // in bytes
	MoreFragments  bool
	L3Off          uint16
	IPTotalLen     uint32 // from the IP header: IPv4 total length, IPv6 40+payload length
	L4Off          uint16
	PayloadOff     uint16
	PayloadLen     uint32 // L4 payload bytes on the wire (from IP lengths, not capture)
	IPHeaderBroken bool

	// Layer 4.
	SrcPort, DstPort uint16
	TCPFlags         uint8
	TCPSeq, TCPAck   uint32
	TCPWindow        uint16
	TCPWindowScale   int8 // from a SYN's option; -1 when absent
	TCPMSS           uint16
	ICMPType         uint8
	ICMPCode         uint8
}

// Has reports whether every layer in l was decoded.
func (p *Packet) Has(l Layer) bool { return p.Layers&l == l }

// DSCP returns the differentiated services code point.
func (p *Packet) DSCP() uint8 { return p.TOS >> 2 }

// OuterVLAN returns the outer VLAN ID and whether there is one.
func (p *Packet) OuterVLAN() (uint16, bool) {
	if p.VLANCount == 0 {
		return 0, false
	}
	return p.VLANs[0], true
}

// Payload returns the L4 payload within frame (only what was captured).
func (p *Packet) Payload(frame []byte) []byte {
	if p.PayloadOff == 0 || int(p.PayloadOff) > len(frame) {
		return nil
	}
	end := int(p.PayloadOff) + int(p.PayloadLen)
	if end > len(frame) || end < int(p.PayloadOff) {
		end = len(frame)
	}
	return frame[p.PayloadOff:end]
}
