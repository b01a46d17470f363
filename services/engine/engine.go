// Package engine is an analysis instance: it takes packets from a capture
// source, decodes each once, dispatches it by a symmetric hash of its IP
// pair (or 5-tuple) to one of several analyzer shards, runs the analysis
// modules there, hands every analysed packet to the attached tap sinks
// (ring buffer, live captures) and merges each second's figures into the
// instance's statistics store.
//
//	e, err := engine.New(engine.Config{}, log)
//	detach := e.Attach(ringBuffer)
//	err = e.Run(ctx, source) // until ctx ends or a file is done
//	ip, ok := e.Stats().IP.Get(0, addr, stats.Query{})
//
// The shards own their tables and take no locks; they hand the store one
// delta per second (see DESIGN.md). Overload is never silent: a full shard
// queue drops whole batches and counts their packets per interface as not
// processed due to overload.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/multimeter-fw/multimeter/services/capture"
	"github.com/multimeter-fw/multimeter/services/tap"
)

// ErrRunning is returned by Run when the engine already runs.
var ErrRunning = errors.New("engine: already running")

// Engine is one analysis instance.
type Engine struct {
	log *slog.Logger

	mu        sync.Mutex
	cfg       Config
	running   bool
	restartCh chan restartReq
	src       capture.Source
	drops     map[uint16]*Overload
	sinkID    int
	finished  bool // the last Run ended because its source did
	// rerun tells Run's caller that a finished replay was rewound (Rerun).
	rerun chan struct{}

	done Processed // totals of finished pipelines

	stats      atomic.Pointer[Stats]
	sinks      atomic.Pointer[[]sinkEntry]
	pl         atomic.Pointer[pipeline]
	load       atomic.Pointer[Load]
	restarting atomic.Bool
}

type sinkEntry struct {
	id   int
	sink tap.Sink
}

type restartReq struct {
	old, cfg Config
	clear    bool
	done     chan struct{}
}

// New returns an idle engine with an empty store.
func New(cfg Config, log *slog.Logger) (*Engine, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	cfg = cfg.WithDefaults()
	e := &Engine{log: log, cfg: cfg, restartCh: make(chan restartReq, 1), rerun: make(chan struct{}, 1), drops: map[uint16]*Overload{}}
	e.stats.Store(newStats(cfg.Capacities, cfg.Stats))
	e.load.Store(&Load{})
	return e, nil
}

// Config returns the configuration (with defaults applied).
func (e *Engine) Config() Config {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.cfg
}

// Stats returns the statistics store. A restart that changes capacities
// or history replaces it: fetch it for every request.
func (e *Engine) Stats() *Stats { return e.stats.Load() }

// Running reports whether packets are being processed.
func (e *Engine) Running() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.running
}

// Finished reports whether the last run ended because its source ended
// (a replayed file was read completely).
func (e *Engine) Finished() bool {
	e.mu.Lock()
	defer e.mu.Unlock()
	return e.finished
}

// Restarting reports whether a processing restart is in progress.
func (e *Engine) Restarting() bool { return e.restarting.Load() }

// Attach adds a sink that receives every analysed packet from now on, on
// the shard goroutines. It takes effect without stopping processing; the
// returned function detaches it.
func (e *Engine) Attach(s tap.Sink) (detach func()) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.sinkID++
	id := e.sinkID
	var list []sinkEntry
	if cur := e.sinks.Load(); cur != nil {
		list = slices.Clone(*cur)
	}
	list = append(list, sinkEntry{id: id, sink: s})
	e.sinks.Store(&list)
	var once sync.Once
	return func() {
		once.Do(func() {
			e.mu.Lock()
			defer e.mu.Unlock()
			cur := *e.sinks.Load()
			next := slices.DeleteFunc(slices.Clone(cur), func(x sinkEntry) bool { return x.id == id })
			e.sinks.Store(&next)
		})
	}
}

