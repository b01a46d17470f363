// Package l7proto names the application protocols the DPI module detects.
// The IDs are stable within one build; names are what operators type in
// filter expressions (`l7Protocol==TLS`) and see in the UI.
//
//	id, ok := l7proto.Parse("https") // TLS, true (aliases are accepted)
//	id.String()                       // "TLS"
package l7proto

import "strings"

// ID identifies an application protocol; Unknown is 0.
type ID uint16

// Detected protocols. Add new ones at the end, before count.
const (
	Unknown ID = iota
	HTTP
	TLS
	DNS
	SIP
	RTP
	RTCP
	SSH
	SMTP
	IMAP
	POP3
	FTP
	SMB
	NetBIOS
	DHCP
	DHCPv6
	NTP
	SNMP
	Syslog
	LDAP
	Kerberos
	MySQL
	PostgreSQL
	RDP
	QUIC
	STUN
	BGP
	OpenVPN
	WireGuard
	IPsec
	MDNS
	SSDP
	LLMNR
	Telnet
	ARP
	ICMP
	ICMPv6
	count
)

var names = [count]string{
	Unknown: "Unknown", HTTP: "HTTP", TLS: "TLS", DNS: "DNS", SIP: "SIP", RTP: "RTP", RTCP: "RTCP",
	SSH: "SSH", SMTP: "SMTP", IMAP: "IMAP", POP3: "POP3", FTP: "FTP", SMB: "SMB", NetBIOS: "NetBIOS",
	DHCP: "DHCP", DHCPv6: "DHCPv6", NTP: "NTP", SNMP: "SNMP", Syslog: "Syslog", LDAP: "LDAP",
	Kerberos: "Kerberos", MySQL: "MySQL", PostgreSQL: "PostgreSQL", RDP: "RDP", QUIC: "QUIC",
	STUN: "STUN", BGP: "BGP", OpenVPN: "OpenVPN", WireGuard: "WireGuard", IPsec: "IPsec",
	MDNS: "MDNS", SSDP: "SSDP", LLMNR: "LLMNR", Telnet: "Telnet", ARP: "ARP", ICMP: "ICMP",
	ICMPv6: "ICMPv6",
}

// aliases are other names operators use for the same protocol.
var aliases = map[string]ID{
	"ssl": TLS, "https": TLS, "ntlm": SMB, "cifs": SMB, "smb2": SMB, "pgsql": PostgreSQL,
	"postgres": PostgreSQL, "ftp_control": FTP, "dtls": TLS,
}

// String returns the protocol's display name.
func (id ID) String() string {
	if id < count {
		return names[id]
	}
	return "Unknown"
}

// Parse looks a protocol up by name or alias, ignoring case.
func Parse(name string) (ID, bool) {
	for id, n := range names {
		if strings.EqualFold(n, name) {
			return ID(id), true
		}
	}
	id, ok := aliases[strings.ToLower(name)]
	return id, ok
}

// All returns every known protocol except Unknown, in ID order.
func All() []ID {
	ids := make([]ID, 0, count-1)
	for id := ID(1); id < count; id++ {
		ids = append(ids, id)
	}
	return ids
}
