package analysis

import (
	"math"
	"time"
)

// Timing summarises response times (min, average, max, standard
// deviation) without keeping the samples.
type Timing struct {
	n        uint64
	min, max int64   // ns
	sum      float64 // µs
	sumSq    float64 // µs²
}

// Add records one response time in nanoseconds.
func (t *Timing) Add(ns int64) {
	ns = max(ns, 0)
	if t.n == 0 || ns < t.min {
		t.min = ns
	}
	t.max = max(t.max, ns)
	us := float64(ns) / 1e3
	t.sum += us
	t.sumSq += us * us
	t.n++
}

// Merge adds o's samples to t.
func (t *Timing) Merge(o *Timing) {
	if o.n == 0 {
		return
	}
	if t.n == 0 || o.min < t.min {
		t.min = o.min
	}
	t.max = max(t.max, o.max)
	t.sum += o.sum
	t.sumSq += o.sumSq
	t.n += o.n
}

// TimingSummary is what a Timing tells.
type TimingSummary struct {
	Count  uint64        `json:"count"`
	Min    time.Duration `json:"min"`
	Avg    time.Duration `json:"avg"`
	Max    time.Duration `json:"max"`
	StdDev time.Duration `json:"stddev"`
}

// Summary returns the figures (zero without samples).
func (t *Timing) Summary() TimingSummary {
	if t.n == 0 {
		return TimingSummary{}
	}
	n := float64(t.n)
	avg := t.sum / n
	variance := max(t.sumSq/n-avg*avg, 0)
	return TimingSummary{
		Count: t.n, Min: time.Duration(t.min), Avg: time.Duration(avg * 1e3),
		Max: time.Duration(t.max), StdDev: time.Duration(math.Sqrt(variance) * 1e3),
	}
}
