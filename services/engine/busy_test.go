package engine

import (
	"runtime"
	"testing"
	"time"

	"github.com/multimeter-fw/multimeter/tools/trafficgen"
)

// spin burns CPU for about d of wall time.
func spin(d time.Duration) (n uint64) {
	for end := time.Now().Add(d); time.Now().Before(end); {
		for i := range 1000 {
			n = n*31 + uint64(i)
		}
	}
	return n
}

func TestBusyClockCountsWorkNotWaiting(t *testing.T) {
	// Locked, so that the runtime cannot move the goroutine to another
	// thread between start and stop (the clock then clamps; see busyClock).
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var c busyClock
	var sink uint64
	start := time.Now()
	for range 5 {
		c.start()
		sink += spin(10 * time.Millisecond)
		c.stop()
		time.Sleep(20 * time.Millisecond) // waiting between batches
	}
	wall := time.Since(start)
	busy := c.busy()
	t.Logf("busy %v of %v wall (sink %d)", busy, wall, sink)
	// A shared machine may give the thread less than all of the 50 ms.
	if busy < 5*time.Millisecond {
		t.Fatalf("busy = %v after 50 ms of work", busy)
	}
	// The sleeps (100 ms) must not count: busy stays below the work's
	// wall time, which bounds every interval.
	if busy > 50*time.Millisecond+5*time.Millisecond {
		t.Fatalf("busy = %v counts more than the 50 ms of work (wall %v)", busy, wall)
	}
}

func TestShardBusyTimeIsReported(t *testing.T) {
	e, err := New(Config{Shards: 1, Clock: "packet"}, nil)
	if err != nil {
		t.Fatal(err)
	}
	src := newPushSource(genFrames(20000, trafficgen.Config{Seed: 3}), true)
	stop := runAsync(t, e, src)
	src.c <- span(0, 20000)
	close(src.c)
	waitFor(t, "20000 packets processed", func() bool { return e.Processed().Packets == 20000 })
	stop()
	if busy := e.Processed().Busy; busy <= 0 {
		t.Fatalf("Processed().Busy = %v after 20000 packets", busy)
	}
}
