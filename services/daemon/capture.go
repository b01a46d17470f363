package daemon

import (
	"errors"
	"fmt"
	"log/slog"
	"path/filepath"

	"github.com/multimeter-fw/multimeter/services/api"
	"github.com/multimeter-fw/multimeter/services/capture"
	"github.com/multimeter-fw/multimeter/services/capture/live"
	"github.com/multimeter-fw/multimeter/services/captureapi"
	"github.com/multimeter-fw/multimeter/services/engine"
	"github.com/multimeter-fw/multimeter/services/extract"
	"github.com/multimeter-fw/multimeter/services/portsapi"
	"github.com/multimeter-fw/multimeter/services/replay"
	"github.com/multimeter-fw/multimeter/services/replayapi"
	"github.com/multimeter-fw/multimeter/services/ringbuf"
	"github.com/multimeter-fw/multimeter/services/ringbufapi"
)

// packets is the packet side of the daemon around the analysis: the
// source of the main instance, its ring buffers, captures and
// extraction, and pcap uploads into the analysis slots.
type packets struct {
	source   capture.Source // feeds the main instance; nil for none
	live     *live.Source   // the monitor ports; nil without
	modePath string         // persisted sink/bridge mode
	storage  []string       // ring buffer storage devices, absolute
	rings    *ringbuf.Manager
	detach   func() // the ring buffers from the main instance
	uploads  *replay.Service
	captures *extract.Service
}

// openPackets opens the ring buffers (attached to the main instance),
// the main instance's source and the upload service.
func openPackets(cfg Config, analysis *engine.Registry, log *slog.Logger) (_ *packets, err error) {
	p := &packets{modePath: filepath.Join(cfg.DataDir, "interfaces.json")}
	defer func() {
		if err != nil {
			p.close()
		}
	}()
	for _, dir := range cfg.Storage {
		abs, err := filepath.Abs(dir)
		if err != nil {
			return nil, fmt.Errorf("daemon: storage %s: %w", dir, err)
		}
		p.storage = append(p.storage, abs)
	}
	p.rings, err = ringbuf.OpenManager(ringbuf.Options{
		ConfigPath: filepath.Join(cfg.DataDir, "ringbuffer.json"),
		Storage:    append([]string(nil), p.storage...),
	}, log.With("service", "ringbuf"))
	if err != nil {
		return nil, err
	}
	p.detach = analysis.Main().Attach(p.rings)
	if p.source, err = p.openSource(cfg, log); err != nil {
		return nil, err
	}
	// Replay buffers go next to the pcap files (the storage device's
	// share that the ring buffer leaves), else into the data directory.
	replayDir := filepath.Join(cfg.DataDir, "replay")
	if dir, err := p.rings.PcapDir(); err == nil {
		replayDir = filepath.Join(filepath.Dir(dir), "replay")
	}
	p.uploads, err = replay.New(replay.Config{Slots: maxPcapSlots, MaxBytes: cfg.UploadLimit, BufferDir: replayDir},
		analysis, log.With("service", "replay"))
	if err != nil {
		return nil, err
	}
	p.captures = extract.NewService(extract.Config{Hostname: cfg.Hostname, Instances: p.instances(analysis)},
		log.With("service", "capture"))
	return p, nil
}

// openSource opens what feeds the main instance: replayed files, or the
// monitor ports (nil when there is neither).
func (p *packets) openSource(cfg Config, log *slog.Logger) (capture.Source, error) {
	hasLive := len(cfg.Ifaces)+len(cfg.Bridges) > 0
	switch {
	case len(cfg.Replay) > 0 && hasLive:
		return nil, errors.New("daemon: --replay excludes --iface and --bridge")
	case len(cfg.Replay) > 0:
		return replaySource(cfg.Replay, cfg.ReplaySpeed)
	case !hasLive:
		return nil, nil
	}
	ports, err := live.PortsOf(cfg.Ifaces, cfg.Bridges)
	if err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	def := live.Sink
	if len(cfg.Bridges) > 0 {
		def = live.Bridge
	}
	mode, err := portsapi.LoadMode(p.modePath, def)
	if err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	if mode == live.Bridge && len(cfg.Bridges) == 0 {
		log.Warn("bridge mode configured, but no bridged pair given (--bridge): sink mode")
		mode = live.Sink
	}
	workers := max(1, cfg.analysis.WithDefaults().IOWorkers/len(ports))
	p.live, err = live.Open(live.Config{Ports: ports, Mode: mode, WorkersPerPort: workers}, log.With("service", "live"))
	if err != nil {
		return nil, fmt.Errorf("daemon: %w", err)
	}
	log.Info("monitor ports open", "ports", len(ports), "mode", mode.String())
	return p.live, nil
}

// instance is an analysis instance as extraction sees it.
type instance struct {
	*engine.Engine // Attach: live captures
	buffer         func(id int) (*ringbuf.Buffer, bool)
	pcapDir        func() (string, error)
}

func (i instance) Buffer(id int) (*ringbuf.Buffer, bool) { return i.buffer(id) }
func (i instance) PcapDir() (string, error)              { return i.pcapDir() }

// instances resolves an mm-id slot for extraction: the main instance
// with the ring buffers, or a pcap slot with its replay buffer (id 0).
func (p *packets) instances(analysis *engine.Registry) func(slot int) (extract.Instance, bool) {
	return func(slot int) (extract.Instance, bool) {
		eng, ok := analysis.Get(slot)
		if !ok {
			return nil, false
		}
		inst := instance{Engine: eng, buffer: p.rings.Buffer, pcapDir: p.rings.PcapDir}
		if slot != 0 {
			inst.buffer = func(id int) (*ringbuf.Buffer, bool) {
				if id != 0 {
					return nil, false
				}
				return p.uploads.Buffer(slot)
			}
		}
		return inst, true
	}
}

// register adds the packet side's routes.
func (p *packets) register(rt *api.Router, analysis *engine.Registry) {
	captureapi.Register(rt, captureapi.Config{Captures: p.captures, PcapDir: p.rings.PcapDir})
	ringbufapi.Register(rt, ringbufapi.Config{Manager: p.rings, Storage: p.storage})
	replayapi.Register(rt, p.uploads)
	portsapi.Register(rt, portsapi.Config{ModePath: p.modePath, Live: p.live, Interfaces: analysis.Main().Interfaces})
}

// Captures lists the running and recent captures (extract.Registry.List):
// what the statistics API shows under /API/stats/pcap.
func (p *packets) Captures() *extract.Registry { return p.captures.Registry }

// close releases everything once the main instance has stopped: running
// uploads end, the ring buffers write out what they hold.
func (p *packets) close() error {
	var errs []error
	if p.uploads != nil {
		errs = append(errs, p.uploads.Close())
	}
	if p.detach != nil {
		p.detach()
	}
	if p.rings != nil {
		errs = append(errs, p.rings.Close())
	}
	if p.live != nil {
		errs = append(errs, p.live.Close())
	}
	return errors.Join(errs...)
}
