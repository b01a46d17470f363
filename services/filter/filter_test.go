package filter

import (
	"errors"
	"net"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/l7proto"
	"github.com/multimeter-fw/multimeter/services/tap"
)

// frame describes a test packet; build serializes it with gopacket and
// decodes it with our decoder, so tests see what the ring buffer sees.
type frame struct {
	src, dst         string // IP addresses; empty: ARP
	sport, dport     uint16
	proto            string // tcp, udp, icmp, icmpv6
	vlans            []uint16
	srcMAC, dstMAC   string
	payload, port    int
	app              l7proto.ID
	group            uint16
	sipA             string
	tunnelSrc, tunTo string // outer GRE addresses
}

func (f frame) build(t testing.TB) (*decode.Packet, *tap.Meta) {
	t.Helper()
	mac := func(s, def string) net.HardwareAddr {
		if s == "" {
			s = def
		}
		m, err := net.ParseMAC(s)
		if err != nil {
			t.Fatal(err)
		}
		return m
	}
	var ls []gopacket.SerializableLayer
	eth := &layers.Ethernet{SrcMAC: mac(f.srcMAC, "02:00:00:00:00:01"), DstMAC: mac(f.dstMAC, "02:00:00:00:00:02")}
	ls = append(ls, eth)
	last := &eth.EthernetType
	for _, v := range f.vlans {
		*last = layers.EthernetTypeDot1Q
		d := &layers.Dot1Q{VLANIdentifier: v}
		ls = append(ls, d)
		last = &d.Type
	}
	ipLayer := func(src, dst string, next layers.IPProtocol) gopacket.NetworkLayer {
		s, d := net.ParseIP(src), net.ParseIP(dst)
		if s.To4() != nil {
			return &layers.IPv4{Version: 4, IHL: 5, TTL: 64, Protocol: next, SrcIP: s.To4(), DstIP: d.To4()}
		}
		return &layers.IPv6{Version: 6, HopLimit: 64, NextHeader: next, SrcIP: s, DstIP: d}
	}
	etherOf := func(n gopacket.NetworkLayer) layers.EthernetType {
		if _, ok := n.(*layers.IPv4); ok {
			return layers.EthernetTypeIPv4
		}
		return layers.EthernetTypeIPv6
	}
	if f.src == "" {
		*last = layers.EthernetTypeARP
		ls = append(ls, &layers.ARP{AddrType: layers.LinkTypeEthernet, Protocol: layers.EthernetTypeIPv4,
			HwAddressSize: 6, ProtAddressSize: 4, Operation: 1,
			SourceHwAddress: eth.SrcMAC, SourceProtAddress: net.IP{10, 0, 0, 1}.To4(),
			DstHwAddress: make([]byte, 6), DstProtAddress: net.IP{10, 0, 0, 2}.To4()})
	} else {
		var next layers.IPProtocol
		switch f.proto {
		case "udp":
			next = layers.IPProtocolUDP
		case "icmp":
			next = layers.IPProtocolICMPv4
		case "icmpv6":
			next = layers.IPProtocolICMPv6
		default:
			next = layers.IPProtocolTCP
		}
		inner := ipLayer(f.src, f.dst, next)
		if f.tunnelSrc != "" {
			outer := ipLayer(f.tunnelSrc, f.tunTo, layers.IPProtocolGRE)
			*last = etherOf(outer)
			ls = append(ls, outer.(gopacket.SerializableLayer), &layers.GRE{Protocol: etherOf(inner)})
		} else {
			*last = etherOf(inner)
		}
		ls = append(ls, inner.(gopacket.SerializableLayer))
		switch next {
		case layers.IPProtocolUDP:
			u := &layers.UDP{SrcPort: layers.UDPPort(f.sport), DstPort: layers.UDPPort(f.dport)}
			u.SetNetworkLayerForChecksum(inner)
			ls = append(ls, u)
		case layers.IPProtocolICMPv4:
			ls = append(ls, &layers.ICMPv4{TypeCode: layers.CreateICMPv4TypeCode(8, 0)})
		case layers.IPProtocolICMPv6:
			ic := &layers.ICMPv6{TypeCode: layers.CreateICMPv6TypeCode(128, 0)}
			ic.SetNetworkLayerForChecksum(inner)
			ls = append(ls, ic)
		default:
			tc := &layers.TCP{SrcPort: layers.TCPPort(f.sport), DstPort: layers.TCPPort(f.dport), DataOffset: 5, ACK: true, Window: 1000}
			tc.SetNetworkLayerForChecksum(inner)
			ls = append(ls, tc)
		}
		ls = append(ls, gopacket.Payload(make([]byte, f.payload)))
	}
	buf := gopacket.NewSerializeBuffer()
	if err := gopacket.SerializeLayers(buf, gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}, ls...); err != nil {
		t.Fatal(err)
	}
	var p decode.Packet
	p.OrigLen = uint32(len(buf.Bytes()))
	p.Port = uint16(f.port)
	if err := decode.Decode(&p, decode.LinkEthernet, buf.Bytes()); err != nil {
		t.Fatalf("decode %+v: %v", f, err)
	}
	m := &tap.Meta{App: f.app, Group: f.group}
	if f.sipA != "" {
		m.SIPNumbers[0] = tap.HashNumber(f.sipA)
	}
	return &p, m
}

