package engine

import (
	"time"

	"golang.org/x/sys/unix"
)

// busyClock measures the time a shard spends processing as the CPU time
// of its thread (the shard locks its goroutine to one): time it waits
// for batches or for the store is not in it, and neither is time the
// system gave other processes, so a shard's load and the analyzer speed
// the benchmark derives from it are what the shard itself cost.
type busyClock struct{ base int64 }

func threadCPU() int64 {
	var ts unix.Timespec
	if err := unix.ClockGettime(unix.CLOCK_THREAD_CPUTIME_ID, &ts); err != nil {
		return 0
	}
	return ts.Nano()
}

// newBusyClock starts measuring on the calling thread.
func newBusyClock() busyClock { return busyClock{base: threadCPU()} }

// start is called before a batch; the thread's clock needs nothing.
func (c *busyClock) start() {}

// busy returns the processing time since newBusyClock.
func (c *busyClock) busy() time.Duration { return time.Duration(threadCPU() - c.base) }
