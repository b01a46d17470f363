package ringbuf

import (
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"reflect"
	"slices"
	"sync"
	"sync/atomic"

	"github.com/multimeter-fw/multimeter/services/atomicfile"
	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/tap"
)

// Options tell the Manager where things are.
type Options struct {
	// ConfigPath is the persisted configuration (JSON, written
	// atomically). Missing: the default for the storage devices.
	ConfigPath string
	// Storage lists the storage devices (natively directories: the
	// daemon's --storage flags). Configurations may use only these.
	Storage []string
}

// Manager owns the ring buffers of one analysis instance: it hands every
// packet to each of them (it is a tap.Sink), applies configuration changes
// without a restart, and persists the configuration.
type Manager struct {
	opts Options
	log  *slog.Logger
	mu   sync.Mutex // serialises Apply and Close
	cfg  Config
	bufs atomic.Pointer[[]*Buffer]
}

var _ tap.Sink = (*Manager)(nil)

// DefaultConfig is the configuration for a set of storage devices: one
// device is a single shared ring buffer, several are one cluster ring
// buffer over all of them, none is no ring buffer.
func DefaultConfig(storage []string) Config {
	switch len(storage) {
	case 0:
		return Config{}
	case 1:
		return Config{Mode: ModeSingle, Buffers: []BufferConfig{{Devices: []DeviceConfig{{Path: storage[0]}}}}}
	}
	b := BufferConfig{}
	for _, s := range storage {
		b.Devices = append(b.Devices, DeviceConfig{Path: s})
	}
	return Config{Mode: ModeCluster, Buffers: []BufferConfig{b}}
}

// OpenManager loads the configuration and opens its ring buffers.
func OpenManager(opts Options, log *slog.Logger) (*Manager, error) {
	for i, s := range opts.Storage {
		abs, err := filepath.Abs(s)
		if err != nil {
			return nil, fmt.Errorf("ringbuf: storage device %s: %w", s, err)
		}
		opts.Storage[i] = abs
	}
	m := &Manager{opts: opts, log: log}
	cfg := DefaultConfig(opts.Storage)
	data, err := os.ReadFile(opts.ConfigPath)
	switch {
	case err == nil:
		cfg = Config{}
		if err := json.Unmarshal(data, &cfg); err != nil {
			return nil, fmt.Errorf("ringbuf: configuration %s: %w", opts.ConfigPath, err)
		}
	case !errors.Is(err, os.ErrNotExist):
		return nil, fmt.Errorf("ringbuf: read configuration: %w", err)
	}
	if err := m.check(&cfg); err != nil {
		return nil, fmt.Errorf("ringbuf: configuration %s: %w", opts.ConfigPath, err)
	}
	bufs, err := m.open(cfg, nil)
	if err != nil {
		return nil, err
	}
	m.cfg = cfg
	m.bufs.Store(&bufs)
	return m, nil
}

// Validate reports the first mistake in cfg, including storage devices
// that are not among the Manager's, without applying it.
func (m *Manager) Validate(cfg Config) error { return m.check(&cfg) }

// check validates a configuration and that it uses only known devices.
func (m *Manager) check(cfg *Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	known := func(p string) bool { return slices.Contains(m.opts.Storage, filepath.Clean(p)) }
	for _, b := range cfg.Buffers {
		for _, d := range b.Devices {
			if !known(d.Path) {
				return fmt.Errorf("ringbuf: %s is not a storage device", d.Path)
			}
		}
	}
	if cfg.PcapDevice != "" && !known(cfg.PcapDevice) {
		return fmt.Errorf("ringbuf: %s is not a storage device", cfg.PcapDevice)
	}
	return nil
}

// open opens the buffers of cfg, reusing those of keep whose layout is
// unchanged (their rules are updated in place).
func (m *Manager) open(cfg Config, keep map[int]*Buffer) ([]*Buffer, error) {
	var out []*Buffer
	for _, bc := range cfg.buffers() {
		if old, ok := keep[bc.ID]; ok {
			if err := old.SetRules(bc.Rules); err != nil {
				return out, err
			}
			out = append(out, old)
			continue
		}
		b, err := OpenBuffer(bc, m.log)
		if err != nil {
			for _, o := range out {
				if keep[o.ID()] != o {
					o.Close()
				}
			}
			return nil, err
		}
		out = append(out, b)
	}
	return out, nil
}

