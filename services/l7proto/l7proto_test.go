package l7proto

import "testing"

func TestParse(t *testing.T) {
	for _, id := range All() {
		got, ok := Parse(id.String())
		if !ok || got != id {
			t.Errorf("Parse(%q) = %v, %v; want %v", id.String(), got, ok, id)
		}
		if id.String() == "" || id.String() == "Unknown" {
			t.Errorf("ID %d has no name", id)
		}
	}
	for in, want := range map[string]ID{"http": HTTP, "Https": TLS, "SSL": TLS, "dns": DNS} {
		if got, ok := Parse(in); !ok || got != want {
			t.Errorf("Parse(%q) = %v, %v; want %v", in, got, ok, want)
		}
	}
	if _, ok := Parse("nosuchproto"); ok {
		t.Error(`Parse("nosuchproto") succeeded`)
	}
}
