// Package sysinfo reports what the appliance is: product, firmware
// version, model, host name, uptime and the firmware slot it booted from,
// as GET /API/info/system and the websocket's "system" topic show it.
//
//	src := sysinfo.New(sysinfo.Config{Model: "virtual", Hostname: host, BootSlot: "a"})
//	info := src.Info()
package sysinfo

import (
	"time"

	"github.com/multimeter-fw/multimeter/services/version"
)

// Config describes the running system. Now defaults to time.Now.
type Config struct {
	Model    string
	Hostname string
	BootSlot string
	Now      func() time.Time
}

// Info is the JSON of /API/info/system.
type Info struct {
	Product       string `json:"product"`
	Version       string `json:"version"`
	Model         string `json:"model"`
	Hostname      string `json:"hostname"`
	UptimeSeconds int64  `json:"uptimeSeconds"`
	BootSlot      string `json:"bootSlot"`
}

// Source reports Info; it starts counting uptime when it is made.
type Source struct {
	cfg     Config
	started time.Time
}

// New returns a Source whose uptime starts now.
func New(cfg Config) *Source {
	if cfg.Now == nil {
		cfg.Now = time.Now
	}
	return &Source{cfg: cfg, started: cfg.Now()}
}

// Info returns the current system information.
func (s *Source) Info() Info {
	return Info{
		Product:       version.Product,
		Version:       version.Version,
		Model:         s.cfg.Model,
		Hostname:      s.cfg.Hostname,
		UptimeSeconds: int64(s.cfg.Now().Sub(s.started) / time.Second),
		BootSlot:      s.cfg.BootSlot,
	}
}
