package engine

import (
	"bufio"
	"bytes"
	"context"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/multimeter-fw/multimeter/services/analysis/flow"
	"github.com/multimeter-fw/multimeter/services/capture/filesource"
	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/stats"
	"github.com/multimeter-fw/multimeter/tools/trafficgen"
)

// needTshark skips without tshark (fails under CI, where it must be
// installed).
func needTshark(t testing.TB) {
	t.Helper()
	if _, err := exec.LookPath("tshark"); err != nil {
		if os.Getenv("CI") == "true" {
			t.Fatal("tshark missing under CI")
		}
		t.Skip("tshark not installed")
	}
}

func tshark(t testing.TB, args ...string) []byte {
	t.Helper()
	cmd := exec.Command("tshark", args...)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("tshark %v: %v\n%s", args, err, stderr.String())
	}
	return out
}

// genPcap writes n trafficgen frames to a temporary pcap.
func genPcap(t testing.TB, n int, cfg trafficgen.Config) string {
	t.Helper()
	p := filepath.Join(t.TempDir(), "mix.pcap")
	f, err := os.Create(p)
	if err != nil {
		t.Fatal(err)
	}
	if err := trafficgen.WritePcap(f, trafficgen.New(cfg), n); err != nil {
		t.Fatal(err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	return p
}

// testConfig keeps the tables small enough for tests.
func testConfig(shards int) Config {
	return Config{
		Shards: shards,
		Capacities: Capacities{
			FlowsPerShard: 1 << 16, Connections: 1 << 16, IPs: 1 << 14, IPPeers: 1 << 16, IPPorts: 1 << 16,
			IPProtocols: 1 << 15, IPMACs: 1 << 15, MACs: 1 << 14, MACPeers: 1 << 15, MACProtocols: 1 << 14,
			ServerPorts: 1 << 14, Small: 1 << 14, Names: 1 << 14, PerSecond: 1 << 14,
		},
		Stats: stats.Config{HistoryBytes: 64 << 20},
	}
}

// replay runs a fresh engine over the capture at path to its end.
func replay(t testing.TB, path string, cfg Config) *Engine {
	t.Helper()
	e, err := New(cfg, nil)
	if err != nil {
		t.Fatal(err)
	}
	src, err := filesource.Open(path, filesource.Config{})
	if err != nil {
		t.Fatal(err)
	}
	if err := e.Run(context.Background(), src); err != nil {
		t.Fatalf("Run: %v", err)
	}
	if !e.Finished() {
		t.Fatal("Run returned before the capture ended")
	}
	return e
}

// endpoint is one row of tshark's endpoints table.
type endpoint struct{ txPackets, txBytes, rxPackets, rxBytes uint64 }

// tsharkEndpoints parses `tshark -q -z endpoints,ip -z endpoints,ipv6`.
func tsharkEndpoints(t testing.TB, path string) map[netip.Addr]endpoint {
	t.Helper()
	out := tshark(t, "-q", "-z", "endpoints,ip", "-z", "endpoints,ipv6", "-r", path)
	eps := map[netip.Addr]endpoint{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 7 {
			continue
		}
		a, err := netip.ParseAddr(f[0])
		if err != nil {
			continue
		}
		var v [6]uint64
		for i := range v {
			if v[i], err = strconv.ParseUint(f[i+1], 10, 64); err != nil {
				t.Fatalf("endpoints row %q: %v", sc.Text(), err)
			}
		}
		eps[a] = endpoint{txPackets: v[2], txBytes: v[3], rxPackets: v[4], rxBytes: v[5]}
	}
	if len(eps) == 0 {
		t.Fatalf("no endpoints parsed from tshark:\n%s", out)
	}
	return eps
}

// checkEndpoints compares every IP tshark lists with ours, both ways.
func checkEndpoints(t *testing.T, e *Engine, path string) {
	eps := tsharkEndpoints(t, path)
	st := e.Stats()
	for a, want := range eps {
		got, ok := st.IP.Get(0, decode.AddrFromNetip(a), stats.Query{SkipHistory: true})
		if !ok {
			t.Errorf("IP %s (in tshark's endpoints) not found", a)
			continue
		}
		c := got.AllTime
		if g := (endpoint{c.TxPackets, c.TxBytes, c.RxPackets, c.RxBytes}); g != want {
			t.Errorf("IP %s: tx %d/%d rx %d/%d packets/bytes; tshark: tx %d/%d rx %d/%d",
				a, g.txPackets, g.txBytes, g.rxPackets, g.rxBytes, want.txPackets, want.txBytes, want.rxPackets, want.rxBytes)
		}
	}
	if n := st.IP.IPs.Len(0); n != len(eps) {
		t.Errorf("we have %d IPs; tshark %d", n, len(eps))
	}
}

// conv is one direction-aware conversation from tshark.
type conv struct {
	a, b               netip.AddrPort
	aPackets, bPackets uint64 // frames sent by A, by B
	aBytes, bBytes     uint64
}

// tsharkConvBytes sums frame lengths per TCP/UDP conversation from
// tshark's per-frame fields (conv,tcp rounds bytes to kB).
func tsharkConvBytes(t testing.TB, path string) map[[2]netip.AddrPort][2]uint64 {
	out := tshark(t, "-r", path, "-Y", "(tcp || udp) && !icmp && !icmpv6", "-T", "fields", "-E", "separator=,",
		"-e", "frame.len", "-e", "ip.src", "-e", "ipv6.src", "-e", "ip.dst", "-e", "ipv6.dst",
		"-e", "tcp.srcport", "-e", "udp.srcport", "-e", "tcp.dstport", "-e", "udp.dstport")
	m := map[[2]netip.AddrPort][2]uint64{}
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Split(sc.Text(), ",")
		if len(f) != 9 {
			continue
		}
		n, _ := strconv.ParseUint(f[0], 10, 64)
		src, _ := netip.ParseAddr(f[1] + f[2])
		dst, _ := netip.ParseAddr(f[3] + f[4])
		sp, _ := strconv.ParseUint(f[5]+f[6], 10, 16)
		dp, _ := strconv.ParseUint(f[7]+f[8], 10, 16)
		s, d := netip.AddrPortFrom(src, uint16(sp)), netip.AddrPortFrom(dst, uint16(dp))
		if k := [2]netip.AddrPort{d, s}; m[k] != ([2]uint64{}) {
			v := m[k]
			v[1] += n
			m[k] = v
			continue
		}
		k := [2]netip.AddrPort{s, d}
		v := m[k]
		v[0] += n
		m[k] = v
	}
	return m
}

// tsharkConvs parses `-z conv,tcp -z conv,udp`: frames per direction.
func tsharkConvs(t testing.TB, path string) []conv {
	out := tshark(t, "-q", "-z", "conv,tcp", "-z", "conv,udp", "-r", path)
	var convs []conv
	sc := bufio.NewScanner(bytes.NewReader(out))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 12 || f[1] != "<->" {
			continue
		}
		a, err1 := netip.ParseAddrPort(bracket(f[0]))
		b, err2 := netip.ParseAddrPort(bracket(f[2]))
		if err1 != nil || err2 != nil {
			t.Fatalf("conversation row %q: %v %v", sc.Text(), err1, err2)
		}
		// A <-> B | <- frames bytes unit | -> frames bytes unit | ...
		bFrames, _ := strconv.ParseUint(f[3], 10, 64)
		aFrames, _ := strconv.ParseUint(f[6], 10, 64)
		convs = append(convs, conv{a: a, b: b, aPackets: aFrames, bPackets: bFrames})
	}
	if len(convs) == 0 {
		t.Fatalf("no conversations parsed from tshark:\n%s", out)
	}
	return convs
}

