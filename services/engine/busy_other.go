//go:build !linux

package engine

import "time"

// busyClock measures the time a shard spends processing as the wall time
// of its batches where threads' CPU time is not at hand.
type busyClock struct {
	t0    time.Time
	total time.Duration
}

func newBusyClock() busyClock { return busyClock{} }

// start is called before a batch.
func (c *busyClock) start() { c.t0 = time.Now() }

// busy returns the processing time so far, the batch since start included.
func (c *busyClock) busy() time.Duration {
	c.total += time.Since(c.t0)
	return c.total
}
