package engine

import "testing"

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
