package analysisapi

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/multimeter-fw/multimeter/services/analysis"
	"github.com/multimeter-fw/multimeter/services/engine"
	"github.com/multimeter-fw/multimeter/services/stats"
)

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	cfg, err := Load(filepath.Join(dir, "missing.json"), 0)
	if err != nil || !reflect.DeepEqual(cfg, engine.Config{}) {
		t.Errorf("Load(missing) = %+v, %v; want the defaults", cfg, err)
	}
	l3 := analysis.LevelL3
	tests := []struct {
		file string
		want engine.Config
		err  string // part of the error; "" for none
	}{
		{`{"analyzerShards": 3, "analysisLevel": "l3"}`, engine.Config{Shards: 3, Level: &l3}, ""},
		{`{"analyzerShard": 3}`, engine.Config{}, `unknown field "analyzerShard"`},
		{`{"analyzerShards": 3`, engine.Config{}, "invalid JSON"},
		{`{"loadBalancing": "round-robin"}`, engine.Config{}, "loadBalancing"},
		{`{} {}`, engine.Config{}, "data after the object"},
		{`{"capacities": {"connections": 17179869184}}`, engine.Config{}, "needs 6"},
	}
	for _, tt := range tests {
		p := filepath.Join(dir, "analysis.json")
		if err := os.WriteFile(p, []byte(tt.file), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(p, 64<<30)
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("Load(%s): %v", tt.file, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("Load(%s) error = %v; want one about %q", tt.file, err, tt.err)
		case !reflect.DeepEqual(cfg, tt.want):
			t.Errorf("Load(%s) = %+v; want %+v", tt.file, cfg, tt.want)
		}
	}
}

// TestFits: a small box keeps running the defaults it cannot hold full,
// and may change what does not grow them, but takes no larger sizing.
func TestFits(t *testing.T) {
	const small = 1 << 30
	l2 := analysis.LevelL2
	// A sizing well inside the small box, and a larger one still inside.
	tiny := engine.Config{Shards: 1, QueuePackets: 1024, Capacities: engine.Capacities{
		FlowsPerShard: 1 << 12, Connections: 1 << 12, IPs: 1 << 12, IPPeers: 1 << 12, IPPorts: 1 << 12, IPProtocols: 1 << 12,
		IPMACs: 1 << 12, MACs: 1 << 12, MACPeers: 1 << 12, MACProtocols: 1 << 12, ServerPorts: 1 << 12, Small: 1 << 12,
		Names: 1 << 12, PerSecond: 1 << 12,
	}, Stats: stats.Config{HistoryBytes: 16 << 20}}
	larger := tiny
	larger.Capacities.Connections = 1 << 18
	tests := []struct {
		name      string
		cfg, prev engine.Config
		ok        bool
	}{
		{"the defaults", engine.Config{}, engine.Config{}, true},
		{"another level", engine.Config{Level: &l2}, engine.Config{}, true},
		{"more shards", engine.Config{Shards: 8}, engine.Config{Shards: 1}, false},
		{"fewer shards", engine.Config{Shards: 1}, engine.Config{Shards: 8}, true},
		{"smaller tables", engine.Config{Capacities: engine.Capacities{Connections: 1 << 16, FlowsPerShard: 1 << 16}}, engine.Config{}, true},
		{"larger tables that fit", larger, tiny, true},
		{"larger tables that do not fit", engine.Config{Shards: 1, Capacities: engine.Capacities{Connections: 1 << 22}}, engine.Config{Shards: 1}, false},
	}
	for _, tt := range tests {
		if err := fits(tt.cfg, tt.prev, small); (err == nil) != tt.ok {
			t.Errorf("%s: fits = %v; want ok %v", tt.name, err, tt.ok)
		}
	}
	if err := fits(engine.Config{Shards: 8}, engine.Config{}, 0); err != nil {
		t.Errorf("with the memory unknown: %v", err)
	}
}
