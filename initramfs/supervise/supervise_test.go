package supervise

import (
	"context"
	"errors"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/multimeter-fw/multimeter/initramfs/reaper"
	"golang.org/x/sys/unix"
)

func discard() *slog.Logger { return slog.New(slog.NewTextHandler(io.Discard, nil)) }

func startReaper(t *testing.T) *reaper.Reaper {
	t.Helper()
	if err := unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0); err != nil {
		t.Skipf("PR_SET_CHILD_SUBREAPER: %v", err)
	}
	r := reaper.New()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- r.Run(ctx) }()
	t.Cleanup(func() { cancel(); <-done })
	return r
}

func TestBackoff(t *testing.T) {
	s := Service{MinUptime: 10 * time.Second, FirstDelay: time.Second, MaxDelay: 5 * time.Second}
	tests := []struct {
		delay, uptime, wantWait, wantNext time.Duration
	}{
		{time.Second, 0, time.Second, 2 * time.Second},
		{2 * time.Second, time.Second, 2 * time.Second, 4 * time.Second},
		{4 * time.Second, time.Second, 4 * time.Second, 5 * time.Second},
		{5 * time.Second, time.Second, 5 * time.Second, 5 * time.Second},
		{5 * time.Second, time.Minute, time.Second, 2 * time.Second},
	}
	for _, tt := range tests {
		wait, next := s.backoff(tt.delay, tt.uptime)
		if wait != tt.wantWait || next != tt.wantNext {
			t.Errorf("backoff(%v, %v) = %v, %v; want %v, %v", tt.delay, tt.uptime, wait, next, tt.wantWait, tt.wantNext)
		}
	}
}

func TestRestartsAfterExit(t *testing.T) {
	r := startReaper(t)
	runs := filepath.Join(t.TempDir(), "runs")
	s := Service{Name: "crasher", Path: "/bin/sh", Args: []string{"-c", "echo run >> " + runs + "; exit 1"},
		FirstDelay: time.Millisecond, MaxDelay: 4 * time.Millisecond}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx, r, discard()) }()
	for {
		data, _ := os.ReadFile(runs)
		if strings.Count(string(data), "run") >= 3 {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v; want nil after cancel", err)
	}
}

func TestStopEndsProcessGroup(t *testing.T) {
	r := startReaper(t)
	pidFile := filepath.Join(t.TempDir(), "pid")
	// The shell's child must go too: the stop signals the whole group.
	s := Service{Name: "sleeper", Path: "/bin/sh", Args: []string{"-c", "sleep 1000 & echo $! > " + pidFile + "; wait"}}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx, r, discard()) }()
	var child int
	for child == 0 {
		data, _ := os.ReadFile(pidFile)
		child, _ = strconv.Atoi(strings.TrimSpace(string(data)))
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v; want nil after cancel", err)
	}
	for {
		if _, err := os.Stat("/proc/" + strconv.Itoa(child)); errors.Is(err, os.ErrNotExist) {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestStopSignal(t *testing.T) {
	r := startReaper(t)
	ready := filepath.Join(t.TempDir(), "ready")
	// Like an interactive shell: deaf to SIGTERM, ends on a hangup. With
	// an hour's StopTimeout, only the stop signal can end it in time.
	s := Service{Name: "shell", Path: "/bin/sh", Args: []string{"-c", "trap '' TERM; touch " + ready + "; while :; do sleep 0.05; done"},
		StopSignal: unix.SIGHUP, StopTimeout: time.Hour}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- s.Run(ctx, r, discard()) }()
	for {
		if _, err := os.Stat(ready); err == nil {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run = %v; want nil after cancel", err)
	}
}
