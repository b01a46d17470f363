package ws

import (
	"testing"
	"unicode/utf8"
)

// FuzzParseMessage: client messages come from any browser tab. Whatever
// parses must respect the limits. Seeds are in
// testdata/fuzz/FuzzParseMessage.
func FuzzParseMessage(f *testing.F) {
	f.Fuzz(func(t *testing.T, data []byte) {
		m, err := ParseMessage(data)
		if err != nil {
			return
		}
		if m.Type != "subscribe" && m.Type != "unsubscribe" {
			t.Fatalf("ParseMessage(%q) type %q", data, m.Type)
		}
		if !utf8.ValidString(m.ID) || m.ID == "" || len(m.ID) > maxIDLen || len(m.Params) > maxParams {
			t.Fatalf("ParseMessage(%q) = %+v beyond the limits", data, m)
		}
		for k, v := range m.Params {
			if k == "" || len(v) > maxParamText {
				t.Fatalf("ParseMessage(%q) param %q=%q beyond the limits", data, k, v)
			}
		}
	})
}
