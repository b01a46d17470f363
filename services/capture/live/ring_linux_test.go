package live

import (
	"os"
	"testing"
)

// TestOpenFailureReleases opens rings on an interface index that does not
// exist: the error names the step and the half-built ring is released.
func TestOpenFailureReleases(t *testing.T) {
	if os.Geteuid() != 0 {
		if os.Getenv("CI") == "true" {
			t.Fatal("packet socket tests need root, and CI=true")
		}
		t.Skip("skipping: packet socket tests need root (CI=true makes this a failure)")
	}
	const noSuchIfindex = 1 << 30
	if r, _, err := openRX(noSuchIfindex, Config{BlockSize: 4096, BlockCount: 2}.withDefaults(), -1); err == nil {
		r.close()
		t.Errorf("openRX(ifindex %d) = nil error; want bind to fail", noSuchIfindex)
	}
	if tx, err := openTX(noSuchIfindex, 1500, 64); err == nil {
		tx.close()
		t.Errorf("openTX(ifindex %d) = nil error; want bind to fail", noSuchIfindex)
	}
}
