package ringbuf

import (
	"sync"
	"testing"
)

// TestBatchPoolLIFO checks that the batch put back last is handed out
// first: the one whose memory is still in the caches.
func TestBatchPoolLIFO(t *testing.T) {
	p := newBatchPool(3)
	bs := []*batch{{dev: 0}, {dev: 1}, {dev: 2}}
	for _, bt := range bs {
		p.put(bt)
	}
	for i := len(bs) - 1; i >= 0; i-- {
		if got := p.get(); got != bs[i] {
			t.Fatalf("get() = batch %d; want batch %d", got.dev, i)
		}
	}
	if got := p.get(); got != nil {
		t.Errorf("get() on an empty pool = batch %d; want nil", got.dev)
	}
}

// TestBatchPoolWaiters puts batches back while several waiters wait: puts
// that coalesce into one wake-up must still wake every waiter.
func TestBatchPoolWaiters(t *testing.T) {
	const waiters = 8
	p := newBatchPool(waiters)
	stop := make(chan struct{})
	got := make(chan *batch, waiters)
	var wg sync.WaitGroup
	for range waiters {
		wg.Add(1)
		go func() {
			defer wg.Done()
			got <- p.wait(stop)
		}()
	}
	for i := range waiters {
		p.put(&batch{dev: i})
	}
	wg.Wait()
	close(got)
	seen := map[*batch]bool{}
	for bt := range got {
		if bt == nil || seen[bt] {
			t.Fatalf("wait() = %v; want a distinct batch for every waiter", bt)
		}
		seen[bt] = true
	}
	close(stop)
	if bt := p.wait(stop); bt != nil {
		t.Errorf("wait() after stop on an empty pool = batch %d; want nil", bt.dev)
	}
}
