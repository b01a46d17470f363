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
	src := &liveLike{}
	src.wait.Store(true)
	d, sh := fullQueue(t, src)
	sent := sendAsync(d)
	<-sh.q // the shard takes a batch: room for the waiting one
	<-sent
	if got := sh.dropped.Load(); got != 0 {
		t.Fatalf("dropped %d packets; want the batch queued once there was room", got)
	}
	if len(sh.q) != 1 {
		t.Fatalf("queue holds %d batches; want the one that waited", len(sh.q))
	}
}

func TestBridgeModeNeverWaitsForTheQueue(t *testing.T) {
	d, sh := fullQueue(t, &liveLike{}) // may not wait
	d.send(0)
	if got := sh.dropped.Load(); got != 1 {
		t.Fatalf("dropped %d packets; want the batch counted as overload at once", got)
	}
}

func TestAShardThatStaysFullIsGivenUpOn(t *testing.T) {
	src := &liveLike{}
	src.wait.Store(true)
	d, sh := fullQueue(t, src)
	d.send(0) // waits maxQueueWait, then counts the batch
	if got := sh.dropped.Load(); got != 1 {
		t.Fatalf("dropped %d packets; want the batch counted after the wait", got)
	}
	// Given up on: the next batch is counted without waiting again ...
	d.cur[0].n = 1
	d.send(0)
	if got := sh.dropped.Load(); got != 2 {
		t.Fatalf("dropped %d packets; want 2", got)
	}
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
	if got := sh.dropped.Load(); got != 2 {
		t.Fatalf("dropped %d packets; want the batch that waited queued", got)
	}
}

func TestASwitchToBridgeModeEndsTheWait(t *testing.T) {
	src := &liveLike{}
	src.wait.Store(true)
	d, sh := fullQueue(t, src)
	sent := sendAsync(d)
	src.wait.Store(false) // bridge mode: forwarding must not wait
	<-sent
	if got := sh.dropped.Load(); got != 1 {
		t.Fatalf("dropped %d packets; want the waiting batch counted once the source may not wait", got)
	}
	if d.gaveUp[0] {
		t.Fatal("given up on the shard; only the mode changed")
	}
}
