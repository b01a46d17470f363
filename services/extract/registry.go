package extract

import (
	"context"
	"errors"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// Capture states.
const (
	StateRunning = "running"
	StateDone    = "done"
	StateStopped = "stopped"
	StateFailed  = "failed"
)

// CaptureInfo describes a running or recent capture.
type CaptureInfo struct {
	ID         uint64    `json:"id"`
	Expression string    `json:"expression"`
	Live       bool      `json:"live"`
	ToMedia    bool      `json:"captureToMedia"`
	FileName   string    `json:"fileName,omitempty"`
	State      string    `json:"state"`
	Error      string    `json:"error,omitempty"`
	Started    time.Time `json:"started"`
	Ended      time.Time `json:"ended,omitzero"`
	// Captured packets were written out; Dropped ones did not fit the live
	// queue; Ignored ones did not match (live captures).
	Captured uint64 `json:"captured"`
	Dropped  uint64 `json:"dropped"`
	Ignored  uint64 `json:"ignored"`
}

// recentCaptures is how many finished captures the registry remembers.
const recentCaptures = 50

// Registry lists running and recent captures and stops them.
type Registry struct {
	mu      sync.Mutex
	nextID  uint64
	running map[uint64]*entry
	recent  []CaptureInfo
}

type entry struct {
	info     CaptureInfo
	cancel   context.CancelFunc
	stopped  atomic.Bool
	counters func() (captured, dropped, ignored uint64)
}

// NewRegistry returns an empty registry.
func NewRegistry() *Registry { return &Registry{running: map[uint64]*entry{}} }

// add registers a running capture; counters reports its progress.
func (r *Registry) add(info CaptureInfo, cancel context.CancelFunc, counters func() (uint64, uint64, uint64)) *entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.nextID++
	info.ID = r.nextID
	info.State = StateRunning
	info.Started = time.Now()
	e := &entry{info: info, cancel: cancel, counters: counters}
	r.running[info.ID] = e
	return e
}

// done moves a capture to the recent list.
func (r *Registry) done(e *entry, fileName string, err error) CaptureInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	delete(r.running, e.info.ID)
	info := e.snapshot()
	info.Ended = time.Now()
	info.FileName = fileName
	switch {
	case e.stopped.Load():
		info.State = StateStopped
	case err != nil && !errors.Is(err, context.Canceled):
		info.State, info.Error = StateFailed, err.Error()
	default:
		info.State = StateDone
	}
	r.recent = append(r.recent, info)
	if len(r.recent) > recentCaptures {
		r.recent = slices.Delete(r.recent, 0, len(r.recent)-recentCaptures)
	}
	return info
}

func (e *entry) snapshot() CaptureInfo {
	info := e.info
	info.Captured, info.Dropped, info.Ignored = e.counters()
	return info
}

// List returns the running captures and then the recent ones, newest
// last.
func (r *Registry) List() []CaptureInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	out := []CaptureInfo{} // an empty list, not null, in JSON
	for _, e := range r.running {
		out = append(out, e.snapshot())
	}
	slices.SortFunc(out, func(a, b CaptureInfo) int { return int(a.ID) - int(b.ID) })
	return append(out, r.recent...)
}

// ErrNoCapture reports an unknown or finished capture id.
var ErrNoCapture = errors.New("extract: no such running capture")

// Stop ends a running capture; what it captured so far is kept.
func (r *Registry) Stop(id uint64) error {
	r.mu.Lock()
	e, ok := r.running[id]
	r.mu.Unlock()
	if !ok {
		return ErrNoCapture
	}
	e.stopped.Store(true)
	e.cancel()
	return nil
}
