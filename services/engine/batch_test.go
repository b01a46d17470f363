package engine

import (
	"testing"
	"time"
)

func TestBatchPoolHandsOutTheBatchPutBackLast(t *testing.T) {
	p := newBatchPool(3)
	a, b := p.get(nil), p.get(nil)
	p.put(a)
	p.put(b)
	if got := p.get(nil); got != b {
		t.Fatal("the pool handed out an older batch than the one put back last")
	}
	stop := make(chan struct{})
	p.get(stop) // a
	p.get(stop) // the third
	close(stop)
	if got := p.get(stop); got != nil {
		t.Fatal("an empty pool returned a batch after stop")
	}
}

// TestBatchPoolTakesNoMoreThanItsSize: a dispatcher that stops makes a
// batch of its own, which comes back to the pool through the shard; the
// pool must not wait for room for it, or the shard hangs and with it the
// pipeline's shutdown (an upload stopped mid-stream hung this way).
func TestBatchPoolTakesNoMoreThanItsSize(t *testing.T) {
	p := newBatchPool(2)
	a, b := p.get(nil), p.get(nil)
	done := make(chan struct{})
	go func() {
		defer close(done)
		p.put(a)
		p.put(newBatch()) // made while stopping
		p.put(b)
	}()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("put of a batch beyond the pool's size waits forever")
	}
	if n := len(p.free); n != 2 {
		t.Fatalf("pool of 2 holds %d batches", n)
	}
	p.get(nil)
	p.get(nil) // both tokens are there
}
