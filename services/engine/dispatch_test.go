package engine

import (
	"context"
	"sync/atomic"
	"testing"

	"github.com/multimeter-fw/multimeter/services/capture"
)

// liveLike is a source that is neither a file nor packet-clocked, and may
// or may not wait for the analysis (as live sources in sink or bridge
// mode).
type liveLike struct{ wait atomic.Bool }

func (s *liveLike) MayWaitForAnalysis() bool { return s.wait.Load() }
func (s *liveLike) Run(context.Context, func(int) capture.Handler) error {
	return nil
}

// fullQueue returns a dispatcher over one shard whose queue (one batch)
// is full; the shard does not run, the test takes batches itself.
func fullQueue(t *testing.T, src capture.Source) (*dispatcher, *shard) {
	t.Helper()
	e, err := New(Config{Shards: 1, QueuePackets: batchPackets}, nil)
	if err != nil {
		t.Fatal(err)
	}
	pl := newPipeline(e, e.Config(), e.Stats(), src)
	t.Cleanup(func() { close(pl.stop) })
	d := newDispatcher(pl, 0)
	sh := pl.shards[0]
	d.cur[0].n = 1
	d.send(0)
	if len(sh.q) != cap(sh.q) {
		t.Fatalf("queue holds %d of %d batches", len(sh.q), cap(sh.q))
	}
	d.cur[0].n = 1
	return d, sh
}

// sinkModeQueue is fullQueue with a source that may wait (sink mode).
func sinkModeQueue(t *testing.T) (*liveLike, *dispatcher, *shard) {
	t.Helper()
	src := &liveLike{}
	src.wait.Store(true)
	d, sh := fullQueue(t, src)
	return src, d, sh
}

// wantDropped fails unless the shard counted want packets as not
// processed.
func wantDropped(t *testing.T, sh *shard, want uint64, why string) {
	t.Helper()
	if got := sh.dropped.Load(); got != want {
		t.Fatalf("dropped %d packets; want %d: %s", got, want, why)
	}
}

// sendAsync sends shard 0's batch from another goroutine; the channel
// closes when send returns.
func sendAsync(d *dispatcher) <-chan struct{} {
	sent := make(chan struct{})
	go func() {
		d.send(0)
		close(sent)
	}()
	return sent
}

func TestSinkModeWaitsForRoomInTheQueue(t *testing.T) {
	_, d, sh := sinkModeQueue(t)
	sent := sendAsync(d)
	<-sh.q // the shard takes a batch: room for the waiting one
	<-sent
	wantDropped(t, sh, 0, "the batch queued once there was room")
	if len(sh.q) != 1 {
		t.Fatalf("queue holds %d batches; want the one that waited", len(sh.q))
	}
}

func TestBridgeModeNeverWaitsForTheQueue(t *testing.T) {
	d, sh := fullQueue(t, &liveLike{}) // may not wait
	d.send(0)
	wantDropped(t, sh, 1, "the batch counted as overload at once")
}

func TestAShardThatStaysFullIsGivenUpOn(t *testing.T) {
	_, d, sh := sinkModeQueue(t)
	d.send(0) // waits maxQueueWait, then counts the batch
	wantDropped(t, sh, 1, "the batch counted after the wait")
	// Given up on: the next batch is counted without waiting again ...
	d.cur[0].n = 1
	d.send(0)
	wantDropped(t, sh, 2, "the next batch counted without waiting again")
	// ... until a batch finds its queue half empty.
	<-sh.q
	d.cur[0].n = 1
	d.send(0)
	if d.gaveUp[0] {
		t.Fatal("still given up on after the queue drained")
	}
	d.cur[0].n = 1
	sent := sendAsync(d) // full again: waits, as before
	<-sh.q
	<-sent
	wantDropped(t, sh, 2, "the batch that waited queued")
}

func TestASwitchToBridgeModeEndsTheWait(t *testing.T) {
	src, d, sh := sinkModeQueue(t)
	sent := sendAsync(d)
	src.wait.Store(false) // bridge mode: forwarding must not wait
	<-sent
	wantDropped(t, sh, 1, "the waiting batch counted once the source may not wait")
	if d.gaveUp[0] {
		t.Fatal("given up on the shard; only the mode changed")
	}
}
