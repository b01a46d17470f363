package ratelimit

import (
	"strconv"
	"testing"
	"time"
)

type clock struct{ t time.Time }

func (c *clock) now() time.Time          { return c.t }
func (c *clock) advance(d time.Duration) { c.t = c.t.Add(d) }

func TestBucket(t *testing.T) {
	c := &clock{t: time.Unix(1700000000, 0)}
	l := New(Config{Burst: 3, Refill: 10 * time.Second, Now: c.now})
	for i := range 3 {
		if w := l.Wait("k"); w != 0 {
			t.Fatalf("after %d failures Wait = %v; want 0 (burst 3)", i, w)
		}
		l.Fail("k")
	}
	if w := l.Wait("k"); w != 10*time.Second {
		t.Errorf("after 3 failures Wait = %v; want 10s", w)
	}
	if w := l.Wait("other"); w != 0 {
		t.Errorf("Wait(other key) = %v; want 0: keys are independent", w)
	}
	c.advance(4 * time.Second)
	if w := l.Wait("k"); w != 6*time.Second {
		t.Errorf("4s later Wait = %v; want 6s", w)
	}
	c.advance(6 * time.Second)
	if w := l.Wait("k"); w != 0 {
		t.Errorf("10s later Wait = %v; want 0 (one attempt refilled)", w)
	}
	l.Fail("k")
	if w := l.Wait("k"); w != 10*time.Second {
		t.Errorf("after failing the refilled attempt Wait = %v; want 10s", w)
	}
	l.Reset("k")
	if w := l.Wait("k"); w != 0 {
		t.Errorf("after Reset Wait = %v; want 0", w)
	}
}

func TestKeysBounded(t *testing.T) {
	c := &clock{t: time.Unix(1700000000, 0)}
	l := New(Config{Burst: 2, Refill: time.Minute, MaxKeys: 100, Now: c.now})
	for i := range 1000 {
		l.Fail(strconv.Itoa(i))
	}
	if n := len(l.buckets); n > 100 {
		t.Errorf("after 1000 distinct keys the limiter holds %d; want at most 100", n)
	}
	// A key that is locked out stays locked out while others come and go.
	l.Fail("999")
	if w := l.Wait("999"); w == 0 {
		t.Errorf("Wait(999) after two failures = 0; want a wait")
	}
}
