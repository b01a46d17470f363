package analysisapi

import (
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/multimeter-fw/multimeter/services/analysis"
	"github.com/multimeter-fw/multimeter/services/engine"
)

func TestLoad(t *testing.T) {
	dir := t.TempDir()
	cfg, err := Load(filepath.Join(dir, "missing.json"))
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
	}
	for _, tt := range tests {
		p := filepath.Join(dir, "analysis.json")
		if err := os.WriteFile(p, []byte(tt.file), 0o600); err != nil {
			t.Fatal(err)
		}
		cfg, err := Load(p)
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
