package bench

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// TestShortRun runs the whole benchmark at toy sizes: it must complete
// and report every section. No figure is asserted.
func TestShortRun(t *testing.T) {
	if testing.Short() {
		t.Skip("generates captures and fills stores")
	}
	var out bytes.Buffer
	r, err := Run(context.Background(), Config{Packets: 20000, StoreIPs: 5000, StoreConns: 10000, MemoryConns: 5000, Dir: t.TempDir()}, &out)
	if err != nil {
		t.Fatal(err)
	}
	if r.Packets != 20000 || r.Ours.CPU <= 0 || r.Memory.ConnTypical <= 0 || r.Queries.OneIP.P50 <= 0 {
		t.Errorf("incomplete report: %+v", r)
	}
	for _, section := range []string{"offline analysis", "memory", "store queries"} {
		if !strings.Contains(out.String(), section) {
			t.Errorf("report lacks %q:\n%s", section, out.String())
		}
	}
}
