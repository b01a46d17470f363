package model

import (
	"strings"
	"testing"
)

func TestProfilesValid(t *testing.T) {
	names := Names()
	if len(names) == 0 {
		t.Fatal("Names() = []; want at least the virtual edition")
	}
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			p, err := Lookup(name)
			if err != nil {
				t.Fatalf("Lookup(%q) = %v", name, err)
			}
			if p.Name != name {
				t.Errorf("Lookup(%q).Name = %q; want the file name", name, p.Name)
			}
		})
	}
}

func TestLookupUnknown(t *testing.T) {
	for _, name := range []string{"x999", "../model", "", "virtual.json"} {
		if _, err := Lookup(name); err == nil || !strings.Contains(err.Error(), "unknown") {
			t.Errorf("Lookup(%q) = %v; want an unknown-model error", name, err)
		}
	}
}

func TestParseRejects(t *testing.T) {
	tests := map[string]string{
		"unknown field": `{"name":"x","title":"X","managementInterface":"eth0","console":"ttyS0","colour":"red"}`,
		"no title":      `{"name":"x","managementInterface":"eth0","console":"ttyS0"}`,
		"bad name":      `{"name":"a b","title":"X","managementInterface":"eth0","console":"ttyS0"}`,
		"module twice":  `{"name":"x","title":"X","managementInterface":"eth0","console":"ttyS0","modules":["e1000","e1000"]}`,
		"no mgmt port":  `{"name":"x","title":"X","console":"ttyS0"}`,
		"not json":      `name: x`,
	}
	for name, in := range tests {
		t.Run(name, func(t *testing.T) {
			if _, err := Parse([]byte(in)); err == nil {
				t.Errorf("Parse(%s) = nil error; want an error", in)
			}
		})
	}
}
