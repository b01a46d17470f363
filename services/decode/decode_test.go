package decode_test

import (
	"errors"
	"io"
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"

	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/pcapfile"
	"github.com/multimeter-fw/multimeter/tools/trafficgen"
)

// summary is what both decoders must agree on.
type summary struct {
	IPVersion        uint8
	Src, Dst         string
	Proto            uint8
	SrcPort, DstPort uint16
	VLANs            []uint16
	MPLS             int
	TCPFlags         uint8
	ARPOp            uint16
}

func ours(p *decode.Packet) summary {
	s := summary{IPVersion: p.IPVersion, MPLS: int(p.MPLSCount), ARPOp: p.ARPOp}
	if p.IPVersion != 0 {
		s.Src, s.Dst, s.Proto = p.SrcIP.String(), p.DstIP.String(), p.Proto
	}
	if p.Has(decode.LayerTCP) || p.Has(decode.LayerUDP) || p.Has(decode.LayerSCTP) {
		s.SrcPort, s.DstPort = p.SrcPort, p.DstPort
	}
	if p.Has(decode.LayerTCP) {
		s.TCPFlags = p.TCPFlags
	}
	for i := range min(int(p.VLANCount), decode.MaxVLANs) {
		s.VLANs = append(s.VLANs, p.VLANs[i])
	}
	return s
}

// theirs builds the same summary from gopacket's full decode; ok is false
// when gopacket could not decode the packet cleanly, or decodes a layer we
// deliberately treat differently.
func theirs(pkt gopacket.Packet) (s summary, ok bool) {
	if pkt.ErrorLayer() != nil {
		return s, false
	}
	for _, l := range pkt.Layers() {
		switch l := l.(type) {
		case *layers.Dot1Q:
			s.VLANs = append(s.VLANs, l.VLANIdentifier)
		case *layers.MPLS:
			s.MPLS++
		case *layers.IPv4:
			if s.IPVersion != 0 {
				return s, false // tunnel: compared in TestTunnels
			}
			s.IPVersion, s.Src, s.Dst, s.Proto = 4, l.SrcIP.String(), l.DstIP.String(), uint8(l.Protocol)
		case *layers.IPv6:
			if s.IPVersion != 0 {
				return s, false
			}
			s.IPVersion, s.Src, s.Dst, s.Proto = 6, l.SrcIP.String(), l.DstIP.String(), uint8(l.NextHeader)
		case *layers.IPv6HopByHop:
			s.Proto = uint8(l.NextHeader)
		case *layers.IPv6Routing:
			s.Proto = uint8(l.NextHeader)
		case *layers.IPv6Destination:
			s.Proto = uint8(l.NextHeader)
		case *layers.IPv6Fragment:
			s.Proto = uint8(l.NextHeader)
		case *layers.TCP:
			s.SrcPort, s.DstPort = uint16(l.SrcPort), uint16(l.DstPort)
			s.TCPFlags = tcpFlags(l)
		case *layers.UDP:
			s.SrcPort, s.DstPort = uint16(l.SrcPort), uint16(l.DstPort)
		case *layers.SCTP:
			s.SrcPort, s.DstPort = uint16(l.SrcPort), uint16(l.DstPort)
		case *layers.ARP:
			if l.AddrType == layers.LinkTypeEthernet && l.Protocol == layers.EthernetTypeIPv4 {
				s.ARPOp = l.Operation
			}
		case *layers.GRE, *layers.VXLAN, *layers.ERSPANII:
			return s, false
		}
	}
	return s, true
}

func tcpFlags(t *layers.TCP) uint8 {
	var f uint8
	for i, b := range []bool{t.FIN, t.SYN, t.RST, t.PSH, t.ACK, t.URG, t.ECE, t.CWR} {
		if b {
			f |= 1 << i
		}
	}
	return f
}

