package engine

import (
	"strings"
	"testing"

	"github.com/multimeter-fw/multimeter/services/analysis"
	"github.com/multimeter-fw/multimeter/services/stats"
)

func TestConfigValidate(t *testing.T) {
	bad := analysis.Level(9)
	tests := []struct {
		name string
		cfg  Config
		err  string // part of the error; "" for none
	}{
		{"the defaults", Config{}, ""},
		{"explicit values", Config{IOWorkers: 2, Shards: 4, QueuePackets: 4096, Balance: "flow", FlowIdleSeconds: 30,
			Capacities: Capacities{Connections: 1 << 10}}, ""},
		{"negative shards", Config{Shards: -1}, "analyzerShards -1 is negative"},
		{"negative I/O workers", Config{IOWorkers: -2}, "ioWorkers -2 is negative"},
		{"negative queue", Config{QueuePackets: -4096}, "queuePackets -4096 is negative"},
		{"negative idle time", Config{FlowIdleSeconds: -1}, "flowIdleSeconds -1 is negative"},
		{"negative capacity", Config{Capacities: Capacities{Connections: -1}}, "capacities.connections -1 is negative"},
		{"negative last capacity", Config{Capacities: Capacities{PerSecond: -5}}, "capacities.perSecond -5 is negative"},
		{"too many shards", Config{Shards: maxShards + 1}, "at most 256"},
		{"queue too small", Config{QueuePackets: 1}, "queuePackets 1 out of range"},
		{"unknown balance", Config{Balance: "round-robin"}, "loadBalancing"},
		{"unknown level", Config{Level: &bad}, "analysisLevel 9"},
		{"unnamed group", Config{Groups: []GroupRule{{VLANs: []uint16{5}}}}, "group 1 has no name"},
		{"group matching everything", Config{Groups: []GroupRule{{Name: "all"}}}, "matches everything"},
		{"VLAN out of range", Config{Groups: []GroupRule{{Name: "g", VLANs: []uint16{4096}}}}, "VLAN 4096"},
		{"bad history", Config{Stats: stats.Config{RecentSeconds: 1}}, "recentSeconds"},
	}
	for _, tt := range tests {
		err := tt.cfg.Validate()
		switch {
		case tt.err == "" && err != nil:
			t.Errorf("%s: Validate() = %v; want nil", tt.name, err)
		case tt.err != "" && (err == nil || !strings.Contains(err.Error(), tt.err)):
			t.Errorf("%s: Validate() = %v; want an error containing %q", tt.name, err, tt.err)
		}
	}
}

// TestCountsCoverEveryIntegerField: the negative check reaches every
// size, also of the capacities.
func TestCountsCoverEveryIntegerField(t *testing.T) {
	got := map[string]bool{}
	for _, f := range (Config{}).counts() {
		got[f.name] = true
	}
	for _, name := range []string{"ioWorkers", "analyzerShards", "queuePackets", "flowIdleSeconds",
		"capacities.flowsPerShard", "capacities.connections", "capacities.ipMacs", "capacities.names", "capacities.perSecond"} {
		if !got[name] {
			t.Errorf("counts() has no %s (it has %v)", name, got)
		}
	}
	if len(got) != 4+14 {
		t.Errorf("counts() = %d fields; want 4 of Config and 14 capacities", len(got))
	}
}
