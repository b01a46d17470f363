package ringbuf

import "sync"

// batchPool is the memory queue's free batches. It is a stack, not a
// FIFO: the batch freed last is handed out first, so at a sustained rate
// the same few batches cycle while their memory is still in the CPU
// caches, and their entry slices have already grown to size. The rest
// only absorb disk stalls.
type batchPool struct {
	mu    sync.Mutex
	free  []*batch
	avail chan struct{} // a token when a batch was put back (wakes a waiter)
}

func newBatchPool(n int) *batchPool {
	return &batchPool{free: make([]*batch, 0, n), avail: make(chan struct{}, 1)}
}

// get returns a free batch, or nil when there is none.
func (p *batchPool) get() *batch {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := len(p.free)
	if n == 0 {
		return nil
	}
	bt := p.free[n-1]
	p.free = p.free[:n-1]
	return bt
}

// put returns a batch to the pool.
func (p *batchPool) put(bt *batch) {
	p.mu.Lock()
	p.free = append(p.free, bt)
	p.mu.Unlock()
	p.signal()
}

func (p *batchPool) signal() {
	select {
	case p.avail <- struct{}{}:
	default:
	}
}

// wait returns a free batch, waiting for one until stop is closed (then
// nil).
func (p *batchPool) wait(stop <-chan struct{}) *batch {
	for {
		if bt := p.get(); bt != nil {
			// Puts may have coalesced into one token: pass it on if
			// batches are left, so that other waiters wake too.
			p.mu.Lock()
			left := len(p.free) > 0
			p.mu.Unlock()
			if left {
				p.signal()
			}
			return bt
		}
		select {
		case <-p.avail:
		case <-stop:
			return nil
		}
	}
}

// len returns the number of free batches.
func (p *batchPool) len() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	return len(p.free)
}