var (
	tcpA  = frame{src: "10.1.2.3", dst: "10.1.2.100", sport: 62887, dport: 548}
	tls   = frame{src: "10.1.1.1", dst: "10.2.2.2", sport: 50000, dport: 443, app: l7proto.TLS}
	v6    = frame{src: "2001:db8::5", dst: "2001:db9::7", sport: 40000, dport: 22}
	ssh10 = frame{src: "10.9.9.9", dst: "192.168.1.1", sport: 40000, dport: 22}
	macV  = frame{src: "172.16.0.1", dst: "172.16.0.2", proto: "udp", sport: 53, dport: 5353,
		srcMAC: "00:11:22:33:44:55", vlans: []uint16{100}}
	qinq = frame{src: "172.16.0.1", dst: "172.16.0.2", proto: "udp", sport: 1, dport: 2, vlans: []uint16{10, 20}}
	arp  = frame{}
	icmp = frame{src: "10.1.2.3", dst: "8.8.8.8", proto: "icmp", payload: 56}
	gre  = frame{src: "10.7.7.7", dst: "10.8.8.8", sport: 1000, dport: 80, tunnelSrc: "192.0.2.1", tunTo: "192.0.2.2"}
	big  = frame{src: "10.1.2.3", dst: "10.1.2.100", sport: 1, dport: 2, payload: 1200, port: 3, group: 2}
	sip  = frame{src: "10.5.5.5", dst: "10.6.6.6", proto: "udp", sport: 5060, dport: 5060, app: l7proto.SIP, sipA: "+49 30 1234"}
)

func TestMatch(t *testing.T) {
	tests := []struct {
		expr string
		yes  []frame
		no   []frame
	}{
		// The spec's examples.
		{"ip==10.1.2.3", []frame{tcpA, icmp, big}, []frame{tls, v6, arp}},
		{"IP==10.1.2.3:62887 and IP==10.1.2.100:548 and l4Protocol==TCP", []frame{tcpA}, []frame{big, icmp, tls}},
		{"ip==10.1.1.1 and ip==10.2.2.2 and l4Protocol==TCP and port==443", []frame{tls}, []frame{tcpA, v6}},
		{"(ip==10.0.0.0/8 or ip==2001:db8::/32) and !(port==22)", []frame{tcpA, tls, icmp, big}, []frame{v6, ssh10, macV, arp}},
		{"mac==00:11:22:33:44:55 && vlan==100", []frame{macV}, []frame{tcpA, qinq}},
		// Addresses, ports, prefixes.
		{"ip==10.1.2.100:548", []frame{tcpA}, []frame{big}},
		{"ip==10.1.2.3:548", nil, []frame{tcpA}},
		{"ip==[2001:db8::5]:40000", []frame{v6}, []frame{tcpA}},
		{"ip==2001:db9::7", []frame{v6}, []frame{tcpA}},
		{"ip!=10.1.2.3", []frame{tls, v6, arp}, []frame{tcpA, icmp}},
		{"ip==192.0.2.1", []frame{gre}, []frame{tcpA}},
		{"ip==10.7.7.7:1000", []frame{gre}, nil},
		{"port==22", []frame{v6, ssh10}, []frame{tcpA, icmp, arp}},
		{"port!=22", []frame{tcpA, icmp, arp}, []frame{v6, ssh10}},
		{"port<1024", []frame{tls, v6, macV, qinq, big}, []frame{icmp, arp}},
		{"port>=62887", []frame{tcpA}, []frame{tls}},
		{"l4Protocol==udp", []frame{macV, qinq, sip}, []frame{tcpA, icmp, arp}},
		{"l4Protocol==ICMP", []frame{icmp}, []frame{tcpA}},
		{"l4Protocol==6", []frame{tcpA, gre}, []frame{icmp}},
		{"l4protocol != tcp", []frame{icmp, arp, macV}, []frame{tcpA}},
		{"l7Protocol==TLS", []frame{tls}, []frame{tcpA}},
		{"l7protocol==https", []frame{tls}, []frame{sip}},
		{"vlan==20", []frame{qinq}, []frame{macV, tcpA}},
		{"outerVlan==10", []frame{qinq}, []frame{macV}},
		{"outerVlan==20", nil, []frame{qinq}},
		{"vlan!=100", []frame{tcpA, qinq}, []frame{macV}},
		{"interface==3", []frame{big}, []frame{tcpA}},
		{"group eq 2", []frame{big}, []frame{tcpA}},
		{"group ne 2", []frame{tcpA}, []frame{big}},
		{"size>1000", []frame{big}, []frame{tcpA}},
		{"size<=60", []frame{tcpA, arp}, []frame{big}},
		{"sipNumber==\"+49 (30) 1234\"", []frame{sip}, []frame{tcpA}},
		{"mac==02:00:00:00:00:02", []frame{tcpA, arp}, nil},
		// Combination and precedence: and binds tighter than or.
		{"port==22 or port==443 and ip==10.1.1.1", []frame{v6, ssh10, tls}, []frame{tcpA}},
		{"(port==22 or port==443) and ip==10.1.1.1", []frame{tls}, []frame{v6, ssh10}},
		{"!(!(port==22))", []frame{v6}, []frame{tls}},
		{"ip==10.1.2.3and(port==1)", nil, nil}, // value "10.1.2.3and" is invalid: see TestSyntaxErrors
		{"", []frame{tcpA, arp, v6}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			f, err := Parse(tt.expr)
			if tt.yes == nil && tt.no == nil {
				if err == nil {
					t.Fatalf("Parse(%q) = nil error; want one", tt.expr)
				}
				return
			}
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.expr, err)
			}
			for _, fr := range tt.yes {
				if p, m := fr.build(t); !f.Match(p, m) {
					t.Errorf("Match(%q, %v) = false; want true", tt.expr, p)
				}
			}
			for _, fr := range tt.no {
				if p, m := fr.build(t); f.Match(p, m) {
					t.Errorf("Match(%q, %v) = true; want false", tt.expr, p)
				}
			}
		})
	}
}

