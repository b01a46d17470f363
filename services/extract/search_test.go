package extract

import (
	"fmt"
	"path/filepath"
	"testing"

	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/filter"
	"github.com/multimeter-fw/multimeter/services/ringbuf"
	"github.com/multimeter-fw/multimeter/services/ringbuf/ringbuftest"
	"github.com/multimeter-fw/multimeter/tools/peertest"
	"github.com/multimeter-fw/multimeter/tools/trafficgen"
)

// A client's ephemeral port, to test address:port.
func somePort(pkts []ringbuftest.Packet, host string) uint16 {
	var p decode.Packet
	for _, pk := range pkts {
		decode.Decode(&p, decode.LinkEthernet, pk.Frame)
		if p.Has(decode.LayerTCP) && p.SrcIP.String() == host {
			return p.SrcPort
		}
	}
	return 0
}

// TestMatchesTshark is the extraction contract: for every expression and
// time window, Search returns exactly the packets tshark selects with the
// equivalent display filter from the same input, byte for byte, in order,
// from live and from finished segments.
func TestMatchesTshark(t *testing.T) {
	peertest.Need(t, "tshark")
	dir := t.TempDir()
	pkts := ringbuftest.Generate(trafficgen.Config{Seed: 21, Clients: 50, Servers: 10, VLANShare: 0.3, IPv6Share: 0.25}, 40000)
	in := filepath.Join(dir, "in.pcap")
	if err := ringbuftest.WritePcap(in, pkts); err != nil {
		t.Fatal(err)
	}
	cfg := smallBuffer(t, 2)
	b := openBuffer(t, cfg)
	ringbuftest.Replay(b, pkts, 3)
	if err := b.WriteOut(); err != nil {
		t.Fatal(err)
	}
	port := somePort(pkts, "10.1.0.7")
	t0, t1 := pkts[0].Timestamp, pkts[len(pkts)-1].Timestamp+1
	span := t1 - t0
	windows := [][2]int64{{t0, t1}, {t0 + span/4, t0 + span*3/5}, {t0 + span/2, t0 + span/2 + 1e6}, {t1 - span/10, t1 + 1e9}}
	cases := []struct{ expr, display string }{
		{"", "frame"},
		{"ip==10.1.0.5", "ip.addr==10.1.0.5"},
		{"IP==10.2.0.3 and port==443", "ip.addr==10.2.0.3 && (tcp.port==443 || udp.port==443)"},
		{"ip==10.1.0.0/28 and l4Protocol==UDP", "ip.addr==10.1.0.0/28 && udp"},
		{"ip==2001:db8:1::5", "ipv6.addr==2001:db8:1::5"},
		{"(ip==10.0.0.0/8 or ip==2001:db8::/32) and !(port==22)", "(ip.addr==10.0.0.0/8 || ipv6.addr==2001:db8::/32) && !(tcp.port==22 || udp.port==22)"},
		{"vlan==100", "vlan.id==100"},
		{"mac==02:00:01:00:00:05 && vlan==10", "eth.addr==02:00:01:00:00:05 && vlan.id==10"},
		{"port<1024 and l4Protocol==TCP", "tcp.port<1024 && tcp"},
		{"ip!=10.1.0.5", "!(ip.addr==10.1.0.5)"},
		{"size>1000", "frame.len>1000"},
		{"l4Protocol==ICMP || l4Protocol==ICMPv6", "icmp || icmpv6"},
		{fmt.Sprintf("ip==10.1.0.7:%d", port), fmt.Sprintf("(ip.src==10.1.0.7 && tcp.srcport==%d) || (ip.dst==10.1.0.7 && tcp.dstport==%d)", port, port)},
		{"port==53 or ip==10.2.0.1", "tcp.port==53 || udp.port==53 || ip.addr==10.2.0.1"},
		{"l4Protocol==TCP and ip==10.2.0.1 and ip==10.1.0.9", "tcp && ip.addr==10.2.0.1 && ip.addr==10.1.0.9"},
		{"ip==10.99.99.99", "ip.addr==10.99.99.99"},
	}
	// tshark selects once per expression (and once with its own time
	// filter, to check the window semantics); windows cut its selection.
	expected := make([][]ringbuftest.Packet, len(cases))
	for i, c := range cases {
		exp := filepath.Join(dir, fmt.Sprintf("exp-%d.pcap", i))
		peertest.TsharkSelect(t, in, c.display, exp)
		expected[i] = readPcap(t, exp)
	}
	w := windows[1]
	exp := filepath.Join(dir, "exp-window.pcap")
	peertest.TsharkSelect(t, in, "("+cases[1].display+") && "+timeFilter(w[0], w[1]), exp)
	samePackets(t, "tshark's window", readPcap(t, exp), cut(expected[1], w))
	check := func(t *testing.T, b *ringbuf.Buffer, what string, windows [][2]int64) {
		for i, c := range cases {
			for j, w := range windows {
				got := filepath.Join(dir, fmt.Sprintf("%s-%d-%d.pcap", what, i, j))
				searchToFile(t, b.Snapshot(), Query{Start: w[0], End: w[1], Filter: filter.MustParse(c.expr)}, FormatPcap, got, WholePacket)
				samePackets(t, fmt.Sprintf("%s %q in [%d, %d)", what, c.expr, w[0]-t0, w[1]-t0), cut(expected[i], w), readPcap(t, got))
			}
		}
	}
	check(t, b, "live", windows[:2])
	if err := b.Close(); err != nil {
		t.Fatal(err)
	}
	b = openBuffer(t, cfg)
	defer b.Close()
	if n := len(b.Snapshot().Segments); n < 10 {
		t.Fatalf("%d segments; want many", n)
	}
	check(t, b, "finished", windows)
}

