package pid1

import (
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestParseCmdline(t *testing.T) {
	tests := []struct {
		in   string
		want map[string]string
	}{
		{"console=ttyS0,115200 multimeter.slot=a quiet\n", map[string]string{"console": "ttyS0,115200", "multimeter.slot": "a", "quiet": ""}},
		{`x="a b" y=1`, map[string]string{"x": "a b", "y": "1"}},
		{"  ", map[string]string{}},
		{"k=v=w", map[string]string{"k": "v=w"}},
		{"=0 a=1", map[string]string{"a": "1"}},
	}
	for _, tt := range tests {
		if diff := cmp.Diff(tt.want, parseCmdline(tt.in)); diff != "" {
			t.Errorf("parseCmdline(%q) mismatch (-want +got):\n%s", tt.in, diff)
		}
	}
}

func FuzzParseCmdline(f *testing.F) {
	f.Add(`console=ttyS0 x="a b" multimeter.slot=a`)
	f.Fuzz(func(t *testing.T, s string) {
		for k := range parseCmdline(s) {
			if k == "" || (strings.ContainsAny(k, " \t\n") && !strings.Contains(k, `"`)) {
				t.Fatalf("parseCmdline(%q) has key %q", s, k)
			}
		}
	})
}
