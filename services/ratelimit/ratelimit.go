// Package ratelimit slows down password guessing: a token bucket per key
// (a client address, a user name) that failed attempts drain and time
// refills.
//
//	l := ratelimit.New(ratelimit.Config{Burst: 5, Refill: 30 * time.Second})
//	if wait := l.Wait(key); wait > 0 { ... 429, Retry-After: wait ... }
//	if !ok { l.Fail(key) } else { l.Reset(key) }
//
// Only failures cost tokens, so a client that knows its password is never
// slowed down by its own successes.
package ratelimit

import (
	"sync"
	"time"
)

// Config sets the bucket size and refill rate. Zero fields mean defaults.
type Config struct {
	Burst   int              // failures allowed in a row (default 5)
	Refill  time.Duration    // one failure is forgiven per Refill (default 30s)
	MaxKeys int              // keys tracked at once (default 10000)
	Now     func() time.Time // clock; time.Now by default
}

// Limiter is safe for concurrent use.
type Limiter struct {
	cfg Config

	mu      sync.Mutex
	buckets map[string]bucket
}

type bucket struct {
	tokens float64 // failures still allowed at time last
	last   time.Time
}

// New returns a Limiter.
func New(cfg Config) *Limiter {
	if cfg.Burst <= 0 {
		cfg.Burst = 5
	}
	if cfg.Refill <= 0 {
		cfg.Refill = 30 * time.Second
	}
	if cfg.MaxKeys <= 0 {
		cfg.MaxKeys = 10000
	}
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Limiter{cfg: cfg, buckets: make(map[string]bucket)}
}

// level returns the bucket's tokens now. Callers hold mu.
func (l *Limiter) level(key string, now time.Time) float64 {
	b, ok := l.buckets[key]
	if !ok {
		return float64(l.cfg.Burst)
	}
	refilled := b.tokens + float64(now.Sub(b.last))/float64(l.cfg.Refill)
	return min(refilled, float64(l.cfg.Burst))
}

// Wait returns how long key has to wait before its next attempt; zero
// means it may try now.
func (l *Limiter) Wait(key string) time.Duration {
	l.mu.Lock()
	defer l.mu.Unlock()
	tokens := l.level(key, l.cfg.Now())
	if tokens >= 1 {
		return 0
	}
	return time.Duration((1 - tokens) * float64(l.cfg.Refill))
}

// Fail records a failed attempt by key.
func (l *Limiter) Fail(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	now := l.cfg.Now()
	tokens := max(l.level(key, now)-1, 0)
	if _, ok := l.buckets[key]; !ok && len(l.buckets) >= l.cfg.MaxKeys {
		l.prune(now)
	}
	l.buckets[key] = bucket{tokens: tokens, last: now}
}

// Reset forgets key's failures, after it proved it knows the secret.
func (l *Limiter) Reset(key string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	delete(l.buckets, key)
}

// prune drops the buckets that have refilled, and if that is not enough
// the ones that are fullest, so memory stays bounded under a flood of
// distinct keys. Callers hold mu.
func (l *Limiter) prune(now time.Time) {
	fullest, fullestLevel := "", -1.0
	for k := range l.buckets {
		lv := l.level(k, now)
		if lv >= float64(l.cfg.Burst) {
			delete(l.buckets, k)
			continue
		}
		if lv > fullestLevel {
			fullest, fullestLevel = k, lv
		}
	}
	if len(l.buckets) >= l.cfg.MaxKeys {
		delete(l.buckets, fullest)
	}
}
