// Package stats is the statistics store of one analysis instance: every
// entity (interface, MAC, IP, connection, port, protocol, ...) with its
// traffic counters since the start, its per-second history for a recent
// window and coarser history for older data, within a memory budget.
//
// The analyzer shards never write here directly. Each shard accumulates
// one second of deltas and hands them on; one merge goroutine applies them
// with Series.Add under the store's write lock, a few thousand at a time,
// and then completes the second with Store.Complete. Readers query under
// the read lock, so neither side stalls the other for long, and the
// shards never wait for readers at all.
//
//	st := stats.New(stats.Config{})
//	ips := stats.NewSeries[ipKey, ipAttr](st, "ip", 1<<20)
//	// merge goroutine:
//	st.Lock()
//	attr := ips.Add(sec, key, stats.Counters{TxPackets: 1, TxBytes: 60})
//	st.Unlock()
//	st.Complete(sec)
//	// readers:
//	e, ok := ips.Get(key, stats.Query{})
//	top, total := ips.List(stats.ListQuery{Sort: stats.SortBps, Reverse: true, Count: 10})
//
// Time is whatever clock the instance runs on (the wall clock live, the
// packets' clock in a replay), in Unix seconds. The last complete second
// (Now) is what "last second" means. An interval whose ends fall inside
// buckets of coarser history is rounded out to cover them whole (its
// counters, per-second average, sort order and datasets alike): a 10 s
// bucket cannot say which of its seconds a packet was in.
//
// Counters are [rxPackets, rxBytes, txPackets, txBytes] from the entity's
// point of view: tx is what it sent, rx what it received; entities that are
// not endpoints (a VLAN, a protocol) count what they carried as rx.
package stats

import (
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
)

// Counters are an entity's traffic counters. Bytes are original frame
// lengths on the wire without FCS.
type Counters struct {
	RxPackets, RxBytes, TxPackets, TxBytes uint64
}

// Add adds o to c.
func (c *Counters) Add(o Counters) {
	c.RxPackets += o.RxPackets
	c.RxBytes += o.RxBytes
	c.TxPackets += o.TxPackets
	c.TxBytes += o.TxBytes
}

// Swap returns c seen from the other end: rx and tx exchanged.
func (c Counters) Swap() Counters {
	return Counters{RxPackets: c.TxPackets, RxBytes: c.TxBytes, TxPackets: c.RxPackets, TxBytes: c.RxBytes}
}

// Packets is rx plus tx packets.
func (c Counters) Packets() uint64 { return c.RxPackets + c.TxPackets }

// Bytes is rx plus tx bytes.
func (c Counters) Bytes() uint64 { return c.RxBytes + c.TxBytes }

// IsZero reports whether nothing was counted.
func (c Counters) IsZero() bool { return c == Counters{} }

// Array is the REST form [rxPackets, rxBytes, txPackets, txBytes].
func (c Counters) Array() [4]uint64 { return [4]uint64{c.RxPackets, c.RxBytes, c.TxPackets, c.TxBytes} }

// Div returns c divided by n (rounded down), the per-second average over
// n seconds.
func (c Counters) Div(n int64) Counters {
	if n <= 1 {
		return c
	}
	d := uint64(n)
	return Counters{c.RxPackets / d, c.RxBytes / d, c.TxPackets / d, c.TxBytes / d}
}

// Level is one step of coarser history: data older than the finer levels
// is kept at Step seconds resolution for Keep seconds.
type Level struct {
	StepSeconds int64 `json:"stepSeconds"`
	KeepSeconds int64 `json:"keepSeconds"`
}

// Config shapes the history. The zero value means the defaults.
type Config struct {
	// RecentSeconds of per-second history; default 600 (10 minutes).
	RecentSeconds int64 `json:"recentSeconds,omitempty"`
	// Levels of coarser history after the recent window, each step a
	// multiple of the previous one, each kept until data is KeepSeconds
	// old; default 10 s up to an hour, 60 s up to a day, 10 min up to 30
	// days.
	Levels []Level `json:"levels,omitempty"`
	// HistoryBytes bounds the memory of all history records; the oldest
	// history is dropped first when it is reached. Default 256 MiB.
	HistoryBytes int64 `json:"historyBytes,omitempty"`
}

// Defaults.
const (
	DefaultRecentSeconds = 600
	DefaultHistoryBytes  = 256 << 20
)

// DefaultLevels are the coarser history levels when none are configured.
func DefaultLevels() []Level {
	return []Level{{10, 3600}, {60, 24 * 3600}, {600, 30 * 24 * 3600}}
}

// WithDefaults returns c with its zero fields set to the defaults.
func (c Config) WithDefaults() Config {
	if c.RecentSeconds == 0 {
		c.RecentSeconds = DefaultRecentSeconds
	}
	if c.Levels == nil {
		c.Levels = DefaultLevels()
	}
	if c.HistoryBytes == 0 {
		c.HistoryBytes = DefaultHistoryBytes
	}
	return c
}

