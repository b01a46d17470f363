// Package watchdog keeps the hardware watchdog fed while the system is
// healthy, so a hung kernel or init resets the machine (and the
// bootloader's boot counter can roll a bad update back).
//
//	f, err := watchdog.Open(watchdog.Config{Path: "/dev/watchdog0"}, log)
//	go f.Run(ctx)
//	...
//	f.Disarm() // just before a clean reboot or poweroff
package watchdog

import (
	"context"
	"fmt"
	"log/slog"
	"time"
)

// Device is the part of a watchdog driver the feeder uses.
type Device interface {
	SetTimeout(time.Duration) error
	KeepAlive() error
	MagicClose() error
}

// Config chooses the device and its timeout. Zero values mean
// /dev/watchdog, 30 s and feeding every third of the timeout.
type Config struct {
	Path     string
	Timeout  time.Duration
	Interval time.Duration
}

func (c *Config) fillDefaults() {
	if c.Path == "" {
		c.Path = "/dev/watchdog"
	}
	if c.Timeout == 0 {
		c.Timeout = 30 * time.Second
	}
	if c.Interval == 0 {
		c.Interval = c.Timeout / 3
	}
}

// Feeder feeds one watchdog device.
type Feeder struct {
	dev Device
	cfg Config
	log *slog.Logger
}

// Open opens the watchdog device (which arms it) and sets its timeout.
func Open(cfg Config, log *slog.Logger) (*Feeder, error) {
	cfg.fillDefaults()
	dev, err := openDevice(cfg.Path)
	if err != nil {
		return nil, fmt.Errorf("watchdog: open %s: %w", cfg.Path, err)
	}
	return New(dev, cfg, log)
}

// New sets the timeout of an open device and returns its feeder.
func New(dev Device, cfg Config, log *slog.Logger) (*Feeder, error) {
	cfg.fillDefaults()
	if err := dev.SetTimeout(cfg.Timeout); err != nil {
		// Some devices only support their fixed timeout; feed at the
		// configured interval anyway.
		log.Warn("watchdog: set timeout", "dev", cfg.Path, "timeout", cfg.Timeout, "err", err)
	}
	return &Feeder{dev: dev, cfg: cfg, log: log}, nil
}

// Run feeds the watchdog until ctx is cancelled. It does not disarm it:
// a shutdown that hangs after ctx is cancelled still ends in a reset.
func (f *Feeder) Run(ctx context.Context) error {
	t := time.NewTicker(f.cfg.Interval)
	defer t.Stop()
	for {
		if err := f.dev.KeepAlive(); err != nil {
			f.log.Warn("watchdog: keepalive", "dev", f.cfg.Path, "err", err)
		}
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
	}
}

// Disarm stops the watchdog with the magic close, for a deliberate
// poweroff or reboot.
func (f *Feeder) Disarm() error {
	if err := f.dev.MagicClose(); err != nil {
		return fmt.Errorf("watchdog: disarm %s: %w", f.cfg.Path, err)
	}
	return nil
}