// sameLayout reports whether two buffer configurations differ only in
// their rules.
func sameLayout(a, b BufferConfig) bool {
	a.Rules, b.Rules = nil, nil
	a.fillDefaults()
	b.fillDefaults()
	return reflect.DeepEqual(a, b)
}

// Apply validates a new configuration, applies it and persists it. Rule
// changes take effect at once; ring buffers whose devices or sizes change
// are closed (their segments kept) and reopened.
func (m *Manager) Apply(cfg Config) error {
	if err := m.check(&cfg); err != nil {
		return err
	}
	data, err := json.MarshalIndent(cfg, "", "  ")
	if err != nil {
		return fmt.Errorf("ringbuf: encode configuration: %w", err)
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	old := *m.bufs.Load()
	keep := map[int]*Buffer{}
	var closing []*Buffer
	next := cfg.buffers()
	for _, b := range old {
		i := slices.IndexFunc(next, func(c BufferConfig) bool { return c.ID == b.ID() })
		if i >= 0 && sameLayout(next[i], b.Config()) {
			keep[b.ID()] = b
		} else {
			closing = append(closing, b)
		}
	}
	// Stop the buffers that change before their successors open the same
	// directories.
	kept := make([]*Buffer, 0, len(keep))
	for _, b := range old {
		if keep[b.ID()] == b {
			kept = append(kept, b)
		}
	}
	m.bufs.Store(&kept)
	var errs []error
	for _, b := range closing {
		errs = append(errs, b.Close())
	}
	bufs, err := m.open(cfg, keep)
	if err != nil {
		// Back to the previous configuration, as far as it opens.
		prev, perr := m.open(m.cfg, keep)
		if perr == nil {
			m.bufs.Store(&prev)
		}
		return errors.Join(append(errs, err)...)
	}
	m.bufs.Store(&bufs)
	m.cfg = cfg
	if m.opts.ConfigPath != "" {
		if err := atomicfile.WriteFile(m.opts.ConfigPath, data, 0o600); err != nil {
			errs = append(errs, fmt.Errorf("ringbuf: save configuration: %w", err))
		}
	}
	return errors.Join(errs...)
}

// Config returns the configuration in use.
func (m *Manager) Config() Config {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.cfg
}

// Packet hands a packet to every ring buffer (tap.Sink).
func (m *Manager) Packet(shard int, p *decode.Packet, frame []byte, meta *tap.Meta) {
	for _, b := range *m.bufs.Load() {
		b.Packet(shard, p, frame, meta)
	}
}

// Buffers returns the open ring buffers.
func (m *Manager) Buffers() []*Buffer { return *m.bufs.Load() }

// Buffer returns the ring buffer with an id (captureBufferSlotId).
func (m *Manager) Buffer(id int) (*Buffer, bool) {
	for _, b := range *m.bufs.Load() {
		if b.ID() == id {
			return b, true
		}
	}
	return nil, false
}

// Stats returns every ring buffer's figures.
func (m *Manager) Stats() []Stats {
	var out []Stats
	for _, b := range *m.bufs.Load() {
		out = append(out, b.Stats())
	}
	return out
}

// ErrNoPcapStorage reports that no storage device holds pcap files.
var ErrNoPcapStorage = errors.New("ringbuf: no storage device for pcap files")

// PcapDir returns the directory for pcap files (captureToMedia): the
// single ring buffer's device, or the cluster's pcap device.
func (m *Manager) PcapDir() (string, error) {
	cfg := m.Config()
	dev := cfg.PcapDevice
	if cfg.Mode == ModeSingle {
		dev = cfg.Buffers[0].Devices[0].Path
	}
	if dev == "" {
		return "", ErrNoPcapStorage
	}
	dir := filepath.Join(dev, "pcap")
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return "", fmt.Errorf("ringbuf: pcap directory: %w", err)
	}
	return dir, nil
}

// Flush makes every ring buffer write and fsync what it holds.
func (m *Manager) Flush() error {
	var errs []error
	for _, b := range *m.bufs.Load() {
		errs = append(errs, b.Flush())
	}
	return errors.Join(errs...)
}

// Close closes every ring buffer.
func (m *Manager) Close() error {
	m.mu.Lock()
	defer m.mu.Unlock()
	var errs []error
	for _, b := range *m.bufs.Load() {
		errs = append(errs, b.Close())
	}
	empty := []*Buffer{}
	m.bufs.Store(&empty)
	return errors.Join(errs...)
}
