package imagebuild

import (
	"context"
	"io"
	"log/slog"
	"strings"
	"testing"
)

func TestBuildRejectsBadConfig(t *testing.T) {
	tests := []struct {
		cfg  Config
		want string
	}{
		{Config{Profile: "fancy", CacheDir: t.TempDir()}, "profile"},
		{Config{Model: "x999", CacheDir: t.TempDir()}, "unknown"},
	}
	for _, tt := range tests {
		_, err := Build(context.Background(), tt.cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
		if err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("Build(%+v) = %v; want an error about %s", tt.cfg, err, tt.want)
		}
	}
}

func TestOSRelease(t *testing.T) {
	got := osRelease(Config{Profile: "debug", Model: "virtual", Version: "1.2.3"})
	for _, want := range []string{`NAME="Multimeter"`, "ID=multimeter", `VERSION_ID="1.2.3"`, `PRETTY_NAME="Multimeter 1.2.3 (virtual, debug)"`} {
		if !strings.Contains(got, want+"\n") {
			t.Errorf("osRelease = %q; want a line %s", got, want)
		}
	}
}