// Run processes src until ctx is cancelled (nil: a clean stop) or the
// source ends (nil for a finished file). A restart in between stops the
// source and runs it again with the new configuration: a file goes on
// where it stopped, or starts over when the statistics do.
func (e *Engine) Run(ctx context.Context, src capture.Source) error {
	e.mu.Lock()
	if e.running {
		e.mu.Unlock()
		return ErrRunning
	}
	e.running, e.finished, e.src = true, false, src
	e.mu.Unlock()

	sampler, stopSampler := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() { e.sample(sampler) })
	defer func() {
		stopSampler()
		wg.Wait()
		// The last report would otherwise show the final second's work
		// for as long as the engine stays idle.
		e.load.Store(e.load.Load().idle(time.Now()))
	}()

	var restarted chan struct{} // a Restart waiting for processing to run again
	for {
		cfg := e.Config()
		pctx, cancel := context.WithCancel(ctx)
		pl := newPipeline(e, cfg, e.stats.Load(), src)
		e.pl.Store(pl)
		errc := make(chan error, 1)
		go func() { errc <- pl.run(pctx, src) }()
		e.restarting.Store(false)
		if restarted != nil {
			close(restarted)
			restarted = nil
		}
		e.log.Info("processing started", "shards", cfg.Shards, "level", cfg.level().String(), "wallClock", pl.wall, "lossless", pl.lossless)
		select {
		case err := <-errc:
			cancel()
			finished := ctx.Err() == nil && err == nil
			e.stop(finished)
			if err != nil && ctx.Err() == nil {
				return fmt.Errorf("engine: source: %w", err)
			}
			return nil
		case <-ctx.Done():
			cancel()
			<-errc
			e.stop(false)
			return nil
		case req := <-e.restartCh:
			e.restarting.Store(true)
			cancel()
			<-errc
			e.mu.Lock()
			e.retire(pl)
			if e.apply(req) {
				rewind(src)
			}
			e.mu.Unlock()
			restarted = req.done
		}
	}
}

// stop marks the engine idle and applies a restart that came too late
// for the loop.
func (e *Engine) stop(finished bool) {
	e.mu.Lock()
	defer e.mu.Unlock()
	e.running, e.finished = false, finished
	e.retire(e.pl.Load())
	e.pl.Store(nil)
	select {
	case req := <-e.restartCh:
		e.applyIdle(req)
		close(req.done)
	default:
	}
	e.restarting.Store(false)
}

// applyIdle applies a restart while nothing is processed. A finished
// replay whose statistics start over is rewound, and Rerun tells the
// caller of Run to run it again: the file is analysed with the new
// settings, where an empty instance would stay empty. e.mu is held.
func (e *Engine) applyIdle(req restartReq) {
	if e.apply(req) && e.finished && rewind(e.src) {
		select {
		case e.rerun <- struct{}{}:
		default: // one is pending already
		}
	}
}

// rewind makes src start over if it can, and reports whether it could.
func rewind(src capture.Source) bool {
	r, ok := src.(rewinder)
	if ok {
		r.Rewind()
	}
	return ok
}

// Rerun delivers when a restart that starts the statistics over has
// rewound the finished replay: Run it again to analyse it anew.
func (e *Engine) Rerun() <-chan struct{} { return e.rerun }

// Restart applies cfg and restarts processing (when running), clearing
// the statistics if clear is set, and returns once processing runs with
// cfg (Restarting is false again). Changing capacities or the history
// shape always starts a new, empty store.
func (e *Engine) Restart(cfg Config, clear bool) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg = cfg.WithDefaults()
	e.mu.Lock()
	req := restartReq{old: e.cfg, cfg: cfg, clear: clear, done: make(chan struct{})}
	e.cfg = cfg
	if !e.running {
		e.applyIdle(req)
		e.mu.Unlock()
		return nil
	}
	select {
	case e.restartCh <- req:
	default:
		e.cfg = req.old
		e.mu.Unlock()
		return errors.New("engine: a restart is already in progress")
	}
	e.restarting.Store(true)
	e.mu.Unlock()
	<-req.done
	return nil
}

// apply switches the store as a restart requires. The pipeline is
// stopped; e.mu is held. It reports whether the statistics start over.
func (e *Engine) apply(req restartReq) (cleared bool) {
	if !reflect.DeepEqual(req.old.Capacities, req.cfg.Capacities) || !reflect.DeepEqual(req.old.Stats, req.cfg.Stats) {
		e.stats.Store(newStats(req.cfg.Capacities, req.cfg.Stats))
		clear(e.drops)
		return true
	}
	if req.clear {
		st := e.stats.Load()
		st.Store.Lock()
		st.reset()
		st.Store.Unlock()
		clear(e.drops)
	}
	return req.clear
}

