// Package logring keeps the most recent log lines in memory, so the API
// can serve the daemon's structured logs while they also go to the
// console. A Ring is an io.Writer: put it behind a slog handler next to
// stderr.
//
//	ring := logring.New(2000)
//	log := slog.New(slog.NewJSONHandler(io.MultiWriter(os.Stderr, ring), nil))
//	for _, e := range ring.Entries(0) { ... e.Seq, e.Line ... }
package logring

import (
	"bytes"
	"sync"
)

// DefaultCapacity is the number of lines a New(0) ring keeps.
const DefaultCapacity = 1000

// Entry is one log line with its sequence number (the first line written
// is 1), so a reader can ask for what it has not seen yet.
type Entry struct {
	Seq  uint64 `json:"seq"`
	Line string `json:"line"`
}

// Ring is a fixed-size buffer of the last lines written; it is safe for
// concurrent use.
type Ring struct {
	mu      sync.Mutex
	entries []Entry // circular once full
	next    uint64  // sequence number of the next line
	partial []byte  // a line written without its newline yet
}

// New returns a ring keeping capacity lines (DefaultCapacity if <= 0).
func New(capacity int) *Ring {
	if capacity <= 0 {
		capacity = DefaultCapacity
	}
	return &Ring{entries: make([]Entry, 0, capacity), next: 1}
}

// Write adds each complete line of p; a trailing partial line waits for
// its newline.
func (r *Ring) Write(p []byte) (int, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	data := p
	for len(data) > 0 {
		i := bytes.IndexByte(data, '\n')
		if i < 0 {
			r.partial = append(r.partial, data...)
			break
		}
		line := data[:i]
		if len(r.partial) > 0 {
			line = append(r.partial, line...)
			r.partial = nil
		}
		r.add(string(line))
		data = data[i+1:]
	}
	return len(p), nil
}

func (r *Ring) add(line string) {
	e := Entry{Seq: r.next, Line: line}
	r.next++
	if len(r.entries) < cap(r.entries) {
		r.entries = append(r.entries, e)
		return
	}
	r.entries[(e.Seq-1)%uint64(cap(r.entries))] = e
}

// Entries returns the kept lines with a sequence number above after,
// oldest first.
func (r *Ring) Entries(after uint64) []Entry {
	r.mu.Lock()
	defer r.mu.Unlock()
	var out []Entry
	n := uint64(len(r.entries))
	first := r.next - n // sequence number of the oldest kept line
	for seq := max(first, after+1); seq < r.next; seq++ {
		out = append(out, r.entries[(seq-1)%uint64(cap(r.entries))])
	}
	return out
}
