package bench

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multimeter-fw/multimeter/services/analysis"
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
	if len(r.Levels) != int(analysis.LevelAll) {
		t.Errorf("measured %d levels below all; want %d", len(r.Levels), analysis.LevelAll)
	}
	for i, l := range r.Levels {
		if l.Level != analysis.Level(i) || l.CPU <= 0 {
			t.Errorf("level %d: %+v", i, l)
		}
	}
	for _, section := range []string{"offline analysis", "by level of analysis", "memory", "store queries"} {
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

// TestLevelChecked: an unknown level, or a lower level with the peers
// (whose ratios are for all modules), is refused before anything is
// generated.
func TestLevelChecked(t *testing.T) {
	for _, cfg := range []Config{{Level: "bogus"}, {Level: "l2"}} {
		cfg.Packets, cfg.Dir = 1000, t.TempDir()
		if _, err := Run(context.Background(), cfg, io.Discard); err == nil {
			t.Errorf("level %q (ours only %v): no error", cfg.Level, cfg.OursOnly)
		}
		if files, _ := os.ReadDir(cfg.Dir); len(files) != 0 {
			t.Errorf("level %q: files written: %v", cfg.Level, files)
		}
	}
	var out bytes.Buffer
	if _, err := Run(context.Background(), Config{Packets: 2000, Level: "l3", OursOnly: true, Loops: 1, Dir: t.TempDir()}, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), "level of analysis l3") {
		t.Errorf("an l3 run does not say so:\n%s", out.String())
	}
}
