// Package supervise keeps a service process running: it restarts the
// process whenever it exits, backing off while it keeps crashing soon
// after start (a crash loop), and stops it cleanly on shutdown.
//
//	s := supervise.Service{Name: "multimeterd", Path: "/bin/multimeterd", Args: args, Output: console}
//	err := s.Run(ctx, reaper, log) // returns after ctx is cancelled and the process stopped
package supervise

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"os/exec"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// Starter starts a command and reports its exit status; PID 1's reaper
// is one (see package reaper).
type Starter interface {
	Start(*exec.Cmd) (<-chan unix.WaitStatus, error)
}

// Service is one supervised process. Zero durations mean the defaults.
type Service struct {
	Name   string
	Path   string
	Args   []string
	Env    []string
	Output *os.File // stdout and stderr; nil discards
	// Setup, if set, adjusts each new command before it starts (for
	// example to give it a controlling terminal).
	Setup func(*exec.Cmd)

	// A run shorter than MinUptime counts as a crash and doubles the
	// delay before the next start, from FirstDelay up to MaxDelay.
	MinUptime  time.Duration // default 10 s
	FirstDelay time.Duration // default 1 s
	MaxDelay   time.Duration // default 30 s
	// StopSignal asks the process to stop (default SIGTERM);
	// StopTimeout is how long a stop waits for it before SIGKILL.
	StopSignal  unix.Signal
	StopTimeout time.Duration // default 10 s
}

func (s *Service) fillDefaults() {
	if s.MinUptime == 0 {
		s.MinUptime = 10 * time.Second
	}
	if s.FirstDelay == 0 {
		s.FirstDelay = time.Second
	}
	if s.MaxDelay == 0 {
		s.MaxDelay = 30 * time.Second
	}
	if s.StopSignal == 0 {
		s.StopSignal = unix.SIGTERM
	}
	if s.StopTimeout == 0 {
		s.StopTimeout = 10 * time.Second
	}
}

// Run starts the service and restarts it until ctx is cancelled; then it
// stops the process (its whole process group) and returns nil.
func (s Service) Run(ctx context.Context, starter Starter, log *slog.Logger) error {
	s.fillDefaults()
	delay := s.FirstDelay
	for runs := 1; ; runs++ {
		cmd := exec.Command(s.Path, s.Args...)
		cmd.Env = s.Env
		cmd.Stdout, cmd.Stderr = s.Output, s.Output
		// Its own process group, so stopping it reaches its children.
		cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true}
		if s.Setup != nil {
			s.Setup(cmd)
		}
		started := time.Now()
		exited, err := starter.Start(cmd)
		uptime := time.Duration(0)
		if err != nil {
			log.Error("start service", "service", s.Name, "err", err)
		} else {
			log.Info("service started", "service", s.Name, "pid", cmd.Process.Pid, "run", runs)
			select {
			case st := <-exited:
				uptime = time.Since(started)
				log.Warn("service exited", "service", s.Name, "pid", cmd.Process.Pid, "status", describe(st), "uptime", uptime.Round(time.Millisecond))
			case <-ctx.Done():
				s.stop(cmd.Process.Pid, exited, log)
				return nil
			}
		}
		var wait time.Duration
		wait, delay = s.backoff(delay, uptime)
		log.Info("restarting service", "service", s.Name, "in", wait)
		select {
		case <-ctx.Done():
			return nil
		case <-time.After(wait):
		}
	}
}

// backoff returns how long to wait before the next start after a run of
// the given uptime, and the delay to use after that. A run that lasted
// MinUptime resets the delay; a shorter one (a crash loop) doubles it.
func (s Service) backoff(delay, uptime time.Duration) (wait, next time.Duration) {
	if uptime >= s.MinUptime {
		return s.FirstDelay, min(2*s.FirstDelay, s.MaxDelay)
	}
	return delay, min(2*delay, s.MaxDelay)
}

// stop sends StopSignal to the process group and SIGKILL if it is still
// running after StopTimeout.
func (s Service) stop(pid int, exited <-chan unix.WaitStatus, log *slog.Logger) {
	unix.Kill(-pid, s.StopSignal)
	select {
	case st := <-exited:
		log.Info("service stopped", "service", s.Name, "status", describe(st))
	case <-time.After(s.StopTimeout):
		log.Warn("service did not stop; killing it", "service", s.Name, "timeout", s.StopTimeout)
		unix.Kill(-pid, unix.SIGKILL)
		<-exited
	}
}

func describe(st unix.WaitStatus) string {
	switch {
	case st.Exited():
		return fmt.Sprintf("exit %d", st.ExitStatus())
	case st.Signaled():
		return "killed by " + unix.SignalName(st.Signal())
	default:
		return fmt.Sprintf("status %#x", uint32(st))
	}
}
