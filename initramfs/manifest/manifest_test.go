package manifest

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/multimeter-fw/multimeter/hal/model"
)

func TestRead(t *testing.T) {
	prof, err := model.Lookup("virtual")
	if err != nil {
		t.Fatal(err)
	}
	good := Manifest{Product: "Multimeter", Version: "1.0", Profile: ProfileDebug, Model: prof, Daemon: "/bin/multimeterd", Shell: "/bbin/gosh",
		Modules: []string{"/lib/modules/x/virtio.ko"}}
	shellInProduction := good
	shellInProduction.Profile = ProfileProduction
	noDaemon := good
	noDaemon.Daemon = ""
	badProfile := good
	badProfile.Profile = "lab"
	tests := []struct {
		name    string
		m       Manifest
		wantErr string
	}{
		{"debug", good, ""},
		{"shell in production", shellInProduction, "shell"},
		{"no daemon", noDaemon, "daemon"},
		{"unknown profile", badProfile, "profile"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, _ := json.Marshal(tt.m)
			path := filepath.Join(t.TempDir(), "image.json")
			os.WriteFile(path, data, 0o644)
			got, err := Read(path)
			if tt.wantErr == "" {
				if err != nil || got.Model.Name != "virtual" || len(got.Modules) != 1 {
					t.Errorf("Read(%s) = %+v, %v", tt.name, got, err)
				}
				return
			}
			if err == nil || !strings.Contains(err.Error(), tt.wantErr) {
				t.Errorf("Read(%s) = %v; want an error about %s", tt.name, err, tt.wantErr)
			}
		})
	}
	if _, err := Read(filepath.Join(t.TempDir(), "missing.json")); err == nil {
		t.Error("Read(missing) = nil error")
	}
}