// cut returns the packets with timestamps in [w[0], w[1]).
func cut(pkts []ringbuftest.Packet, w [2]int64) []ringbuftest.Packet {
	var out []ringbuftest.Packet
	for _, p := range pkts {
		if p.Timestamp >= w[0] && p.Timestamp < w[1] {
			out = append(out, p)
		}
	}
	return out
}

// TestPlannerSkips checks that the catalog and index keep extraction from
// reading what cannot match.
func TestPlannerSkips(t *testing.T) {
	pkts := ringbuftest.Generate(trafficgen.Config{Seed: 22, Clients: 200}, 30000)
	cfg := smallBuffer(t, 1)
	b := openBuffer(t, cfg)
	ringbuftest.Replay(b, pkts, 2)
	b.Close()
	b = openBuffer(t, cfg) // finished segments only: all in the catalog
	defer b.Close()
	snap := b.Snapshot()
	run := func(expr string, start, end int64) Result {
		res, err := Search(t.Context(), snap, Query{Start: start, End: end, Filter: filter.MustParse(expr)}, func(*Packet) error { return nil })
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	all := run("", 0, 0)
	if all.Packets != uint64(len(pkts)) || all.Candidates != all.Packets {
		t.Fatalf("everything: %+v; want %d packets", all, len(pkts))
	}
	host := run("ip==10.1.0.33", 0, 0)
	if host.Candidates != host.Packets || host.Packets == 0 {
		t.Errorf("one host: %+v; want candidates == matches (posting list exact)", host)
	}
	absent := run("ip==192.0.2.99", 0, 0)
	if absent.SegmentsSearched > absent.SegmentsSkipped/10 || absent.Candidates != 0 {
		t.Errorf("absent host: %+v; want (nearly) every segment skipped by its bloom filter", absent)
	}
	mid := pkts[len(pkts)/2].Timestamp
	window := run("", mid, mid+1e6)
	if window.Candidates > window.Packets+2*2*256 { // two lanes, a partial block at each end
		t.Errorf("1 ms window: %+v; want only the blocks around it read", window)
	}
	combo := run("ip==10.1.0.33 and port==443", 0, 0)
	if combo.Candidates > host.Candidates {
		t.Errorf("host and port: %d candidates; want at most the host's %d", combo.Candidates, host.Candidates)
	}
}
