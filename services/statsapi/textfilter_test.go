package statsapi

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/multimeter-fw/multimeter/services/analysis/flow"
	"github.com/multimeter-fw/multimeter/services/apiparam"
	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/l7proto"
)

func filterOf(t *testing.T, text string) *textFilter {
	t.Helper()
	f, err := parseTextFilter(apiparam.FromMap(map[string]string{"filter": text}))
	if err != nil {
		t.Fatalf("parseTextFilter(%q) = %v", text, err)
	}
	return f
}

func addr(s string) decode.Addr { return decode.AddrFromNetip(netip.MustParseAddr(s)) }

func TestParseTextFilter(t *testing.T) {
	tests := []struct {
		text    string
		terms   int
		wantErr bool
	}{
		{"", 0, false},
		{"   ", 0, false},
		{"10.1.", 1, false},
		{"10.0.0.0/8 example", 2, false},
		{strings.Repeat("a ", 8), 8, false},
		{strings.Repeat("a ", 9), 0, true},
		{strings.Repeat("x", maxFilterBytes+1), 0, true},
	}
	for _, tt := range tests {
		f, err := parseTextFilter(apiparam.FromMap(map[string]string{"filter": tt.text}))
		if (err != nil) != tt.wantErr {
			t.Errorf("parseTextFilter(%q) error = %v; want error %v", tt.text, err, tt.wantErr)
			continue
		}
		got := 0
		if f != nil {
			got = len(f.terms)
		}
		if got != tt.terms {
			t.Errorf("parseTextFilter(%q) has %d terms; want %d", tt.text, got, tt.terms)
		}
	}
}

func TestMatchAddr(t *testing.T) {
	tests := []struct {
		filter, addr string
		want         bool
	}{
		{"10.1.2.3", "10.1.2.3", true},
		{"10.1.2.3", "10.1.2.30", false}, // an address is exact, not a substring
		{"10.1.", "10.1.2.30", true},
		{"10.1.", "10.2.1.3", false},
		{"10.0.0.0/8", "10.200.1.1", true},
		{"10.0.0.0/8", "11.0.0.1", false},
		{"10.1.2.77/24", "10.1.2.1", true}, // host bits are ignored
		{"2001:DB8::/32", "2001:db8:1::5", true},
		{"2001:db8:", "2001:db8:1::5", true},
		{"2001:db8::/32", "10.0.0.1", false},
		{"10.0.0.0/8 .5", "10.1.1.5", true},
		{"10.0.0.0/8 .5", "10.1.1.6", false},
	}
	for _, tt := range tests {
		if got := filterOf(t, tt.filter).matchAddr(addr(tt.addr)); got != tt.want {
			t.Errorf("filter %q matchAddr(%s) = %v; want %v", tt.filter, tt.addr, got, tt.want)
		}
	}
}

func TestMatchMAC(t *testing.T) {
	m := decode.MAC{0x00, 0x11, 0x22, 0xaa, 0xbb, 0xcc}
	tests := []struct {
		filter string
		want   bool
	}{
		{"00:11:22", true},
		{"00-11-22", true},
		{"AA:BB", true},
		{"aa:bb:cd", false},
	}
	for _, tt := range tests {
		if got := filterOf(t, tt.filter).matchMAC(m); got != tt.want {
			t.Errorf("filter %q matchMAC(%s) = %v; want %v", tt.filter, m, got, tt.want)
		}
	}
}

func TestMatchConn(t *testing.T) {
	tls, ok := l7proto.Parse("TLS")
	if !ok {
		t.Fatal(`l7proto.Parse("TLS") failed`)
	}
	k := flow.Key{A: addr("10.1.0.5"), B: addr("10.2.0.9"), PortA: 40000, PortB: 443, Proto: decode.ProtoTCP}
	at := flow.Conn{App: tls}
	tests := []struct {
		filter string
		want   bool
	}{
		{"10.2.0.9", true},
		{"10.1.0.0/16 443", true},
		{"443 tcp", true},
		{"tls", true},
		{"udp", false},
		{"80", false},
		{"10.3.", false},
	}
	for _, tt := range tests {
		if got := filterOf(t, tt.filter).matchConn(&k, &at); got != tt.want {
			t.Errorf("filter %q matchConn(10.1.0.5:40000 -> 10.2.0.9:443 tcp TLS) = %v; want %v", tt.filter, got, tt.want)
		}
	}
}

func FuzzTextFilter(f *testing.F) {
	for _, s := range []string{"10.1.", "10.0.0.0/8 443", "2001:db8::/32", "fe80::1%eth0", "00-11-22", "tls udp 53"} {
		f.Add(s)
	}
	k := flow.Key{A: addr("10.1.0.5"), B: addr("2001:db8::9"), PortA: 1, PortB: 2, Proto: decode.ProtoUDP}
	f.Fuzz(func(t *testing.T, text string) {
		tf, err := parseTextFilter(apiparam.FromMap(map[string]string{"filter": text}))
		if err != nil || tf == nil {
			return
		}
		tf.matchAddr(k.A)
		tf.matchMAC(decode.MAC{1, 2, 3, 4, 5, 6})
		tf.matchConn(&k, &flow.Conn{})
	})
}
