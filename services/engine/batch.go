package engine

import (
	"sync"

	"github.com/multimeter-fw/multimeter/services/decode"
)

// Batches carry packets from a dispatcher to a shard: the decoded packets
// and a copy of their frames, so the capture source can reuse its buffers
// at once. A shard's queue is a channel of batches, never of packets.
const (
	batchPackets = 256
	batchArena   = 256 << 10
)

type batch struct {
	n int
	// clock is the dispatcher's second when it sent the batch: it has
	// sent every packet of earlier seconds (by its clock) before.
	clock  int64
	pkts   [batchPackets]decode.Packet
	seqs   [batchPackets]uint64
	bad    [batchPackets]bool // decoding reported an error
	offs   [batchPackets + 1]uint32
	arena  []byte
	worker int
}

func newBatch() *batch { return &batch{arena: make([]byte, batchArena)} }

func (b *batch) reset() {
	b.n = 0
	b.offs[0] = 0
}

// fits reports whether a frame of n bytes fits.
func (b *batch) fits(n int) bool {
	return b.n < batchPackets && int(b.offs[b.n])+n <= len(b.arena)
}

func (b *batch) add(p *decode.Packet, frame []byte, seq uint64, bad bool) {
	b.pkts[b.n] = *p
	b.addFrame(frame, seq, bad)
}

// addFrame completes the packet decoded into pkts[n] with its frame.
func (b *batch) addFrame(frame []byte, seq uint64, bad bool) {
	i := b.n
	off := b.offs[i]
	copy(b.arena[off:], frame)
	b.seqs[i] = seq
	b.bad[i] = bad
	b.offs[i+1] = off + uint32(len(frame))
	b.n++
}

func (b *batch) frame(i int) []byte { return b.arena[b.offs[i]:b.offs[i+1]] }

// batchPool holds a shard's empty batches. It hands out the batch put
// back last, whose memory is most likely still in the caches: a queue
// order would cycle every batch of a large pool through them.
type batchPool struct {
	mu    sync.Mutex
	free  []*batch
	avail chan struct{} // one token per batch in free
}

func newBatchPool(n int) *batchPool {
	p := &batchPool{free: make([]*batch, 0, n), avail: make(chan struct{}, n)}
	for range n {
		p.put(newBatch())
	}
	return p
}

// put returns an empty batch. A batch beyond the pool's size (one a
// dispatcher made while the pipeline stopped, see dispatcher.send) is
// left to the garbage collector: taking it in would make a later put wait
// for a token that no get will ever free, and the shard with it.
func (p *batchPool) put(b *batch) {
	p.mu.Lock()
	if len(p.free) == cap(p.avail) {
		p.mu.Unlock()
		return
	}
	p.free = append(p.free, b)
	p.mu.Unlock()
	p.avail <- struct{}{} // tokens never outnumber free, so never waits
}

// get waits for an empty batch; it returns nil when stop is closed first.
func (p *batchPool) get(stop <-chan struct{}) *batch {
	select {
	case <-p.avail:
	case <-stop:
		return nil
	}
	p.mu.Lock()
	b := p.free[len(p.free)-1]
	p.free = p.free[:len(p.free)-1]
	p.mu.Unlock()
	return b
}