// TestAgainstGopacket decodes real and generated captures with both
// decoders and compares what matters for the statistics.
func TestAgainstGopacket(t *testing.T) {
	files, err := filepath.Glob("../../testdata/pcaps/*")
	if err != nil || len(files) == 0 {
		t.Fatalf("no test captures: %v", err)
	}
	gen := filepath.Join(t.TempDir(), "generated.pcap")
	f, err := os.Create(gen)
	if err != nil {
		t.Fatal(err)
	}
	if err := trafficgen.WritePcap(f, trafficgen.New(trafficgen.Config{Seed: 7}), 20000); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for _, name := range append(files, gen) {
		if filepath.Ext(name) == ".md" {
			continue
		}
		t.Run(filepath.Base(name), func(t *testing.T) {
			f, err := os.Open(name)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			r, err := pcapfile.NewReader(f)
			if err != nil {
				t.Fatal(err)
			}
			var p decode.Packet
			compared, withIP := 0, 0
			for i := 0; ; i++ {
				frame, link, err := r.Next(&p)
				if errors.Is(err, io.EOF) {
					break
				}
				if err != nil {
					t.Fatalf("packet %d: %v", i, err)
				}
				if !decode.Supported(link) {
					if derr := decode.Decode(&p, link, frame); !errors.Is(derr, decode.ErrUnsupported) {
						t.Fatalf("Decode(link %d) = %v; want ErrUnsupported", link, derr)
					}
					continue
				}
				derr := decode.Decode(&p, link, frame)
				if p.IPVersion != 0 {
					withIP++
				}
				want, ok := theirs(gopacket.NewPacket(frame, layers.LinkType(link), gopacket.Default))
				if !ok || derr != nil {
					continue
				}
				compared++
				got := ours(&p)
				if p.Frag == decode.FragFirst {
					// gopacket stops at the IP layer of a first fragment;
					// tshark decodes its L4 header, and so do we.
					got.SrcPort, got.DstPort, got.TCPFlags = 0, 0, 0
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("packet %d (%s): Decode differs from gopacket (-gopacket +ours):\n%s", i+1, &p, diff)
				}
			}
			if compared == 0 && withIP == 0 {
				// A link type gopacket cannot decode is fine as long as we do.
				t.Errorf("no packet of %s was compared or decoded to IP", name)
			}
		})
	}
}

func serialize(t testing.TB, ls ...gopacket.SerializableLayer) []byte {
	t.Helper()
	buf := gopacket.NewSerializeBuffer()
	opts := gopacket.SerializeOptions{FixLengths: true, ComputeChecksums: true}
	if err := gopacket.SerializeLayers(buf, opts, ls...); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

var (
	macA = net.HardwareAddr{0x02, 0, 0, 0, 0, 1}
	macB = net.HardwareAddr{0x02, 0, 0, 0, 0, 2}
)

func innerTCP(t testing.TB) []gopacket.SerializableLayer {
	ip := &layers.IPv4{Version: 4, TTL: 33, Protocol: layers.IPProtocolTCP, SrcIP: net.IP{192, 168, 1, 1}, DstIP: net.IP{192, 168, 1, 2}}
	tcp := &layers.TCP{SrcPort: 1234, DstPort: 443, SYN: true, Window: 100}
	tcp.SetNetworkLayerForChecksum(ip)
	return []gopacket.SerializableLayer{
		&layers.Ethernet{SrcMAC: macB, DstMAC: macA, EthernetType: layers.EthernetTypeIPv4},
		ip, tcp, gopacket.Payload("hello"),
	}
}

// TestTunnels checks that the inner packet of each encapsulation is
// decoded, with the outer addresses kept.
func TestTunnels(t *testing.T) {
	outerIP := &layers.IPv4{Version: 4, TTL: 64, SrcIP: net.IP{10, 0, 0, 1}, DstIP: net.IP{10, 0, 0, 2}}
	outer := func(proto layers.IPProtocol) []gopacket.SerializableLayer {
		ip := *outerIP
		ip.Protocol = proto
		return []gopacket.SerializableLayer{
			&layers.Ethernet{SrcMAC: macA, DstMAC: macB, EthernetType: layers.EthernetTypeIPv4}, &ip,
		}
	}
	outerUDP := &layers.UDP{SrcPort: 50000, DstPort: 4789}
	outerUDP.SetNetworkLayerForChecksum(outerIP)
	inner := innerTCP(t)
	tests := []struct {
		name   string
		frame  []byte
		tunnel decode.Tunnel
		vni    uint32
	}{
		{"vxlan", serialize(t, append(append(outer(layers.IPProtocolUDP),
			outerUDP, &layers.VXLAN{ValidIDFlag: true, VNI: 4242}), inner...)...),
			decode.TunnelVXLAN, 4242},
		{"gre-teb", serialize(t, append(append(outer(layers.IPProtocolGRE),
			&layers.GRE{Protocol: layers.EthernetTypeTransparentEthernetBridging}), inner...)...),
			decode.TunnelGRE, 0},
		{"gre-ip", serialize(t, append(append(outer(layers.IPProtocolGRE),
			&layers.GRE{Protocol: layers.EthernetTypeIPv4}), inner[1:]...)...),
			decode.TunnelGRE, 0},
		{"erspan2", serialize(t, append(append(outer(layers.IPProtocolGRE),
			&layers.GRE{Protocol: layers.EthernetTypeERSPAN, SeqPresent: true},
			&layers.ERSPANII{Version: 1, SessionID: 7}), inner...)...),
			decode.TunnelERSPAN, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var p decode.Packet
			if err := decode.Decode(&p, decode.LinkEthernet, tt.frame); err != nil {
				t.Fatalf("Decode = %v", err)
			}
			if p.Tunnel != tt.tunnel || p.VNI != tt.vni {
				t.Errorf("tunnel, vni = %v, %d; want %v, %d", p.Tunnel, p.VNI, tt.tunnel, tt.vni)
			}
			if p.SrcIP.String() != "192.168.1.1" || p.DstIP.String() != "192.168.1.2" || p.DstPort != 443 || !p.Has(decode.LayerTCP) {
				t.Errorf("inner packet = %s; want 192.168.1.1:1234 -> 192.168.1.2:443 TCP", &p)
			}
			if p.OuterSrc.String() != "10.0.0.1" || p.OuterDst.String() != "10.0.0.2" {
				t.Errorf("outer = %s -> %s; want 10.0.0.1 -> 10.0.0.2", p.OuterSrc, p.OuterDst)
			}
			if got := string(p.Payload(tt.frame)); got != "hello" {
				t.Errorf("Payload = %q; want hello", got)
			}
		})
	}
}

