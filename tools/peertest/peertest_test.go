package peertest

import "testing"

func TestNeedSkipsOutsideCI(t *testing.T) {
	t.Setenv("CI", "")
	var skipped bool
	t.Run("missing tool", func(t *testing.T) {
		defer func() { skipped = t.Skipped() }()
		Need(t, "no-such-peer-tool")
	})
	if !skipped {
		t.Fatal("a missing tool did not skip the test")
	}
}