// Validate reports the first mistake in c (after defaults).
func (c Config) Validate() error {
	c = c.WithDefaults()
	if c.RecentSeconds < 2 || c.RecentSeconds > 24*3600 {
		return fmt.Errorf("stats: recentSeconds %d out of range [2, 86400]", c.RecentSeconds)
	}
	prevStep, prevKeep := int64(1), c.RecentSeconds
	for i, l := range c.Levels {
		if l.StepSeconds <= prevStep || l.StepSeconds%prevStep != 0 {
			return fmt.Errorf("stats: level %d: step %d s must be a multiple of the previous step %d s and larger", i, l.StepSeconds, prevStep)
		}
		// A coarse step must not age out before all its finer steps arrived.
		if l.KeepSeconds < prevKeep+l.StepSeconds {
			return fmt.Errorf("stats: level %d: keep %d s must be at least the previous level's %d s plus its step %d s", i, l.KeepSeconds, prevKeep, l.StepSeconds)
		}
		prevStep, prevKeep = l.StepSeconds, l.KeepSeconds
	}
	if c.HistoryBytes < 1<<20 {
		return errors.New("stats: historyBytes must be at least 1 MiB")
	}
	return nil
}

// Store holds the series of one analysis instance and their shared clock.
type Store struct {
	mu     sync.RWMutex
	cfg    Config
	series []seriesHistory
	pool   pools

	now     int64 // last complete second; 0 before the first
	first   int64 // first second ever completed
	pending int   // Adds since the last yield to readers

	histBytes atomic.Int64 // bytes held by history records (buckets and pool)
	dropped   uint64
	radix     [1 << 16]int32 // counts for sorting a second's records
}

// seriesHistory is what the store needs of each series to complete,
// age and trim history.
type seriesHistory interface {
	prepare(sec int64)
	apply()
	recycle()
	oldest() (t int64, ok bool)
	dropOldest(t int64)
	reset()
	stats() TableStats
}

// New returns an empty store. cfg must be valid.
func New(cfg Config) *Store {
	return &Store{cfg: cfg.WithDefaults()}
}

// Config returns the store's configuration with defaults applied.
func (s *Store) Config() Config { return s.cfg }

// Lock takes the write lock for merging.
func (s *Store) Lock() { s.mu.Lock() }

// Unlock releases the write lock.
func (s *Store) Unlock() { s.mu.Unlock() }

// RLock takes the read lock, for callers reading several series at one
// point in time. The query methods take it themselves.
func (s *Store) RLock() { s.mu.RLock() }

// RUnlock releases the read lock.
func (s *Store) RUnlock() { s.mu.RUnlock() }

// yieldEvery is how many Adds the merge does before letting waiting readers
// in: about a fraction of a millisecond of work.
const yieldEvery = 512

// maybeYield briefly releases the write lock so that readers never wait
// for a whole second's merge. Called with the write lock held.
func (s *Store) maybeYield() {
	s.pending++
	if s.pending < yieldEvery {
		return
	}
	s.pending = 0
	s.mu.Unlock()
	s.mu.Lock()
}

// Now is the last complete second (0 before any).
func (s *Store) Now() int64 {
	s.mu.RLock()
	defer s.mu.RUnlock()
	return s.now
}

// Complete marks second sec complete: every delta of it has been added.
// Its history becomes visible, old history is folded into coarser levels
// and trimmed to the budget. Called by the merging goroutine without the
// lock (it takes it only to publish the result), with increasing seconds.
func (s *Store) Complete(sec int64) {
	if sec <= s.now {
		return
	}
	for _, sr := range s.series {
		sr.prepare(sec)
	}
	s.mu.Lock()
	for _, sr := range s.series {
		sr.apply()
	}
	if s.first == 0 {
		s.first = sec
	}
	s.now = sec
	s.trim()
	s.mu.Unlock()
	for _, sr := range s.series {
		sr.recycle()
	}
	s.pool.trim(s)
}

// trim drops the oldest history, across all series, until the records fit
// the budget.
func (s *Store) trim() {
	for {
		s.pool.trim(s)
		if s.histBytes.Load() <= s.cfg.HistoryBytes {
			return
		}
		oldest, found := int64(0), false
		for _, sr := range s.series {
			if t, ok := sr.oldest(); ok && (!found || t < oldest) {
				oldest, found = t, true
			}
		}
		if !found {
			return
		}
		for _, sr := range s.series {
			sr.dropOldest(oldest)
		}
		s.dropped++
	}
}

// Reset clears every series and the clock (statistics reset). Called with
// the write lock held.
func (s *Store) Reset() {
	for _, sr := range s.series {
		sr.reset()
	}
	s.pool.free(s)
	s.now, s.first, s.pending = 0, 0, 0
}

// TableStats are the fill and eviction counters of one series.
type TableStats struct {
	Name      string `json:"name"`
	Entries   int    `json:"entries"`
	Capacity  int    `json:"capacity"`
	Inserts   uint64 `json:"inserts"`
	Evictions uint64 `json:"evictions"`
	Records   int    `json:"historyRecords"`
	Bytes     int64  `json:"tableBytes"` // memory of the entity table at full capacity
}

// Usage is the store's global memory and table counters.
type Usage struct {
	Now              int64        `json:"now"`
	First            int64        `json:"first"`
	HistoryBytes     int64        `json:"historyBytes"`
	HistoryBudget    int64        `json:"historyBudget"`
	HistoryDrops     uint64       `json:"historyDrops"` // oldest history steps dropped for the budget
	Tables           []TableStats `json:"tables"`
	EntityTableBytes int64        `json:"entityTableBytes"`
}

// Usage reports fill, capacity and evictions of every series and the
// history memory.
func (s *Store) Usage() Usage {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u := Usage{Now: s.now, First: s.first, HistoryBytes: s.histBytes.Load(), HistoryBudget: s.cfg.HistoryBytes, HistoryDrops: s.dropped}
	for _, sr := range s.series {
		ts := sr.stats()
		u.Tables = append(u.Tables, ts)
		u.EntityTableBytes += ts.Bytes
	}
	return u
}
