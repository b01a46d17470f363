package dhcp

import (
	"os"
	"path/filepath"
	"testing"
)

func TestParse(t *testing.T) {
	for _, tc := range []struct {
		file     string
		op, typ  uint8
		hostname string
	}{
		{"msg1.bin", 1, Discover, "client-zb"},
		{"msg2.bin", 2, Offer, ""},
		{"msg3.bin", 1, Request, "client-zb"},
		{"msg4.bin", 2, Ack, ""},
	} {
		t.Run(tc.file, func(t *testing.T) {
			b, err := os.ReadFile(filepath.Join("testdata", tc.file))
			if err != nil {
				t.Fatal(err)
			}
			var m Message
			if err := Parse(&m, b); err != nil {
				t.Fatalf("Parse = %v", err)
			}
			if m.Op != tc.op || m.Type != tc.typ || string(m.Hostname()) != tc.hostname {
				t.Errorf("Parse: op %d type %d hostname %q; want %d %d %q", m.Op, m.Type, m.Hostname(), tc.op, tc.typ, tc.hostname)
			}
			if tc.typ == Offer && !m.HasServerID {
				t.Error("Parse: no server identifier in an offer")
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	f.Fuzz(func(t *testing.T, b []byte) {
		var m Message
		err := Parse(&m, b)
		if err == nil && len(b) < 240 {
			t.Fatal("short message accepted")
		}
		for _, c := range m.Hostname() {
			if c <= ' ' || c >= 0x7f {
				t.Fatalf("unprintable host name %q", m.Hostname())
			}
		}
	})
}
