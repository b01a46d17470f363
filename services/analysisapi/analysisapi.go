// Package analysisapi puts the main analysis instance's processing
// configuration on the REST API, for admins: the appliance manual's
// global and expert settings (analyzer shards, I/O workers, queue size
// and overcommit, load balancing, level of analysis, virtual link groups,
// table capacities, history). A change is validated, applied by
// restarting processing, and persisted in the data directory, so the box
// comes back with it after a reboot.
//
//	cfg, err := analysisapi.Load(path, memory)    // before building the engine
//	analysisapi.Register(router, analysisapi.Config{Path: path, Engine: main, Memory: memory, Log: log}, cfg)
//
// Routes:
//
//	GET /API/system/analysis               {"config": what was saved, "effective": with the defaults,
//	                                        "memoryBytes": what it needs once full, "machineMemoryBytes"}
//	PUT /API/system/analysis[?clear=true]  the whole engine.Config (fields left out take their defaults):
//	                                       400 for a bad one (nothing changes), else
//	                                       processing restarts with it (clear: statistics start over;
//	                                       new capacities or history always start a new store); a
//	                                       replayed file goes on where it was, or starts over with them
package analysisapi

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"sync"
	"time"

	"github.com/multimeter-fw/multimeter/services/api"
	"github.com/multimeter-fw/multimeter/services/apierr"
	"github.com/multimeter-fw/multimeter/services/atomicfile"
	"github.com/multimeter-fw/multimeter/services/engine"
	"github.com/multimeter-fw/multimeter/services/role"
)

// Load reads a saved configuration; the zero Config (the defaults) when
// there is none. One that needs more than memory bytes (0: unchecked)
// and more than the defaults is refused as a PUT would refuse it.
func Load(path string, memory int64) (engine.Config, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return engine.Config{}, nil
	}
	if err != nil {
		return engine.Config{}, fmt.Errorf("analysisapi: %w", err)
	}
	cfg, err := parse(data)
	if err != nil {
		return engine.Config{}, fmt.Errorf("analysisapi: %s: %w", path, err)
	}
	if err := fits(cfg, engine.Config{}, memory); err != nil {
		return engine.Config{}, fmt.Errorf("analysisapi: %s: %w", path, err)
	}
	return cfg, nil
}

// fits refuses cfg if it needs more memory once full than the machine has
// and than prev (the configuration it replaces) needs. Tables are
// reserved whole but fill with traffic, so a box may run a sizing larger
// than its memory (a small VM with the defaults); what it must not do is
// take a larger one it cannot hold, nor one whose tables it cannot even
// reserve.
func fits(cfg, prev engine.Config, memory int64) error {
	need, had := cfg.MemoryBytes(), prev.MemoryBytes()
	if memory <= 0 || need <= memory || need <= had {
		return nil
	}
	return apierr.New(http.StatusBadRequest,
		"this configuration needs %.1f GiB once its tables, queues and history are full (now %.1f GiB); the appliance has %.1f GiB: fewer analyzer shards, smaller capacities or history",
		gib(need), gib(had), gib(memory))
}

// parse decodes and validates a configuration as strictly as the API
// does: a hand-edited file with a typo must not silently mean defaults.
func parse(data []byte) (engine.Config, error) {
	var c engine.Config
	if err := api.DecodeJSON(bytes.NewReader(data), &c); err != nil {
		return engine.Config{}, err
	}
	if err := c.Validate(); err != nil {
		return engine.Config{}, err
	}
	return c, nil
}

// Config wires the routes.
type Config struct {
	// Path is where the configuration is saved (JSON).
	Path string
	// Engine is the main analysis instance.
	Engine *engine.Engine
	// Memory is the machine's memory in bytes: a change that makes the
	// instance need more once full (engine.Config.MemoryBytes) must fit
	// in it. 0: not checked.
	Memory int64
	Log    *slog.Logger
}

// Settings is the API's form: the configuration as saved (zero fields
// mean defaults) and as processing runs with it.
type Settings struct {
	Config    engine.Config `json:"config"`
	Effective engine.Config `json:"effective"`
	// AtNextStart names saved settings that take effect only when the
	// daemon starts again (the I/O workers open the monitor ports).
	AtNextStart []string `json:"atNextStart"`
	// MemoryBytes is what the effective configuration needs once its
	// tables, queues and history are full; MachineMemoryBytes what the
	// machine has (0: unknown).
	MemoryBytes        int64 `json:"memoryBytes"`
	MachineMemoryBytes int64 `json:"machineMemoryBytes"`
}

type handlers struct {
	cfg     Config
	mu      sync.Mutex    // serialises changes
	saved   engine.Config // what Path holds
	started engine.Config // what the daemon started with
}

// Register adds the routes to rt. saved is what Load returned, the
// configuration the engine was built with.
func Register(rt *api.Router, cfg Config, saved engine.Config) {
	h := &handlers{cfg: cfg, saved: saved, started: saved.WithDefaults()}
	rt.Handle(http.MethodGet, "/API/system/analysis", role.Admin, h.get)
	rt.Handle(http.MethodPut, "/API/system/analysis", role.Admin, h.put)
}

func (h *handlers) settings() Settings {
	eff := h.cfg.Engine.Config()
	s := Settings{Config: h.saved, Effective: eff, AtNextStart: []string{}, MemoryBytes: eff.MemoryBytes(), MachineMemoryBytes: h.cfg.Memory}
	if h.saved.WithDefaults().IOWorkers != h.started.IOWorkers {
		s.AtNextStart = append(s.AtNextStart, "ioWorkers")
	}
	return s
}

func (h *handlers) get(*api.Request) (any, error) {
	h.mu.Lock()
	defer h.mu.Unlock()
	return h.settings(), nil
}

func (h *handlers) put(r *api.Request) (any, error) {
	clear, err := r.Query.Bool("clear", false)
	if err != nil {
		return nil, err
	}
	var cfg engine.Config
	if err := r.DecodeJSON(&cfg); err != nil {
		return nil, err
	}
	if err := cfg.Validate(); err != nil {
		return nil, apierr.New(http.StatusBadRequest, "%v", err)
	}
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return nil, fmt.Errorf("analysisapi: %w", err)
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	prev := h.cfg.Engine.Config()
	if err := fits(cfg, prev, h.cfg.Memory); err != nil {
		return nil, err
	}
	if err := h.cfg.Engine.Restart(cfg, clear); err != nil {
		e := apierr.New(http.StatusServiceUnavailable, "restart processing: %v", err)
		e.RetryAfter = time.Second
		return nil, e
	}
	if err := atomicfile.WriteFile(h.cfg.Path, append(data, '\n'), 0o600); err != nil {
		// Unsaved, the change would be lost at the next start: take it back.
		h.cfg.Engine.Restart(prev, false)
		return nil, fmt.Errorf("analysisapi: save: %w", err)
	}
	h.saved = cfg
	h.cfg.Log.Info("analysis configuration changed, processing restarted", "user", r.Principal.User, "clear", clear,
		"shards", h.cfg.Engine.Config().Shards, "level", h.cfg.Engine.Config().Level.String())
	return h.settings(), nil
}

func gib(b int64) float64 { return float64(b) / (1 << 30) }
