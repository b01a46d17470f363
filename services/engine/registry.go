package engine

import (
	"errors"
	"fmt"
	"log/slog"
	"slices"
	"sync"
)

// Registry holds the analysis instances of the appliance by slot: the
// main instance (live ports, or --replay) in slot 0 and pcap analysis
// slots 1..N, created on demand, so that uploads never mix with live
// statistics. The REST API picks an instance with mm-id=:N.
type Registry struct {
	log     *slog.Logger
	slotCfg Config
	max     int

	mu    sync.Mutex
	slots map[int]*Engine
}

// Registry errors callers branch on.
var (
	ErrNoSlot   = errors.New("engine: no such analysis slot")
	ErrSlotBusy = errors.New("engine: analysis slot is processing")
)

// NewRegistry returns a registry with main in slot 0; pcap slots 1..max
// are created with slotCfg.
func NewRegistry(main *Engine, slotCfg Config, max int, log *slog.Logger) (*Registry, error) {
	if err := slotCfg.Validate(); err != nil {
		return nil, fmt.Errorf("engine: slot config: %w", err)
	}
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	return &Registry{log: log, slotCfg: slotCfg, max: max, slots: map[int]*Engine{0: main}}, nil
}

// Main is the instance in slot 0.
func (r *Registry) Main() *Engine { return r.slots[0] }

// Get returns the instance in slot.
func (r *Registry) Get(slot int) (*Engine, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.slots[slot]
	return e, ok
}

// Open returns the pcap analysis instance in slot (1..max), creating an
// empty one if there is none. With fresh, an existing idle instance is
// replaced by an empty one (a new upload into a used slot).
func (r *Registry) Open(slot int, fresh bool) (*Engine, error) {
	if slot < 1 || slot > r.max {
		return nil, fmt.Errorf("%w: %d (pcap slots are 1..%d)", ErrNoSlot, slot, r.max)
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if e, ok := r.slots[slot]; ok {
		if !fresh {
			return e, nil
		}
		if e.Running() {
			return nil, fmt.Errorf("%w: %d", ErrSlotBusy, slot)
		}
	}
	e, err := New(r.slotCfg, r.log.With("slot", slot))
	if err != nil {
		return nil, err
	}
	r.slots[slot] = e
	return e, nil
}

// Delete drops the idle pcap instance in slot.
func (r *Registry) Delete(slot int) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.slots[slot]
	switch {
	case slot == 0 || !ok:
		return fmt.Errorf("%w: %d", ErrNoSlot, slot)
	case e.Running():
		return fmt.Errorf("%w: %d", ErrSlotBusy, slot)
	}
	delete(r.slots, slot)
	return nil
}

// Slots lists the slots in use, in order.
func (r *Registry) Slots() []int {
	r.mu.Lock()
	defer r.mu.Unlock()
	ids := make([]int, 0, len(r.slots))
	for id := range r.slots {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	return ids
}

// SlotConfig is the default configuration of pcap analysis slots: the
// main instance's analysis with tables an eighth the size.
func SlotConfig() Config {
	c := Config{}.WithDefaults()
	caps := &c.Capacities
	for _, v := range []*int{&caps.FlowsPerShard, &caps.Connections, &caps.IPs, &caps.IPPeers, &caps.IPPorts,
		&caps.IPProtocols, &caps.IPMACs, &caps.MACs, &caps.MACPeers, &caps.MACProtocols, &caps.ServerPorts,
		&caps.Small, &caps.Names} {
		*v /= 8
	}
	c.Stats.HistoryBytes /= 4
	return c
}
