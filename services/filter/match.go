package filter

import (
	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/tap"
)

func (n *node) match(p *decode.Packet, m *tap.Meta) bool {
	switch n.kind {
	case nodeAnd:
		for _, k := range n.kids {
			if !k.match(p, m) {
				return false
			}
		}
		return true
	case nodeOr:
		for _, k := range n.kids {
			if k.match(p, m) {
				return true
			}
		}
		return false
	case nodeNot:
		return !n.kids[0].match(p, m)
	}
	switch n.field {
	case fieldIP:
		// ip!=X means neither side is X.
		return n.matchIP(p) == (n.op == cmpEq)
	case fieldMAC:
		hit := p.Has(decode.LayerEthernet) && (p.SrcMAC == n.mac || p.DstMAC == n.mac)
		return hit == (n.op == cmpEq)
	case fieldPort:
		if !hasPorts(p) {
			return n.op == cmpNe
		}
		if n.op == cmpNe {
			return !cmpEq.holds(uint64(p.SrcPort), n.num) && !cmpEq.holds(uint64(p.DstPort), n.num)
		}
		return n.op.holds(uint64(p.SrcPort), n.num) || n.op.holds(uint64(p.DstPort), n.num)
	case fieldVLAN:
		tags := min(int(p.VLANCount), decode.MaxVLANs)
		if n.op == cmpNe {
			for i := range tags {
				if uint64(p.VLANs[i]) == n.num {
					return false
				}
			}
			return true
		}
		for i := range tags {
			if n.op.holds(uint64(p.VLANs[i]), n.num) {
				return true
			}
		}
		return false
	case fieldOuterVLAN:
		if p.VLANCount == 0 {
			return n.op == cmpNe
		}
		return n.op.holds(uint64(p.VLANs[0]), n.num)
	case fieldL4:
		if p.IPVersion == 0 {
			return n.op == cmpNe
		}
		return n.op.holds(uint64(p.Proto), n.num)
	case fieldL7:
		return n.op.holds(uint64(m.App), n.num)
	case fieldInterface:
		return n.op.holds(uint64(p.Port), n.num)
	case fieldGroup:
		return n.op.holds(uint64(m.Group), n.num)
	case fieldSize:
		return n.op.holds(uint64(p.OrigLen), n.num)
	case fieldSIP:
		hit := m.SIPNumbers[0] == n.num || m.SIPNumbers[1] == n.num
		return hit == (n.op == cmpEq)
	}
	return false
}

func hasPorts(p *decode.Packet) bool {
	return p.Layers&(decode.LayerTCP|decode.LayerUDP|decode.LayerSCTP) != 0
}

// matchIP reports whether either side of p is the address or in the
// prefix (with the port on that side, for address:port). The outer
// addresses of a tunnel count too, as tshark's ip.addr sees them.
func (n *node) matchIP(p *decode.Packet) bool {
	if p.IPVersion == 0 {
		return false
	}
	if n.hasPort {
		if !hasPorts(p) {
			return false
		}
		port := uint16(n.num)
		return p.SrcIP == n.addr && p.SrcPort == port || p.DstIP == n.addr && p.DstPort == port
	}
	if n.bits == 128 {
		if p.SrcIP == n.addr || p.DstIP == n.addr {
			return true
		}
		return p.Tunnel != decode.TunnelNone && (p.OuterSrc == n.addr || p.OuterDst == n.addr)
	}
	if InPrefix(p.SrcIP, n.addr, n.bits) || InPrefix(p.DstIP, n.addr, n.bits) {
		return true
	}
	return p.Tunnel != decode.TunnelNone && (InPrefix(p.OuterSrc, n.addr, n.bits) || InPrefix(p.OuterDst, n.addr, n.bits))
}

// InPrefix reports whether a lies in the prefix of the given length (in
// the 128-bit space, IPv4 mapped) starting at prefix.
func InPrefix(a, prefix decode.Addr, bits int) bool {
	full := bits / 8
	for i := range full {
		if a[i] != prefix[i] {
			return false
		}
	}
	if rem := bits % 8; rem != 0 {
		mask := byte(0xff) << (8 - rem)
		return a[full]&mask == prefix[full]&mask
	}
	return true
}