func TestSyntaxErrors(t *testing.T) {
	tests := []struct{ expr, want string }{
		{"ip==10.1.2.3 and port==", "position 24: expected value after '=='"},
		{"l4Protocol== and ip==1.2.3.4", "position 14: expected value after '=='"},
		{"ip==1.2.3.4and port==1", "position 5: invalid IP value \"1.2.3.4and\" (want address, address:port, [IPv6]:port or CIDR)"},
		{"ip==1.2.3.4 port==1", "position 13: expected 'and', 'or' or end of expression, found \"port\""},
		{"foo==1", "position 1: unknown field \"foo\""},
		{"ip 1.2.3.4", "position 4: expected comparison operator after \"ip\""},
		{"ip<1.2.3.4", "position 3: operator '<' does not apply to ip (only == and !=)"},
		{"(port==1", "position 9: missing ')' for '(' at position 1"},
		{"port==1)", "position 8: unexpected ')'"},
		{"!port==1", "position 2: expected '(' after '!'"},
		{"port==1 and", "position 12: expected field name or '(' at end of expression"},
		{"port==70000", "position 7: invalid port \"70000\" (want 0–65535)"},
		{"vlan==4096", "position 7: invalid vlan \"4096\" (want 0–4095)"},
		{"mac==00:11:22", "position 6: invalid MAC address \"00:11:22\" (want aa:bb:cc:dd:ee:ff)"},
		{"l7Protocol==NoSuchProto", "position 13: unknown L7 protocol \"NoSuchProto\""},
		{"port=1", "position 5: expected comparison operator after \"port\""},
		{"port==1 & port==2", "position 9: expected 'and', 'or' or end of expression, found \"&\""},
		{`sipNumber=="abc`, "position 12: unterminated quoted value"},
		{`sipNumber==abc`, "position 12: phone number \"abc\" has no digits"},
		{"ip==10.0.0.0/33", "position 5: invalid IP value \"10.0.0.0/33\" (want address, address:port, [IPv6]:port or CIDR)"},
		{"()", "position 2: expected field name or '(', found \")\""},
	}
	for _, tt := range tests {
		t.Run(tt.expr, func(t *testing.T) {
			_, err := Parse(tt.expr)
			var se *SyntaxError
			if !errors.As(err, &se) {
				t.Fatalf("Parse(%q) = %v; want a *SyntaxError", tt.expr, err)
			}
			if err.Error() != tt.want {
				t.Errorf("Parse(%q) = %q; want %q", tt.expr, err.Error(), tt.want)
			}
		})
	}
}

