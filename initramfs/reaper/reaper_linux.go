// Package reaper is PID 1's child reaper. Every process whose parent dies
// becomes a child of PID 1 and stays a zombie until PID 1 waits for it, so
// the reaper waits for any child on every SIGCHLD. Because it takes every
// exit status, processes the init starts itself must be started through
// Start, which hands their status back on a channel (exec.Cmd.Wait would
// find the status gone).
//
//	r := reaper.New()
//	go r.Run(ctx)
//	exited, err := r.Start(cmd)
//	status := <-exited
package reaper

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"os/signal"
	"sync"

	"golang.org/x/sys/unix"
)

// Reaper collects exit statuses. Its zero value is not usable; call New.
type Reaper struct {
	mu      sync.Mutex
	waiting map[int]chan unix.WaitStatus
}

// New returns a reaper; it does nothing until Run.
func New() *Reaper {
	return &Reaper{waiting: map[int]chan unix.WaitStatus{}}
}

// Run reaps children until ctx is cancelled.
func (r *Reaper) Run(ctx context.Context) error {
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, unix.SIGCHLD)
	defer signal.Stop(sig)
	for {
		r.reap()
		select {
		case <-ctx.Done():
			return nil
		case <-sig:
		}
	}
}

// reap waits for every child that has exited. It holds the lock so that a
// process Start is starting cannot be reaped before it is registered.
func (r *Reaper) reap() {
	r.mu.Lock()
	defer r.mu.Unlock()
	for {
		var status unix.WaitStatus
		pid, err := unix.Wait4(-1, &status, unix.WNOHANG, nil)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || pid <= 0 {
			return
		}
		if c, ok := r.waiting[pid]; ok {
			delete(r.waiting, pid)
			c <- status
		}
	}
}

// Start starts cmd and returns a channel that receives its exit status.
// cmd's Stdin, Stdout and Stderr must be nil or *os.File: Wait is never
// called, so nothing would copy other readers or writers.
func (r *Reaper) Start(cmd *exec.Cmd) (<-chan unix.WaitStatus, error) {
	for _, s := range []any{cmd.Stdin, cmd.Stdout, cmd.Stderr} {
		switch s.(type) {
		case nil, *os.File:
		default:
			return nil, errors.New("reaper: stdio of a reaped command must be *os.File")
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if err := cmd.Start(); err != nil {
		return nil, err
	}
	c := make(chan unix.WaitStatus, 1)
	r.waiting[cmd.Process.Pid] = c
	// The reaper, not os.Process, waits for the child: release the
	// process handle (its pidfd) now.
	pid := cmd.Process.Pid
	cmd.Process.Release()
	cmd.Process = &os.Process{Pid: pid}
	return c, nil
}
