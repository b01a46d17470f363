package sysinfo

import (
	"testing"
	"time"

	"github.com/multimeter-fw/multimeter/services/version"
)

func TestInfo(t *testing.T) {
	now := time.Unix(1700000000, 0)
	src := New(Config{Model: "x310", Hostname: "mm-1", BootSlot: "b", Now: func() time.Time { return now }})
	now = now.Add(90*time.Second + 900*time.Millisecond)
	want := Info{Product: version.Product, Version: version.Version, Model: "x310", Hostname: "mm-1", UptimeSeconds: 90, BootSlot: "b"}
	if got := src.Info(); got != want {
		t.Errorf("Info() = %+v; want %+v", got, want)
	}
}
