// Package ringbufapi puts the packet ring buffer's configuration and
// statistics (package ringbuf) on the REST API, for admins:
//
//	ringbufapi.Register(router, ringbufapi.Config{Manager: m, Storage: dirs})
//
// Routes:
//
//	GET /API/system/ringbuffer                  the configuration (mode, ring buffers, devices, shares,
//	                                            segment size and time, queue size, rules)
//	PUT /API/system/ringbuffer                  a whole new configuration: validated, applied at once
//	                                            without a restart, and persisted
//	PUT /API/system/ringbuffer/buffers/:id/rules {"rules": [...]}: one ring buffer's rules only
//	GET /API/system/ringbuffer/stats            per ring buffer: packets and bytes written, bytes in
//	                                            flight, dropped bytes and packets, the time span covered,
//	                                            disk usage and limit, write rate
//	GET /API/system/ringbuffer/storage          the storage devices: size, free space, user
//
// A configuration with a mistake is a 400 naming it and changes nothing.
package ringbufapi

import (
	"fmt"
	"net/http"
	"slices"
	"strconv"

	"golang.org/x/sys/unix"

	"github.com/multimeter-fw/multimeter/services/api"
	"github.com/multimeter-fw/multimeter/services/apierr"
	"github.com/multimeter-fw/multimeter/services/ringbuf"
	"github.com/multimeter-fw/multimeter/services/role"
)

// Config wires the routes.
type Config struct {
	Manager *ringbuf.Manager
	// Storage lists the storage devices the configuration may use.
	Storage []string
}

type handlers struct {
	cfg Config
}

// Register adds the routes to rt.
func Register(rt *api.Router, cfg Config) {
	h := &handlers{cfg: cfg}
	rt.Handle("GET", "/API/system/ringbuffer", role.Admin, h.get)
	rt.Handle("PUT", "/API/system/ringbuffer", role.Admin, h.put)
	rt.Handle("PUT", "/API/system/ringbuffer/buffers/:id/rules", role.Admin, h.putRules)
	rt.Handle("GET", "/API/system/ringbuffer/stats", role.Admin, h.stats)
	rt.Handle("GET", "/API/system/ringbuffer/storage", role.Admin, h.storage)
}

func (h *handlers) get(*api.Request) (any, error) { return h.cfg.Manager.Config(), nil }

func (h *handlers) put(r *api.Request) (any, error) {
	var cfg ringbuf.Config
	if err := r.DecodeJSON(&cfg); err != nil {
		return nil, err
	}
	return h.apply(cfg)
}

// Rules is the body of PUT .../buffers/:id/rules.
type Rules struct {
	Rules []ringbuf.Rule `json:"rules"`
}

func (h *handlers) putRules(r *api.Request) (any, error) {
	var body Rules
	if err := r.DecodeJSON(&body); err != nil {
		return nil, err
	}
	cfg := h.cfg.Manager.Config()
	id, err := strconv.Atoi(r.Param("id"))
	i := slices.IndexFunc(cfg.Buffers, func(b ringbuf.BufferConfig) bool { return b.ID == id })
	if err != nil || i < 0 {
		return nil, apierr.New(http.StatusNotFound, "no ring buffer %q", r.Param("id"))
	}
	cfg.Buffers = slices.Clone(cfg.Buffers)
	cfg.Buffers[i].Rules = body.Rules
	return h.apply(cfg)
}

func (h *handlers) apply(cfg ringbuf.Config) (any, error) {
	if err := h.cfg.Manager.Validate(cfg); err != nil {
		return nil, apierr.New(http.StatusBadRequest, "%v", err)
	}
	if err := h.cfg.Manager.Apply(cfg); err != nil {
		return nil, apierr.New(http.StatusInternalServerError, "applying the ring buffer configuration: %v", err)
	}
	return h.cfg.Manager.Config(), nil
}

func (h *handlers) stats(*api.Request) (any, error) {
	st := h.cfg.Manager.Stats()
	if st == nil {
		st = []ringbuf.Stats{}
	}
	return map[string]any{"buffers": st}, nil
}

// Device is a storage device as the API shows it.
type Device struct {
	Path       string `json:"path"`
	SizeBytes  int64  `json:"sizeBytes"`
	FreeBytes  int64  `json:"freeBytes"`
	RingBuffer *int   `json:"ringBuffer,omitempty"` // the ring buffer using it
	Pcap       bool   `json:"pcap"`                 // holds the pcap files
	Error      string `json:"error,omitempty"`
}

func (h *handlers) storage(*api.Request) (any, error) {
	cfg := h.cfg.Manager.Config()
	pcapDev := cfg.PcapDevice
	if cfg.Mode == ringbuf.ModeSingle {
		pcapDev = cfg.Buffers[0].Devices[0].Path
	}
	out := []Device{}
	for _, path := range h.cfg.Storage {
		d := Device{Path: path, Pcap: path == pcapDev}
		for _, b := range cfg.Buffers {
			if slices.ContainsFunc(b.Devices, func(dc ringbuf.DeviceConfig) bool { return dc.Path == path }) {
				d.RingBuffer = &b.ID
			}
		}
		var fs unix.Statfs_t
		if err := unix.Statfs(path, &fs); err != nil {
			d.Error = fmt.Sprintf("statfs: %v", err)
		} else {
			d.SizeBytes = int64(fs.Blocks) * fs.Bsize
			d.FreeBytes = int64(fs.Bavail) * fs.Bsize
		}
		out = append(out, d)
	}
	return map[string]any{"devices": out}, nil
}
