package engine

import (
	"testing"

	"github.com/multimeter-fw/multimeter/services/analysis"
)

// A shard hands its delta to the store early when the next batch might
// not fit (shard.batch). A fresh delta must hold a few batches, or every
// batch becomes a delta of its own and the store merges thousands a
// second.
func TestFreshDeltaHoldsSeveralBatches(t *testing.T) {
	per := Config{}.WithDefaults().Capacities.PerSecond
	for _, level := range []analysis.Level{analysis.LevelL2, analysis.LevelL3, analysis.LevelL4, analysis.LevelAll} {
		d := newDelta(level, per)
		if room := d.packetRoom(); room < 2*batchPackets {
			t.Errorf("level %v: a fresh delta has room for %d packets; want at least %d", level, room, 2*batchPackets)
		}
	}
}
