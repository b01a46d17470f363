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
