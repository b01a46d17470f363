package sip

import (
	"net/netip"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/multimeter-fw/multimeter/services/decode"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		file string
		want Message
	}{
		{"invite.txt", Message{Request: true, Invite: true, CSeqInvite: true, MediaPort: 30000, HasMedia: true,
			MediaAddr: decode.AddrFromNetip(netip.MustParseAddr("192.168.1.2"))}},
		{"183.txt", Message{Status: 183, CSeqInvite: true, MediaPort: 40392, HasMedia: true,
			MediaAddr: decode.AddrFromNetip(netip.MustParseAddr("212.242.33.36"))}},
	} {
		t.Run(tc.file, func(t *testing.T) {
			b, err := os.ReadFile("testdata/" + tc.file)
			if err != nil {
				t.Fatal(err)
			}
			var m Message
			if err := Parse(&m, b); err != nil {
				t.Fatalf("Parse = %v", err)
			}
			if m.From.String() != "35104723" || m.To.String() != "35104724" || m.CallID == 0 {
				t.Errorf("Parse: from %q to %q call-id %x; want 35104723, 35104724, a call-id", m.From.String(), m.To.String(), m.CallID)
			}
			m.From, m.To, m.CallID = Number{}, Number{}, 0
			if diff := cmp.Diff(tc.want, m, cmp.AllowUnexported(Number{})); diff != "" {
				t.Errorf("Parse (-want +got):\n%s", diff)
			}
		})
	}
}

func TestParseAddrs(t *testing.T) {
	for _, tc := range []struct {
		in   string
		ok   bool
		want string
	}{
		{"10.0.0.1", true, "10.0.0.1"},
		{"255.255.255.255", true, "255.255.255.255"},
		{"256.1.1.1", false, ""},
		{"1.2.3", false, ""},
		{"1..2.3", false, ""},
		{"1.2.3.4.", false, ""},
		{"0001.2.3.4", false, ""},
	} {
		a, ok := parseIPv4([]byte(tc.in))
		if ok != tc.ok || ok && a.String() != tc.want {
			t.Errorf("parseIPv4(%q) = %v, %v; want %v, %v", tc.in, a, ok, tc.want, tc.ok)
		}
	}
	for _, tc := range []struct {
		in string
		ok bool
	}{
		{"2001:db8::1", true}, {"::1", true}, {"fe80::1:2:3:4", true}, {"1:2:3:4:5:6:7:8", true},
		{"1:2:3:4:5:6:7:8:9", false}, {"2001:db8:::1", false}, {"12345::", false}, {"g::1", false},
	} {
		a, ok := parseIPv6([]byte(tc.in))
		if ok != tc.ok {
			t.Errorf("parseIPv6(%q) ok = %v; want %v", tc.in, ok, tc.ok)
			continue
		}
		if ok {
			if want := netip.MustParseAddr(tc.in); a.Netip() != want {
				t.Errorf("parseIPv6(%q) = %s; want %s", tc.in, a, want)
			}
		}
	}
}

func TestNumbersDoNotAllocate(t *testing.T) {
	b, err := os.ReadFile("testdata/invite.txt")
	if err != nil {
		t.Fatal(err)
	}
	var m Message
	allocs := testing.AllocsPerRun(100, func() {
		if Parse(&m, b) == nil {
			Numbers(&m)
		}
	})
	if allocs != 0 {
		t.Errorf("Parse and Numbers allocate %v times; want 0", allocs)
	}
}

func TestRegistry(t *testing.T) {
	r := NewRegistry(16)
	a := decode.AddrFromNetip(netip.MustParseAddr("10.0.0.1"))
	r.put(a, 4000, 0, kindRTP, [2]uint64{1, 2})
	if n, kind, ok := r.lookup(&a, 4000, 0); !ok || n != [2]uint64{1, 2} || kind != kindRTP {
		t.Errorf("lookup = %v %d %v; want [1 2] RTP true", n, kind, ok)
	}
	if _, _, ok := r.lookup(&a, 4002, 0); ok {
		t.Error("lookup of another port found an entry")
	}
	if _, _, ok := r.lookup(&a, 4000, 1); ok {
		t.Error("lookup in another group found an entry")
	}
}

func FuzzParse(f *testing.F) {
	for _, name := range []string{"testdata/invite.txt", "testdata/183.txt"} {
		if b, err := os.ReadFile(name); err == nil {
			f.Add(b)
		}
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Message
		if Parse(&m, b) != nil {
			return
		}
		if int(m.From.n) > MaxNumber || int(m.To.n) > MaxNumber {
			t.Fatalf("numbers too long: %d, %d", m.From.n, m.To.n)
		}
		if m.HasMedia && m.MediaPort == 0 {
			t.Fatal("media without a port")
		}
	})
}
