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
	shards   []*shard
	media    *sip.Registry
	stop     chan struct{} // closed to abort blocked sends
}

// waiter is implemented by sources that may be slowed down instead of
// losing packets (files).
type waiter interface{ CanWait() bool }

// packetClocked is implemented by sources whose packets' timestamps are
// the instance's clock (replays).
type packetClocked interface{ PacketClock() bool }

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
	queue := cfg.QueuePackets
	if cfg.QueueOvercommit {
		queue *= 4
	}
	for i := range cfg.Shards {
		pl.shards = append(pl.shards, newShard(pl, i, max(queue/batchPackets, 1), deltasPerShard))
	}
	return pl
}

// run processes src until it ends or ctx is cancelled, then drains every
// queue into the store.
func (pl *pipeline) run(ctx context.Context, src capture.Source) error {
	var shards sync.WaitGroup
	for _, s := range pl.shards {
		shards.Go(s.run)
	}
	merged := make(chan struct{})
	go func() {
		pl.merge()
		close(merged)
	}()
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
	for _, s := range pl.shards {
		close(s.q)
	}
	shards.Wait()
	<-merged
	return err
}

// merge applies the shards' deltas to the store, one second at a time:
// second S is complete when every shard has sent its final delta of S (or
// already one of a later second).
func (pl *pipeline) merge() {
	n := len(pl.shards)
	heads := make([]*delta, n)
	done := make([]bool, n)
	st := pl.stats
	for {
		for i, s := range pl.shards {
			if heads[i] == nil && !done[i] {
				if d, ok := <-s.out; ok {
					heads[i] = d
				} else {
					done[i] = true
				}
			}
		}
		sec, found := int64(0), false
		for _, d := range heads {
			if d != nil && (!found || d.sec < sec) {
				sec, found = d.sec, true
			}
		}
		if !found {
			return
		}
		for i, s := range pl.shards {
			for heads[i] != nil && heads[i].sec == sec {
				d := heads[i]
				heads[i] = nil
				st.Store.Lock()
				st.merge(d)
				st.Store.Unlock()
				final := d.final
				d.reset()
				s.free <- d
				if final {
					break
				}
				if nd, ok := <-s.out; ok {
					heads[i] = nd
				} else {
					done[i] = true
				}
			}
		}
		st.Store.Lock()
		st.Store.Complete(sec)
		st.Store.Unlock()
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
