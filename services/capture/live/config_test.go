package live

import (
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
)

func TestConfigValidate(t *testing.T) {
	pair := []PortConfig{{Name: "eth1", Index: 0, Partner: "eth2"}, {Name: "eth2", Index: 1, Partner: "eth1"}}
	one := []PortConfig{{Name: "eth1"}}
	tests := []struct {
		name    string
		cfg     Config
		wantErr string // substring; empty for valid
	}{
		{"defaults", Config{Ports: one}, ""},
		{"bridge pair", Config{Ports: pair, Mode: Bridge}, ""},
		{"pair in sink mode", Config{Ports: pair}, ""},
		{"tuned", Config{Ports: one, WorkersPerPort: 4, BlockSize: 4 << 20, BlockCount: 128, BlockTimeout: 10 * time.Millisecond, TXFrames: 8192}, ""},
		{"no ports", Config{}, "no ports"},
		{"bad mode", Config{Ports: one, Mode: 7}, "invalid mode"},
		{"bridge without pair", Config{Ports: one, Mode: Bridge}, "bridge mode needs"},
		{"too many workers", Config{Ports: one, WorkersPerPort: 65}, "workers per port"},
		{"negative workers", Config{Ports: one, WorkersPerPort: -1}, "workers per port"},
		{"block not power of two", Config{Ports: one, BlockSize: 5000}, "block size"},
		{"block too small", Config{Ports: one, BlockSize: 2048}, "block size"},
		{"one block", Config{Ports: one, BlockCount: 1}, "block count"},
		{"ring too large", Config{Ports: one, BlockSize: 64 << 20, BlockCount: 1024}, "exceeds"},
		{"timeout not whole ms", Config{Ports: one, BlockTimeout: 1500 * time.Microsecond}, "block timeout"},
		{"timeout too long", Config{Ports: one, BlockTimeout: 2 * time.Minute}, "block timeout"},
		{"tx frames", Config{Ports: one, TXFrames: 1000}, "TX frames"},
		{"empty name", Config{Ports: []PortConfig{{Name: ""}}}, "invalid interface name"},
		{"long name", Config{Ports: []PortConfig{{Name: "abcdefghijklmnop"}}}, "invalid interface name"},
		{"slash in name", Config{Ports: []PortConfig{{Name: "eth/1"}}}, "invalid interface name"},
		{"space in name", Config{Ports: []PortConfig{{Name: "eth 1"}}}, "invalid interface name"},
		{"duplicate name", Config{Ports: []PortConfig{{Name: "eth1", Index: 0}, {Name: "eth1", Index: 1}}}, "twice"},
		{"duplicate index", Config{Ports: []PortConfig{{Name: "eth1", Index: 3}, {Name: "eth2", Index: 3}}}, "share index"},
		{"own partner", Config{Ports: []PortConfig{{Name: "eth1", Partner: "eth1"}}}, "own partner"},
		{"unknown partner", Config{Ports: []PortConfig{{Name: "eth1", Partner: "eth9"}}}, "not a configured port"},
		{"one-sided partner", Config{Ports: []PortConfig{{Name: "eth1", Index: 0, Partner: "eth2"}, {Name: "eth2", Index: 1}}}, "names"},
		{"crossed partners", Config{Ports: []PortConfig{
			{Name: "eth1", Index: 0, Partner: "eth2"}, {Name: "eth2", Index: 1, Partner: "eth3"}, {Name: "eth3", Index: 2, Partner: "eth2"},
		}}, "names"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			switch {
			case tt.wantErr == "" && err != nil:
				t.Errorf("Validate() = %v; want nil", err)
			case tt.wantErr != "" && (err == nil || !strings.Contains(err.Error(), tt.wantErr)):
				t.Errorf("Validate() = %v; want an error containing %q", err, tt.wantErr)
			}
		})
	}
}

func TestConfigDefaults(t *testing.T) {
	got := Config{}.withDefaults()
	want := Config{
		WorkersPerPort: DefaultWorkersPerPort, BlockSize: DefaultBlockSize, BlockCount: DefaultBlockCount,
		BlockTimeout: DefaultBlockTimeout, TXFrames: DefaultTXFrames, SysfsRoot: DefaultSysfsRoot,
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("Config{}.withDefaults() differs (-want +got):\n%s", d)
	}
}

func TestParseMode(t *testing.T) {
	for _, m := range []Mode{Sink, Bridge} {
		got, err := ParseMode(m.String())
		if err != nil || got != m {
			t.Errorf("ParseMode(%q) = %v, %v; want %v", m.String(), got, err, m)
		}
	}
	if _, err := ParseMode("tap"); err == nil {
		t.Errorf("ParseMode(tap) = nil error; want an error")
	}
}

func TestPortsOf(t *testing.T) {
	tests := []struct {
		name            string
		ifaces, bridges []string
		want            []PortConfig
		wantErr         string
	}{
		{"interfaces", []string{"eth1", "eth2"}, nil, []PortConfig{{Name: "eth1"}, {Name: "eth2", Index: 1}}, ""},
		{"bridge only", nil, []string{"eth1,eth2"}, []PortConfig{{Name: "eth1", Partner: "eth2"}, {Name: "eth2", Index: 1, Partner: "eth1"}}, ""},
		{"bridge of listed interfaces", []string{"eth3", "eth2", "eth1"}, []string{"eth1,eth2"},
			[]PortConfig{{Name: "eth3"}, {Name: "eth2", Index: 1, Partner: "eth1"}, {Name: "eth1", Index: 2, Partner: "eth2"}}, ""},
		{"interface twice", []string{"eth1", "eth1"}, nil, nil, "given twice"},
		{"one interface", nil, []string{"eth1"}, nil, "want two interfaces"},
		{"three interfaces", nil, []string{"eth1,eth2,eth3"}, nil, "want two interfaces"},
		{"empty side", nil, []string{"eth1,"}, nil, "want two interfaces"},
		{"two pairs share one", nil, []string{"eth1,eth2", "eth2,eth3"}, nil, "one pair only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := PortsOf(tt.ifaces, tt.bridges)
			if tt.wantErr != "" {
				if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
					t.Fatalf("PortsOf(%q, %q) = %v; want an error with %q", tt.ifaces, tt.bridges, err, tt.wantErr)
				}
				return
			}
			if err != nil {
				t.Fatalf("PortsOf(%q, %q): %v", tt.ifaces, tt.bridges, err)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("PortsOf(%q, %q) differs (-want +got):\n%s", tt.ifaces, tt.bridges, diff)
			}
		})
	}
}