// TestTruncatedNeverPanics cuts every generated frame at every length.
func TestTruncatedNeverPanics(t *testing.T) {
	g := trafficgen.New(trafficgen.Config{Seed: 3})
	var p decode.Packet
	for range 300 {
		frame, _ := g.Next(nil)
		for n := range len(frame) {
			err := decode.Decode(&p, decode.LinkEthernet, frame[:n])
			if err == nil && p.PayloadOff > 0 && int(p.PayloadOff) > n {
				t.Fatalf("payload offset %d beyond %d bytes", p.PayloadOff, n)
			}
		}
	}
}

func TestDecodeDoesNotAllocate(t *testing.T) {
	g := trafficgen.New(trafficgen.Config{Seed: 5})
	frames := make([][]byte, 1000)
	for i := range frames {
		frames[i], _ = g.Next(nil)
	}
	var p decode.Packet
	i := 0
	allocs := testing.AllocsPerRun(10000, func() {
		decode.Decode(&p, decode.LinkEthernet, frames[i%len(frames)])
		i++
	})
	if allocs != 0 {
		t.Errorf("Decode allocates %v times per packet; want 0", allocs)
	}
}

func FuzzDecode(f *testing.F) {
	g := trafficgen.New(trafficgen.Config{Seed: 11})
	for range 20 {
		frame, _ := g.Next(nil)
		f.Add(uint16(decode.LinkEthernet), frame)
	}
	f.Add(uint16(decode.LinkEthernet), serialize(f, innerTCP(f)...))
	f.Add(uint16(decode.LinkRaw), []byte{0x45, 0, 0, 20})
	f.Add(uint16(decode.LinkSLL), make([]byte, 20))
	f.Fuzz(func(t *testing.T, link uint16, frame []byte) {
		var p decode.Packet
		decode.Decode(&p, decode.LinkType(link), frame)
		if p.PayloadOff != 0 && int(p.PayloadOff) > len(frame) {
			// Payload must clip rather than slice beyond the frame.
			if p.Payload(frame) != nil {
				t.Fatalf("Payload beyond frame: off %d len %d", p.PayloadOff, len(frame))
			}
		}
		if int(p.L4Off) > len(frame) && p.Has(decode.LayerTCP) {
			t.Fatalf("TCP decoded with L4 offset %d beyond %d bytes", p.L4Off, len(frame))
		}
	})
}

func BenchmarkDecode(b *testing.B) {
	g := trafficgen.New(trafficgen.Config{Seed: 5})
	frames := make([][]byte, 4096)
	for i := range frames {
		frames[i], _ = g.Next(nil)
	}
	var p decode.Packet
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		decode.Decode(&p, decode.LinkEthernet, frames[i&4095])
	}
}

// BenchmarkGopacketParser is the peer figure: gopacket's in-place
// DecodingLayerParser over the same frames.
func BenchmarkGopacketParser(b *testing.B) {
	g := trafficgen.New(trafficgen.Config{Seed: 5})
	frames := make([][]byte, 4096)
	for i := range frames {
		frames[i], _ = g.Next(nil)
	}
	var (
		eth  layers.Ethernet
		vlan layers.Dot1Q
		ip4  layers.IPv4
		ip6  layers.IPv6
		tcp  layers.TCP
		udp  layers.UDP
		icmp layers.ICMPv4
		arp  layers.ARP
		pl   gopacket.Payload
	)
	parser := gopacket.NewDecodingLayerParser(layers.LayerTypeEthernet, &eth, &vlan, &ip4, &ip6, &tcp, &udp, &icmp, &arp, &pl)
	parser.IgnoreUnsupported = true
	decoded := make([]gopacket.LayerType, 0, 10)
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		parser.DecodeLayers(frames[i&4095], &decoded)
	}
}
