package filter

import (
	"net/netip"
	"testing"
)

func netipMustParse(s string) netip.Addr { return netip.MustParseAddr(s) }

// FuzzParse checks that no input panics the parser and that the canonical
// form of every accepted expression parses back to itself.
func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"ip==10.1.2.3",
		"IP==10.1.2.3:62887 and IP==10.1.2.100:548 and l4Protocol==TCP",
		"(ip==10.0.0.0/8 or ip==2001:db8::/32) and !(port==22)",
		"mac==00:11:22:33:44:55 && vlan==100",
		"ip==[2001:db8::1]:443 || size>=1500",
		`sipNumber=="+49 30 1234" and l7Protocol==SIP`,
	} {
		f.Add(s)
	}
	tcp, _ := tcpA.build(f)
	f.Fuzz(func(t *testing.T, s string) {
		flt, err := Parse(s)
		if err != nil {
			return
		}
		flt.Match(tcp, nil)
		flt.Plan()
		canon := flt.String()
		again, err := Parse(canon)
		if err != nil {
			t.Fatalf("Parse(%q) (canonical form of %q): %v", canon, s, err)
		}
		if got := again.String(); got != canon {
			t.Fatalf("Parse(%q).String() = %q; want %q", canon, got, canon)
		}
	})
}
