package mgmtnet

import (
	"net"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestValidate(t *testing.T) {
	tests := []struct {
		name string
		cfg  Config
		ok   bool
	}{
		{"zero is dhcp", Config{}, true},
		{"dhcp with hostname", Config{Mode: "dhcp", Hostname: "lab-mm1"}, true},
		{"static full", Config{Mode: "static", Address: "10.0.2.50/24", Gateway: "10.0.2.2", DNS: []string{"10.0.2.3", "2001:db8::53"}}, true},
		{"static without gateway", Config{Mode: "static", Address: "192.168.1.5/24"}, true},
		{"unknown mode", Config{Mode: "bootp"}, false},
		{"dhcp with address", Config{Address: "10.0.2.50/24"}, false},
		{"static without address", Config{Mode: "static"}, false},
		{"no prefix length", Config{Mode: "static", Address: "10.0.2.50"}, false},
		{"ipv6 address", Config{Mode: "static", Address: "2001:db8::5/64"}, false},
		{"network address", Config{Mode: "static", Address: "10.0.2.0/24"}, false},
		{"broadcast address", Config{Mode: "static", Address: "10.0.2.255/24"}, false},
		{"gateway off subnet", Config{Mode: "static", Address: "10.0.2.50/24", Gateway: "10.0.3.1"}, false},
		{"gateway is self", Config{Mode: "static", Address: "10.0.2.50/24", Gateway: "10.0.2.50"}, false},
		{"bad dns", Config{Mode: "static", Address: "10.0.2.50/24", DNS: []string{"dns.example"}}, false},
		{"bad hostname", Config{Hostname: "mm_1"}, false},
		{"hostname too long", Config{Hostname: string(make([]byte, 64))}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.cfg.Validate()
			if (err == nil) != tt.ok {
				t.Errorf("%+v.Validate() = %v; want ok=%v", tt.cfg, err, tt.ok)
			}
		})
	}
}

func TestDefaultHostname(t *testing.T) {
	mac, _ := net.ParseMAC("52:54:00:12:34:56")
	if got := DefaultHostname(mac); got != "multimeter-3456" {
		t.Errorf("DefaultHostname(%s) = %q; want multimeter-3456", mac, got)
	}
	if got := DefaultHostname(nil); got != "multimeter" {
		t.Errorf("DefaultHostname(nil) = %q; want multimeter", got)
	}
}

func TestLoadSave(t *testing.T) {
	path := filepath.Join(t.TempDir(), FileName)
	got, err := Load(path)
	if err != nil || !cmp.Equal(got, Config{}) {
		t.Fatalf("Load(missing) = %+v, %v; want the zero config", got, err)
	}
	want := Config{Mode: "static", Address: "10.0.2.50/24", Gateway: "10.0.2.2", DNS: []string{"10.0.2.3"}, Hostname: "lab"}
	if err := Save(path, want); err != nil {
		t.Fatalf("Save = %v", err)
	}
	got, err = Load(path)
	if err != nil {
		t.Fatalf("Load = %v", err)
	}
	if diff := cmp.Diff(want, got); diff != "" {
		t.Errorf("Load after Save mismatch (-want +got):\n%s", diff)
	}
	if err := Save(path, Config{Mode: "static"}); err == nil {
		t.Fatal("Save(invalid) = nil; want an error")
	}
	if got, _ := Load(path); !cmp.Equal(got, want) {
		t.Errorf("Load after rejected Save = %+v; want the old %+v", got, want)
	}
	os.WriteFile(path, []byte(`{"mode":"static","address":"10.0.2.50/24","netmask":"x"}`), 0o644)
	if _, err := Load(path); err == nil {
		t.Error("Load(unknown field) = nil; want an error")
	}
}

func FuzzParse(f *testing.F) {
	f.Add([]byte(`{"mode":"static","address":"10.0.2.50/24","gateway":"10.0.2.2","dns":["10.0.2.3"]}`))
	f.Add([]byte(`{"hostname":"x"}`))
	f.Add([]byte(`{}`))
	f.Fuzz(func(t *testing.T, data []byte) {
		c, err := Parse(data)
		if err != nil {
			return
		}
		if c.Mode == ModeStatic {
			if _, err := c.Static(); err != nil {
				t.Fatalf("Parse(%q) accepted a config whose Static() = %v", data, err)
			}
		}
	})
}
