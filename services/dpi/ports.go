package dpi

import (
	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/l7proto"
)

var tcpPorts = map[uint16]l7proto.ID{
	80: l7proto.HTTP, 8080: l7proto.HTTP, 8000: l7proto.HTTP, 443: l7proto.TLS, 8443: l7proto.TLS,
	22: l7proto.SSH, 25: l7proto.SMTP, 587: l7proto.SMTP, 465: l7proto.SMTP, 143: l7proto.IMAP,
	993: l7proto.IMAP, 110: l7proto.POP3, 995: l7proto.POP3, 21: l7proto.FTP, 445: l7proto.SMB,
	139: l7proto.NetBIOS, 389: l7proto.LDAP, 636: l7proto.LDAP, 88: l7proto.Kerberos,
	3306: l7proto.MySQL, 5432: l7proto.PostgreSQL, 3389: l7proto.RDP, 179: l7proto.BGP,
	23: l7proto.Telnet, 5060: l7proto.SIP, 5061: l7proto.SIP, 53: l7proto.DNS, 1194: l7proto.OpenVPN,
}

var udpPorts = map[uint16]l7proto.ID{
	53: l7proto.DNS, 5353: l7proto.MDNS, 5355: l7proto.LLMNR, 67: l7proto.DHCP, 68: l7proto.DHCP,
	546: l7proto.DHCPv6, 547: l7proto.DHCPv6, 123: l7proto.NTP, 161: l7proto.SNMP, 162: l7proto.SNMP,
	514: l7proto.Syslog, 5060: l7proto.SIP, 443: l7proto.QUIC, 3478: l7proto.STUN, 1900: l7proto.SSDP,
	137: l7proto.NetBIOS, 138: l7proto.NetBIOS, 500: l7proto.IPsec, 4500: l7proto.IPsec,
	1194: l7proto.OpenVPN, 51820: l7proto.WireGuard, 88: l7proto.Kerberos, 389: l7proto.LDAP,
}

// ByPort guesses the protocol from the ports, the lower (well-known) one
// first.
func ByPort(proto uint8, srcPort, dstPort uint16) l7proto.ID {
	var m map[uint16]l7proto.ID
	switch proto {
	case decode.ProtoTCP:
		m = tcpPorts
	case decode.ProtoUDP:
		m = udpPorts
	case decode.ProtoICMP:
		return l7proto.ICMP
	case decode.ProtoICMPv6:
		return l7proto.ICMPv6
	default:
		return l7proto.Unknown
	}
	lo, hi := srcPort, dstPort
	if hi < lo {
		lo, hi = hi, lo
	}
	if id, ok := m[lo]; ok {
		return id
	}
	return m[hi]
}
