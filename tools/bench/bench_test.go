package bench

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
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

// TestPeersReadTheFirstPass checks that the mix the peers read is, byte
// for byte, the first pass our analysis reads, and that later passes
// follow it.
func TestPeersReadTheFirstPass(t *testing.T) {
	dir := t.TempDir()
	mix, passes := filepath.Join(dir, "mix.pcap"), filepath.Join(dir, "passes.pcap")
	if err := writePasses(mix, 5000, 1); err != nil {
		t.Fatal(err)
	}
	if err := writePasses(passes, 5000, 3); err != nil {
		t.Fatal(err)
	}
	m, err := os.ReadFile(mix)
	if err != nil {
		t.Fatal(err)
	}
	p, err := os.ReadFile(passes)
	if err != nil {
		t.Fatal(err)
	}
	if len(p) < 2*len(m) || !bytes.Equal(m, p[:len(m)]) {
		t.Fatalf("the first pass (%d of %d bytes) is not the peers' mix (%d bytes)", len(m), len(p), len(m))
	}
}
