//go:build !linux

package engine

import "time"

// busyClock measures the time a shard spends processing as the wall time
// of its batches where threads' CPU time is not at hand.
type busyClock struct {
	t0    time.Time
	total time.Duration
}

// start is called before work.
func (c *busyClock) start() { c.t0 = time.Now() }

// stop is called after it.
func (c *busyClock) stop() { c.total += time.Since(c.t0) }

// busy returns the processing time between starts and stops so far.
func (c *busyClock) busy() time.Duration { return c.total }
