package engine

import (
	"time"

	"golang.org/x/sys/unix"
)

// busyClock measures the time a shard spends processing as the CPU time
// its thread spent on each batch: time it waits for batches or for the
// store is not in it, and neither is time the system gave other
// processes, so a shard's load and the analyzer speed the benchmark
// derives from it are what the shard itself cost.
//
// The shard's goroutine is not locked to a thread (handing a batch to a
// locked thread costs a thread wakeup each time), so the clock runs only
// between start and stop, around work that does not wait: while the
// goroutine waits its thread runs others. The runtime may still move it
// to another thread in the middle of a batch; the two readings then come
// from different clocks, so a batch's CPU time is kept between zero and
// the wall time it took (in make bench-analysis, 3 of 62,000 batches
// moved).
type busyClock struct {
	total time.Duration
	cpu0  int64
	t0    time.Time
}

func threadCPU() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return ts.Nano()
}

// start is called before work.
func (c *busyClock) start() {
	c.t0 = time.Now()
	c.cpu0 = threadCPU()
}

// stop is called after it.
func (c *busyClock) stop() {
	cpu := time.Duration(threadCPU() - c.cpu0)
	c.total += min(max(cpu, 0), time.Since(c.t0))
}

// busy returns the processing time between starts and stops so far.
func (c *busyClock) busy() time.Duration { return c.total }
