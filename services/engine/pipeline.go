package engine

import (
	"context"
	"sync"

	"github.com/multimeter-fw/multimeter/services/analysis/sip"
	"github.com/multimeter-fw/multimeter/services/capture"
	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/tap"
)

// pipeline is one run of the processing: dispatchers, shards and the
// store's merge goroutine, built from one Config. A restart tears it down
// and builds the next.
type pipeline struct {
	e        *Engine
	cfg      Config
	stats    *Stats
	wall     bool // wall clock (live) rather than the packets' clock
	lossless bool // the source can wait: full queues block instead of dropping
	// mayWait, when set, tells whether a live source may wait for room in
	// a full shard queue (see analysisWaiter); nil when it never may.
	mayWait func() bool
	shards  []*shard
	out     chan *delta // from every shard to the merge goroutine
	media   *sip.Registry
	stop    chan struct{} // closed to abort blocked sends
}

// waiter is implemented by sources that may be slowed down instead of
// losing packets (files).
type waiter interface{ CanWait() bool }

// analysisWaiter is implemented by live sources that may wait a little for
// room in a full shard queue rather than lose a batch, their capture ring
// holding the frames meanwhile (dispatcher.waitForRoom). It may change at
// run time (sink and bridge mode).
type analysisWaiter interface{ MayWaitForAnalysis() bool }

// packetClocked is implemented by sources whose packets' timestamps are
// the instance's clock (replays).
type packetClocked interface{ PacketClock() bool }

// rewinder is implemented by sources that can start over (files). A
// restart that starts the statistics over rewinds them, so the capture is
// analysed again from its start; any other restart goes on where the
// source stopped, so that no packet is counted twice.
type rewinder interface{ Rewind() }

// losslessQueuePackets bounds the queue of a source that can wait.
const losslessQueuePackets = 2048

// deltasPerShard is how many seconds (or parts) a shard may be ahead of
// the store's merge.
const deltasPerShard = 4

func newPipeline(e *Engine, cfg Config, st *Stats, src capture.Source) *pipeline {
	pl := &pipeline{e: e, cfg: cfg, stats: st, stop: make(chan struct{}), media: sip.NewRegistry(1 << 16)}
	switch cfg.Clock {
	case "wall":
		pl.wall = true
	case "packet":
	default:
		pc, ok := src.(packetClocked)
		pl.wall = !ok || !pc.PacketClock()
	}
	if w, ok := src.(waiter); ok {
		pl.lossless = w.CanWait()
	}
	if w, ok := src.(analysisWaiter); ok {
		pl.mayWait = w.MayWaitForAnalysis
	}
	queue := cfg.QueuePackets
	if cfg.QueueOvercommit {
		queue *= 4
	}
	if pl.lossless {
		// A source that waits for room needs no more queue than keeps
		// the shard busy; a longer one, always full, only cycles more
		// batches through the caches: a batch read by the shard should
		// still be in them from the I/O worker writing it (8% more CPU
		// at 65,536 packets, 3 to 9% at 16,384; at 512 the I/O worker
		// waits too often and the wall time grows).
		queue = min(queue, losslessQueuePackets)
	}
	pl.out = make(chan *delta, cfg.Shards*deltasPerShard)
	for i := range cfg.Shards {
		pl.shards = append(pl.shards, newShard(pl, i, max(queue/batchPackets, 1), deltasPerShard))
	}
	return pl
}

// run processes src until it ends or ctx is cancelled, then drains every
// queue into the store.
func (pl *pipeline) run(ctx context.Context, src capture.Source) error {
	wait := pl.start()
	finished := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			close(pl.stop)
		case <-finished:
		}
	}()
	var mu sync.Mutex
	var dispatchers []*dispatcher
	err := src.Run(ctx, func(worker int) capture.Handler {
		d := newDispatcher(pl, worker)
		mu.Lock()
		dispatchers = append(dispatchers, d)
		mu.Unlock()
		return d
	})
	close(finished)
	// The workers are gone: their batches are ours to send.
	for _, d := range dispatchers {
		d.Flush()
	}
	wait()
	return err
}

// start runs the shards and the merge goroutine; the returned function
// closes the shard queues (no dispatcher may send any more) and waits
// until everything is merged.
func (pl *pipeline) start() (wait func()) {
	var shards sync.WaitGroup
	for _, s := range pl.shards {
		shards.Go(s.run)
	}
	merged := make(chan struct{})
	go func() {
		pl.merge()
		close(merged)
	}()
	return func() {
		for _, s := range pl.shards {
			close(s.q)
		}
		shards.Wait()
		close(pl.out)
		<-merged
	}
}

// merge applies the shards' deltas to the store as they come, and
// completes a second once every shard has sent its final delta of it (or
// of a later second). It never waits for one shard while another has
// deltas, so a shard whose clock lags cannot stall the others.
func (pl *pipeline) merge() {
	n := len(pl.shards)
	last := make([]int64, n) // last second each shard finished
	finished := make([]bool, n)
	st := pl.stats
	completed, haveCompleted := int64(0), false
	for d := range pl.out {
		st.Store.Lock()
		st.merge(d)
		st.Store.Unlock()
		i, sec, final := d.shard, d.sec, d.final
		d.reset()
		pl.shards[i].free <- d
		if !final {
			continue
		}
		last[i], finished[i] = sec, true
		lo, all := sec, true
		for j := range n {
			if !finished[j] {
				all = false
				break
			}
			lo = min(lo, last[j])
		}
		if all && (!haveCompleted || lo > completed) {
			st.Store.Complete(lo)
			completed, haveCompleted = lo, true
		}
	}
	// Every shard is done: what is left is complete too (shards that never
	// saw a packet sent no final).
	hi, any := int64(0), false
	for j := range n {
		if finished[j] && (!any || last[j] > hi) {
			hi, any = last[j], true
		}
	}
	if any && (!haveCompleted || hi > completed) {
		st.Store.Complete(hi)
	}
}

// emit hands an analysed packet to the attached sinks.
func (pl *pipeline) emit(shard int, p *decode.Packet, frame []byte, m *tap.Meta) {
	sinks := pl.e.sinks.Load()
	if sinks == nil {
		return
	}
	for _, s := range *sinks {
		s.sink.Packet(shard, p, frame, m)
	}
}

// overload counts a batch the shard's queue had no room for.
func (pl *pipeline) overload(sh *shard, b *batch) {
	sh.dropped.Add(uint64(b.n))
	pl.e.countOverload(b)
}
