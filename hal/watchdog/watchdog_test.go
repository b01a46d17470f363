package watchdog

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"testing"
	"time"
)

type fakeDev struct {
	timeout    time.Duration
	keepalives chan struct{}
	closed     bool
	timeoutErr error
}

func (d *fakeDev) SetTimeout(t time.Duration) error { d.timeout = t; return d.timeoutErr }
func (d *fakeDev) KeepAlive() error                 { d.keepalives <- struct{}{}; return nil }
func (d *fakeDev) MagicClose() error                { d.closed = true; return nil }

func TestFeeder(t *testing.T) {
	tests := []struct {
		name        string
		cfg         Config
		timeoutErr  error
		wantTimeout time.Duration
	}{
		{"defaults", Config{Interval: time.Millisecond}, nil, 30 * time.Second},
		{"custom timeout", Config{Timeout: 7 * time.Second, Interval: time.Millisecond}, nil, 7 * time.Second},
		{"fixed-timeout device", Config{Interval: time.Millisecond}, errors.New("EINVAL"), 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dev := &fakeDev{keepalives: make(chan struct{}), timeoutErr: tt.timeoutErr}
			f, err := New(dev, tt.cfg, slog.New(slog.NewTextHandler(io.Discard, nil)))
			if err != nil {
				t.Fatalf("New = %v", err)
			}
			if dev.timeout != tt.wantTimeout {
				t.Errorf("timeout set = %v; want %v", dev.timeout, tt.wantTimeout)
			}
			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error)
			go func() { done <- f.Run(ctx) }()
			for range 3 {
				<-dev.keepalives // the feeder keeps feeding
			}
			cancel()
			go func() {
				for range dev.keepalives {
				}
			}()
			if err := <-done; err != nil {
				t.Errorf("Run = %v; want nil after cancel", err)
			}
			if dev.closed {
				t.Error("Run disarmed the watchdog; only Disarm may")
			}
			if err := f.Disarm(); err != nil || !dev.closed {
				t.Errorf("Disarm = %v, closed=%v; want nil, true", err, dev.closed)
			}
			close(dev.keepalives)
		})
	}
}