func TestString(t *testing.T) {
	tests := []struct{ expr, want string }{
		{"IP==10.1.2.3:62887 AND ip eq 10.1.2.100:548 && L4PROTOCOL==tcp", "ip==10.1.2.3:62887 and ip==10.1.2.100:548 and l4Protocol==TCP"},
		{"(ip==10.1.2.3/8 || ip==2001:DB8::1/32) and !(port==22)", "(ip==10.0.0.0/8 or ip==2001:db8::/32) and !(port==22)"},
		{"((a_b))", ""}, // unknown field: error
		{"port==1 or (port==2 or port==3)", "port==1 or port==2 or port==3"},
		{"(port==1 and port==2) or port==3", "port==1 and port==2 or port==3"},
		{"ip==[2001:db8::1]:443", "ip==[2001:db8::1]:443"},
		{"l7Protocol==ssl", "l7Protocol==TLS"},
		{`sipNumber=="+49 30 1234"`, "sipNumber==+49301234"},
		{"mac==00-11-22-AA-BB-CC", "mac==00:11:22:aa:bb:cc"},
		{"l4Protocol==17", "l4Protocol==UDP"},
		{"l4Protocol==99", "l4Protocol==99"},
	}
	for _, tt := range tests {
		f, err := Parse(tt.expr)
		if tt.want == "" {
			if err == nil {
				t.Errorf("Parse(%q) = nil error; want one", tt.expr)
			}
			continue
		}
		if err != nil {
			t.Errorf("Parse(%q): %v", tt.expr, err)
			continue
		}
		if got := f.String(); got != tt.want {
			t.Errorf("Parse(%q).String() = %q; want %q", tt.expr, got, tt.want)
		}
	}
}

func addr(s string) decode.Addr { return decode.AddrFromNetip(netipMustParse(s)) }

func TestPlan(t *testing.T) {
	a := addr("10.1.2.3")
	b := addr("10.2.2.2")
	ipA := Term{Kind: TermIP, Addr: a, Bits: 128}
	ipB := Term{Kind: TermIP, Addr: b, Bits: 128}
	port := func(lo, hi uint32) Term { return Term{Kind: TermPort, Lo: lo, Hi: hi} }
	tcp := Term{Kind: TermProto, Lo: 6, Hi: 6}
	tests := []struct {
		expr string
		want Plan
	}{
		{"", nil},
		{"ip==10.1.2.3", Plan{{ipA}}},
		{"ip==10.1.2.3 and port==443", Plan{{ipA}, {port(443, 443)}}},
		{"ip==10.1.2.3:443", Plan{{ipA}, {port(443, 443)}}},
		{"ip==10.1.2.3 or ip==10.2.2.2", Plan{{ipA, ipB}}},
		{"(ip==10.1.2.3 and l4Protocol==TCP) or ip==10.2.2.2", Plan{{ipA, ipB}, {tcp, ipB}}},
		{"ip==10.1.2.3 or size>100", nil},
		{"ip==10.1.2.3 and size>100", Plan{{ipA}}},
		{"!(ip==10.1.2.3)", nil},
		{"ip!=10.1.2.3 and port<1024", Plan{{port(0, 1023)}}},
		{"port<0", Plan{{}}},
		{"ip==10.0.0.0/8", Plan{{{Kind: TermIP, Addr: addr("10.0.0.0"), Bits: 104}}}},
		{"vlan==100 and l7Protocol==DNS", Plan{{{Kind: TermVLAN, Lo: 100, Hi: 100}}, {{Kind: TermApp, Lo: uint32(l7proto.DNS), Hi: uint32(l7proto.DNS)}}}},
	}
	for _, tt := range tests {
		if got := MustParse(tt.expr).Plan(); !cmp.Equal(got, tt.want) {
			t.Errorf("Parse(%q).Plan() = %v; want %v", tt.expr, got, tt.want)
		}
	}
}

func TestMatchAllocatesNothing(t *testing.T) {
	f := MustParse("(ip==10.0.0.0/8 or ip==2001:db8::/32) and !(port==22) and l7Protocol==TLS or vlan==100 and size>10")
	p, m := tls.build(t)
	if n := testing.AllocsPerRun(1000, func() { f.Match(p, m); f.Match(p, nil) }); n != 0 {
		t.Errorf("Match allocates %v times per run; want 0", n)
	}
}

func BenchmarkMatch(b *testing.B) {
	f := MustParse("ip==10.1.2.3:62887 and ip==10.1.2.100:548 and l4Protocol==TCP")
	p, m := tcpA.build(b)
	b.ReportAllocs()
	for b.Loop() {
		f.Match(p, m)
	}
}