// Overload counts what an interface lost because the analyzers were
// overloaded.
type Overload struct {
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

func (e *Engine) countOverload(b *batch) {
	e.mu.Lock()
	defer e.mu.Unlock()
	for i := range b.n {
		p := &b.pkts[i]
		o := e.drops[p.Port]
		if o == nil {
			o = &Overload{}
			e.drops[p.Port] = o
		}
		o.Packets++
		o.Bytes += uint64(p.OrigLen)
	}
}

// Interface is what the engine and its source know about one monitor
// port besides its statistics (Stats().Interfaces).
type Interface struct {
	capture.PortInfo
	// NotProcessed counts packets dropped because the analyzers were
	// overloaded ("not processed due to overload").
	NotProcessed Overload `json:"notProcessedDueToOverload"`
}

// Interfaces returns the source's ports (when it reports them) and every
// port that lost packets to overload, by port.
func (e *Engine) Interfaces() []Interface {
	e.mu.Lock()
	src := e.src
	drops := make(map[uint16]Overload, len(e.drops))
	for p, o := range e.drops {
		drops[p] = *o
	}
	e.mu.Unlock()
	byPort := map[uint16]*Interface{}
	if pr, ok := src.(capture.PortReporter); ok {
		for _, pi := range pr.Ports() {
			byPort[pi.Port] = &Interface{PortInfo: pi}
		}
	}
	for p, o := range drops {
		it := byPort[p]
		if it == nil {
			it = &Interface{PortInfo: capture.PortInfo{Port: p, Partner: -1}}
			byPort[p] = it
		}
		it.NotProcessed = o
	}
	out := make([]Interface, 0, len(byPort))
	for _, it := range byPort {
		out = append(out, *it)
	}
	slices.SortFunc(out, func(a, b Interface) int { return int(a.Port) - int(b.Port) })
	return out
}

// Processed counts what the analyzer shards did since the engine was
// created.
type Processed struct {
	Packets uint64        `json:"packets"`
	Dropped uint64        `json:"dropped"` // not processed due to overload
	Busy    time.Duration `json:"busy"`    // CPU time the shards spent processing, summed
}

// Processed returns the totals of every run so far, the current one
// included.
func (e *Engine) Processed() Processed {
	e.mu.Lock()
	p := e.done
	e.mu.Unlock()
	if pl := e.pl.Load(); pl != nil {
		p.add(pl)
	}
	return p
}

func (p *Processed) add(pl *pipeline) {
	for _, s := range pl.shards {
		p.Packets += s.packets.Load()
		p.Dropped += s.dropped.Load()
		p.Busy += time.Duration(s.busyNs.Load())
	}
}

// retire adds a finished pipeline's counters to the totals; e.mu is held.
func (e *Engine) retire(pl *pipeline) {
	if pl != nil {
		e.done.add(pl)
	}
}

// ShardLoad is one analyzer shard's last second.
type ShardLoad struct {
	Shard         int     `json:"shard"`
	Load          float64 `json:"load"`          // share of the second spent processing (0..1)
	Packets       uint64  `json:"packets"`       // packets processed
	Dropped       uint64  `json:"dropped"`       // packets not processed due to overload
	QueueDepth    int     `json:"queueDepth"`    // packets waiting (in whole batches)
	QueueCapacity int     `json:"queueCapacity"` // packets the queue holds
}

// Load is the per-second load report of the analyzers.
type Load struct {
	Time   int64       `json:"time"` // wall clock, Unix seconds
	Shards []ShardLoad `json:"shards"`
}

// Load returns the last per-second load report.
func (e *Engine) Load() Load { return *e.load.Load() }

// idle is l for shards that stopped processing: the same shards and
// capacities, no work and nothing queued.
func (l *Load) idle(now time.Time) *Load {
	out := &Load{Time: now.Unix(), Shards: make([]ShardLoad, len(l.Shards))}
	for i, s := range l.Shards {
		out.Shards[i] = ShardLoad{Shard: s.Shard, QueueCapacity: s.QueueCapacity}
	}
	return out
}

type shardSample struct {
	busy           int64
	packets, drops uint64
}

// sample computes the load report once a second.
func (e *Engine) sample(ctx context.Context) {
	t := time.NewTicker(time.Second)
	defer t.Stop()
	var prev []shardSample
	var prevPl *pipeline
	last := time.Now()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-t.C:
			pl := e.pl.Load()
			if pl == nil {
				continue
			}
			if pl != prevPl {
				prev, prevPl = make([]shardSample, len(pl.shards)), pl
			}
			elapsed := float64(now.Sub(last).Nanoseconds())
			last = now
			l := &Load{Time: now.Unix()}
			for i, s := range pl.shards {
				cur := shardSample{busy: s.busyNs.Load(), packets: s.packets.Load(), drops: s.dropped.Load()}
				l.Shards = append(l.Shards, ShardLoad{
					Shard:         i,
					Load:          min(float64(cur.busy-prev[i].busy)/elapsed, 1),
					Packets:       cur.packets - prev[i].packets,
					Dropped:       cur.drops - prev[i].drops,
					QueueDepth:    len(s.q) * batchPackets,
					QueueCapacity: cap(s.q) * batchPackets,
				})
				prev[i] = cur
			}
			e.load.Store(l)
		}
	}
}