// bracket turns tshark's "2001:db8::1:443" into "[2001:db8::1]:443".
func bracket(s string) string {
	i := strings.LastIndexByte(s, ':')
	if strings.Count(s, ":") > 1 {
		return "[" + s[:i] + "]" + s[i:]
	}
	return s
}

// connOf returns our connection between a and b as (sent by a, sent by b).
func connOf(t *testing.T, e *Engine, proto uint8, a, b netip.AddrPort) (stats.Counters, bool) {
	k := flow.Key{A: decode.AddrFromNetip(a.Addr()), B: decode.AddrFromNetip(b.Addr()), PortA: a.Port(), PortB: b.Port(), Proto: proto}
	swap := false
	if c := bytes.Compare(k.A[:], k.B[:]); c > 0 || c == 0 && k.PortA > k.PortB {
		k.A, k.B, k.PortA, k.PortB = k.B, k.A, k.PortB, k.PortA
		swap = true
	}
	got, ok := e.Stats().Conns.Get(k, stats.Query{SkipHistory: true})
	c := got.AllTime
	if swap {
		c = c.Swap()
	}
	return c, ok
}

func checkConversations(t *testing.T, e *Engine, path string) {
	convs := tsharkConvs(t, path)
	sums := tsharkConvBytes(t, path)
	for _, cv := range convs {
		var got stats.Counters
		ok := false
		for _, proto := range []uint8{decode.ProtoTCP, decode.ProtoUDP} {
			if got, ok = connOf(t, e, proto, cv.a, cv.b); ok {
				break
			}
		}
		if !ok {
			t.Errorf("conversation %s <-> %s not found", cv.a, cv.b)
			continue
		}
		if got.TxPackets != cv.aPackets || got.RxPackets != cv.bPackets {
			t.Errorf("conversation %s <-> %s: %d -> / %d <- frames; tshark %d / %d", cv.a, cv.b, got.TxPackets, got.RxPackets, cv.aPackets, cv.bPackets)
		}
		if b, ok := sums[[2]netip.AddrPort{cv.a, cv.b}]; ok && (got.TxBytes != b[0] || got.RxBytes != b[1]) {
			t.Errorf("conversation %s <-> %s: %d -> / %d <- bytes; tshark frames sum %d / %d", cv.a, cv.b, got.TxBytes, got.RxBytes, b[0], b[1])
		}
	}
}

func TestCountersMatchTsharkOnGeneratedMix(t *testing.T) {
	needTshark(t)
	path := genPcap(t, 30000, trafficgen.Config{Seed: 7})
	for _, shards := range []int{1, 3} {
		t.Run(strconv.Itoa(shards)+"shards", func(t *testing.T) {
			e := replay(t, path, testConfig(shards))
			checkEndpoints(t, e, path)
			checkConversations(t, e, path)
		})
	}
}
