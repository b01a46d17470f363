package qemu

import (
	"context"
	"fmt"
	"io"
	"regexp"
	"sync"
)

// Console collects a VM's serial output and lets a caller wait for text
// to appear in it.
type Console struct {
	mu      sync.Mutex
	buf     []byte
	cursor  int           // Expect searches from here
	changed chan struct{} // closed and replaced on every write
	closed  bool
}

func newConsole() *Console {
	return &Console{changed: make(chan struct{})}
}

// Write appends serial output.
func (c *Console) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.buf = append(c.buf, p...)
	close(c.changed)
	c.changed = make(chan struct{})
	return len(p), nil
}

// close marks the end of output: the VM is gone.
func (c *Console) close() {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !c.closed {
		c.closed = true
		close(c.changed)
	}
}

// Expect waits until re matches the output after the previous match (or
// the start) and returns the match and its submatches; the next Expect
// searches after this match. It fails when ctx ends or the VM exits.
func (c *Console) Expect(ctx context.Context, re *regexp.Regexp) ([]string, error) {
	return c.wait(ctx, re, true)
}

// Find waits until re matches anywhere in the output, from the start,
// and returns the first match and its submatches; it does not move the
// position Expect searches from.
func (c *Console) Find(ctx context.Context, re *regexp.Regexp) ([]string, error) {
	return c.wait(ctx, re, false)
}

func (c *Console) wait(ctx context.Context, re *regexp.Regexp, advance bool) ([]string, error) {
	for {
		c.mu.Lock()
		from := 0
		if advance {
			from = c.cursor
		}
		loc := re.FindSubmatchIndex(c.buf[from:])
		if loc != nil {
			var m []string
			for i := 0; i < len(loc); i += 2 {
				if loc[i] < 0 {
					m = append(m, "")
					continue
				}
				m = append(m, string(c.buf[from+loc[i]:from+loc[i+1]]))
			}
			if advance {
				c.cursor = from + loc[1]
			}
			c.mu.Unlock()
			return m, nil
		}
		changed, closed := c.changed, c.closed
		c.mu.Unlock()
		if closed {
			return nil, fmt.Errorf("qemu: console closed before %q appeared", re)
		}
		select {
		case <-ctx.Done():
			return nil, fmt.Errorf("qemu: waiting for %q on the console: %w", re, ctx.Err())
		case <-changed:
		}
	}
}

// String returns all output so far.
func (c *Console) String() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return string(c.buf)
}

// pump copies r to the console and the extra writers until r ends.
func (c *Console) pump(r io.Reader, extra ...io.Writer) {
	defer c.close()
	w := io.MultiWriter(append([]io.Writer{c}, extra...)...)
	io.Copy(w, r)
}
