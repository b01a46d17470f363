package filter

import (
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"

	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/l7proto"
	"github.com/multimeter-fw/multimeter/services/tap"
)

type field uint8

const (
	fieldIP field = iota
	fieldMAC
	fieldPort
	fieldL4
	fieldL7
	fieldVLAN
	fieldOuterVLAN
	fieldInterface
	fieldGroup
	fieldSize
	fieldSIP
	numFields
)

// fieldInfo describes a field: its canonical name, whether <, <=, >, >=
// apply, and the largest number it takes.
var fieldInfo = [numFields]struct {
	name    string
	ordered bool
	max     uint64
}{
	fieldIP:        {name: "ip"},
	fieldMAC:       {name: "mac"},
	fieldPort:      {name: "port", ordered: true, max: 65535},
	fieldL4:        {name: "l4Protocol", max: 255},
	fieldL7:        {name: "l7Protocol"},
	fieldVLAN:      {name: "vlan", ordered: true, max: 4095},
	fieldOuterVLAN: {name: "outerVlan", ordered: true, max: 4095},
	fieldInterface: {name: "interface", ordered: true, max: 65535},
	fieldGroup:     {name: "group", ordered: true, max: 65535},
	fieldSize:      {name: "size", ordered: true, max: 1<<32 - 1},
	fieldSIP:       {name: "sipNumber"},
}

func lookupField(name string) (field, bool) {
	for f := range numFields {
		if strings.EqualFold(fieldInfo[f].name, name) {
			return f, true
		}
	}
	return 0, false
}

type cmpOp uint8

const (
	cmpEq cmpOp = iota
	cmpNe
	cmpLt
	cmpLe
	cmpGt
	cmpGe
)

var cmpText = [...]string{cmpEq: "==", cmpNe: "!=", cmpLt: "<", cmpLe: "<=", cmpGt: ">", cmpGe: ">="}

func cmpFromText(s string) cmpOp {
	switch s {
	case "==", "eq":
		return cmpEq
	case "!=", "ne":
		return cmpNe
	case "<":
		return cmpLt
	case "<=":
		return cmpLe
	case ">":
		return cmpGt
	}
	return cmpGe
}

// holds reports whether v op x.
func (op cmpOp) holds(v, x uint64) bool {
	switch op {
	case cmpEq:
		return v == x
	case cmpNe:
		return v != x
	case cmpLt:
		return v < x
	case cmpLe:
		return v <= x
	case cmpGt:
		return v > x
	}
	return v >= x
}

// l4Names are the protocol names l4Protocol accepts besides numbers.
var l4Names = []struct {
	name  string
	proto uint8
}{
	{"TCP", decode.ProtoTCP}, {"UDP", decode.ProtoUDP}, {"ICMP", decode.ProtoICMP},
	{"ICMPv6", decode.ProtoICMPv6}, {"SCTP", decode.ProtoSCTP}, {"GRE", decode.ProtoGRE},
	{"IGMP", 2}, {"ESP", 50}, {"AH", 51}, {"OSPF", 89},
}

// setValue parses text as a value of n.field and stores it in n. The
// error message is what the user sees after the position.
func (n *node) setValue(text string) error {
	switch n.field {
	case fieldIP:
		return n.setIP(text)
	case fieldMAC:
		hw, err := net.ParseMAC(text)
		if err != nil || len(hw) != 6 {
			return fmt.Errorf("invalid MAC address %q (want aa:bb:cc:dd:ee:ff)", text)
		}
		n.mac = decode.MAC(hw)
		return nil
	case fieldL4:
		for _, e := range l4Names {
			if strings.EqualFold(e.name, text) {
				n.num = uint64(e.proto)
				return nil
			}
		}
		v, err := strconv.ParseUint(text, 10, 64)
		if err != nil || v > 255 {
			return fmt.Errorf("invalid L4 protocol %q (want TCP, UDP, ICMP, ICMPv6, SCTP or 0–255)", text)
		}
		n.num = v
		return nil
	case fieldL7:
		id, ok := l7proto.Parse(text)
		if !ok {
			return fmt.Errorf("unknown L7 protocol %q", text)
		}
		n.num = uint64(id)
		return nil
	case fieldSIP:
		n.sip = normalizeNumber(text)
		if n.sip == "" {
			return fmt.Errorf("phone number %q has no digits", text)
		}
		n.num = tap.HashNumber(n.sip)
		return nil
	}
	max := fieldInfo[n.field].max
	v, err := strconv.ParseUint(text, 10, 64)
	if err != nil || v > max {
		return fmt.Errorf("invalid %s %q (want 0–%d)", fieldInfo[n.field].name, text, max)
	}
	n.num = v
	return nil
}

// normalizeNumber keeps what tap.HashNumber hashes: digits, * and #, and a
// leading +.
func normalizeNumber(s string) string {
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		c := s[i]
		if c >= '0' && c <= '9' || c == '*' || c == '#' || c == '+' && b.Len() == 0 {
			b.WriteByte(c)
		}
	}
	if strings.Trim(b.String(), "+") == "" {
		return ""
	}
	return b.String()
}

// setIP parses an address, address:port, [v6]:port or CIDR prefix.
func (n *node) setIP(text string) error {
	bad := func() error {
		return fmt.Errorf("invalid IP value %q (want address, address:port, [IPv6]:port or CIDR)", text)
	}
	if strings.Contains(text, "/") {
		pfx, err := netip.ParsePrefix(text)
		if err != nil || pfx.Addr().Zone() != "" {
			return bad()
		}
		pfx = pfx.Masked()
		n.addr = decode.AddrFromNetip(pfx.Addr())
		n.bits = pfx.Bits()
		if pfx.Addr().Is4() {
			n.bits += 96
		}
		return nil
	}
	if a, err := netip.ParseAddr(text); err == nil {
		if a.Zone() != "" {
			return bad()
		}
		n.addr, n.bits = decode.AddrFromNetip(a.Unmap()), 128
		return nil
	}
	ap, err := netip.ParseAddrPort(text)
	if err != nil || ap.Addr().Zone() != "" {
		return bad()
	}
	n.addr, n.bits = decode.AddrFromNetip(ap.Addr().Unmap()), 128
	n.hasPort, n.num = true, uint64(ap.Port())
	return nil
}

// valueString formats n's value canonically.
func (n *node) valueString() string {
	switch n.field {
	case fieldIP:
		a := n.addr.Netip()
		if n.bits < 128 {
			bits := n.bits
			if a.Is4() {
				bits -= 96
			}
			return netip.PrefixFrom(a, bits).String()
		}
		if n.hasPort {
			return netip.AddrPortFrom(a, uint16(n.num)).String()
		}
		return a.String()
	case fieldMAC:
		return n.mac.String()
	case fieldL4:
		for _, e := range l4Names {
			if uint64(e.proto) == n.num {
				return e.name
			}
		}
	case fieldL7:
		return l7proto.ID(n.num).String()
	case fieldSIP:
		return n.sip
	}
	return strconv.FormatUint(n.num, 10)
}
