// Package portsapi puts the monitor ports on the REST API, for admins:
// their state as the main analysis sees it, and the sink/bridge mode,
// which is switched at once and persisted in the data directory.
//
//	mode, err := portsapi.LoadMode(path, live.Sink)   // before opening the ports
//	portsapi.Register(router, portsapi.Config{ModePath: path, Live: src, Interfaces: main.Interfaces})
//
// Routes:
//
//	GET /API/system/interfaces       every port: name, link state and speed, kernel drops, bridge
//	                                 partner, packets not processed due to overload, forwarding counters
//	GET /API/system/interfaces/mode  {"mode": "sink"} or {"mode": "bridge"}
//	PUT /API/system/interfaces/mode  {"mode": "bridge"}: 400 without a bridged pair, 409 without
//	                                 monitor ports (a replay)
package portsapi

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"sync"

	"github.com/multimeter-fw/multimeter/services/api"
	"github.com/multimeter-fw/multimeter/services/apierr"
	"github.com/multimeter-fw/multimeter/services/atomicfile"
	"github.com/multimeter-fw/multimeter/services/capture/live"
	"github.com/multimeter-fw/multimeter/services/engine"
	"github.com/multimeter-fw/multimeter/services/role"
)

// Config wires the routes.
type Config struct {
	// ModePath is the persisted mode (JSON).
	ModePath string
	// Live is the live capture; nil when the main analysis has no
	// monitor ports.
	Live *live.Source
	// Interfaces returns the ports as the main analysis sees them.
	Interfaces func() []engine.Interface
}

// Mode is the persisted and the API's form of the mode.
type Mode struct {
	Mode string `json:"mode"`
}

// LoadMode reads the persisted mode; def when there is none.
func LoadMode(path string, def live.Mode) (live.Mode, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return def, nil
	}
	if err != nil {
		return def, fmt.Errorf("portsapi: read mode: %w", err)
	}
	var m Mode
	if err := json.Unmarshal(data, &m); err != nil {
		return def, fmt.Errorf("portsapi: mode in %s: %w", path, err)
	}
	mode, err := live.ParseMode(m.Mode)
	if err != nil {
		return def, fmt.Errorf("portsapi: mode in %s: %w", path, err)
	}
	return mode, nil
}

type handlers struct {
	cfg Config
	mu  sync.Mutex // serialises mode changes
}

// Register adds the routes to rt.
func Register(rt *api.Router, cfg Config) {
	h := &handlers{cfg: cfg}
	rt.Handle("GET", "/API/system/interfaces", role.Admin, h.interfaces)
	rt.Handle("GET", "/API/system/interfaces/mode", role.Admin, h.getMode)
	rt.Handle("PUT", "/API/system/interfaces/mode", role.Admin, h.putMode)
}

// Port is one monitor port.
type Port struct {
	Port          uint16 `json:"port"`
	Name          string `json:"name"`
	LinkUp        bool   `json:"linkUp"`
	SpeedMbps     int    `json:"speedMbps"`
	Partner       int    `json:"partner"` // the port it forwards to in bridge mode, else -1
	KernelDrops   uint64 `json:"kernelDrops"`
	KernelFreezes uint64 `json:"kernelFreezes"`
	// NotProcessed counts packets lost to overloaded analyzers.
	NotProcessed engine.Overload `json:"notProcessedDueToOverload"`
	// The live capture's counters (monitor ports only).
	Captured      uint64 `json:"capturedPackets"`
	CapturedBytes uint64 `json:"capturedBytes"`
	Forwarded     uint64 `json:"forwardedPackets"`
	ForwardDrops  uint64 `json:"forwardDrops"`
	ForwardErrors uint64 `json:"forwardErrors"`
}

func (h *handlers) interfaces(*api.Request) (any, error) {
	counters := map[uint16]live.PortStats{}
	if h.cfg.Live != nil {
		for _, ps := range h.cfg.Live.Stats() {
			counters[ps.Port] = ps
		}
	}
	out := []Port{}
	for _, it := range h.cfg.Interfaces() {
		c := counters[it.Port]
		out = append(out, Port{
			Port: it.Port, Name: it.Name, LinkUp: it.LinkUp, SpeedMbps: it.SpeedMbps, Partner: it.Partner,
			KernelDrops: it.KernelDrops, KernelFreezes: it.KernelFreezes, NotProcessed: it.NotProcessed,
			Captured: c.Packets, CapturedBytes: c.Bytes, Forwarded: c.Forwarded, ForwardDrops: c.ForwardDrops, ForwardErrors: c.ForwardErrors,
		})
	}
	return map[string]any{"interfaces": out}, nil
}

func (h *handlers) getMode(*api.Request) (any, error) {
	if h.cfg.Live == nil {
		return Mode{Mode: live.Sink.String()}, nil
	}
	return Mode{Mode: h.cfg.Live.Mode().String()}, nil
}

func (h *handlers) putMode(r *api.Request) (any, error) {
	var m Mode
	if err := r.DecodeJSON(&m); err != nil {
		return nil, err
	}
	mode, err := live.ParseMode(m.Mode)
	if err != nil {
		return nil, apierr.BadParam("mode", "%q: want sink or bridge", m.Mode)
	}
	if h.cfg.Live == nil {
		return nil, apierr.New(http.StatusConflict, "no monitor ports: the main analysis replays files")
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	prev := h.cfg.Live.Mode()
	if err := h.cfg.Live.SetMode(mode); err != nil {
		return nil, apierr.BadParam("mode", "%v", err)
	}
	data, _ := json.Marshal(Mode{Mode: mode.String()})
	if err := atomicfile.WriteFile(h.cfg.ModePath, data, 0o600); err != nil {
		h.cfg.Live.SetMode(prev)
		return nil, fmt.Errorf("portsapi: save mode: %w", err)
	}
	return Mode{Mode: mode.String()}, nil
}
