package ringbuf

import (
	"errors"
	"fmt"
	"path/filepath"
	"slices"
	"time"

	"github.com/multimeter-fw/multimeter/services/filter"
)

// Modes of the ring buffer (see reference/ring-buffer-configuration-guide).
const (
	// ModeSingle is one ring buffer on one storage device, using a share
	// of it; the rest of the device holds pcap files.
	ModeSingle = "single"
	// ModeCluster is any number of ring buffers, each over one or more
	// storage devices of its own, written in parallel.
	ModeCluster = "cluster"
)

// Config is the ring buffer configuration as the API reads and writes it.
type Config struct {
	Mode    string         `json:"mode"`
	Buffers []BufferConfig `json:"buffers"`
	// PcapDevice is, in cluster mode, the storage device for pcap files
	// (captureToMedia); it must not belong to a ring buffer. In single mode
	// the ring buffer's device holds them.
	PcapDevice string `json:"pcapDevice,omitempty"`
}

// BufferConfig is one ring buffer. Zero values mean the defaults.
type BufferConfig struct {
	ID      int            `json:"id"`
	Devices []DeviceConfig `json:"devices"`
	// SegmentBytes and SegmentSeconds rotate segment files by size and by
	// the time span of their packets.
	SegmentBytes   int64 `json:"segmentBytes,omitempty"`
	SegmentSeconds int   `json:"segmentSeconds,omitempty"`
	// QueueBytes is the memory that absorbs disk stalls ("bytes in
	// flight"); packets that do not fit are dropped and counted.
	QueueBytes int64 `json:"queueBytes,omitempty"`
	// BatchBytes is the size of one write (at least 1 MiB).
	BatchBytes int64 `json:"batchBytes,omitempty"`
	// IO is "direct" (O_DIRECT) or "buffered" (page cache with explicit
	// write-back); empty means direct, which measured faster here.
	IO string `json:"io,omitempty"`
	// FlushMillis bounds how long a packet waits in memory before it is
	// written and searchable.
	FlushMillis int `json:"flushMillis,omitempty"`
	// Lossless makes Packet wait for queue memory instead of dropping
	// the packet. Only for buffers fed by a source that may be slowed
	// down (an uploaded capture): a live monitor port must never wait.
	Lossless bool `json:"-"`
	// defaultShare is the device share when a device gives none: set by
	// the mode.
	defaultShare float64

	// Rules decide per packet what is recorded; the first match wins and
	// packets no rule matches are recorded whole.
	Rules []Rule `json:"rules,omitempty"`
}

// DeviceConfig is a storage device: natively a directory.
type DeviceConfig struct {
	Path string `json:"path"`
	// SharePercent of the file system's size is the ring buffer's limit;
	// MaxBytes sets it in bytes instead. Neither: 100 % in cluster mode,
	// 90 % in single mode.
	SharePercent float64 `json:"sharePercent,omitempty"`
	MaxBytes     int64   `json:"maxBytes,omitempty"`
}

// Defaults.
const (
	DefaultSegmentBytes   = 1 << 30
	DefaultSegmentSeconds = 600
	DefaultQueueBytes     = 256 << 20
	DefaultBatchBytes     = 1 << 20
	DefaultFlushMillis    = 1000
	defaultSingleShare    = 90
	minSegmentBytes       = 1 << 20
)

// IO modes.
const (
	IODirect   = "direct"
	IOBuffered = "buffered"
)

func (c *BufferConfig) fillDefaults() {
	if c.SegmentBytes == 0 {
		c.SegmentBytes = DefaultSegmentBytes
	}
	if c.SegmentSeconds == 0 {
		c.SegmentSeconds = DefaultSegmentSeconds
	}
	if c.QueueBytes == 0 {
		c.QueueBytes = DefaultQueueBytes
	}
	if c.BatchBytes == 0 {
		c.BatchBytes = DefaultBatchBytes
	}
	if c.IO == "" {
		c.IO = IODirect
	}
	if c.FlushMillis == 0 {
		c.FlushMillis = DefaultFlushMillis
	}
	if c.defaultShare == 0 {
		c.defaultShare = 100
	}
}

// buffers returns the buffer configurations with the mode's defaults.
func (c *Config) buffers() []BufferConfig {
	out := slices.Clone(c.Buffers)
	for i := range out {
		if c.Mode == ModeSingle {
			out[i].defaultShare = defaultSingleShare
		}
	}
	return out
}

func (c *BufferConfig) segmentSpan() time.Duration {
	return time.Duration(c.SegmentSeconds) * time.Second
}
func (c *BufferConfig) flushEvery() time.Duration {
	return time.Duration(c.FlushMillis) * time.Millisecond
}

// Validate reports the first mistake in the configuration.
func (c *Config) Validate() error {
	switch c.Mode {
	case ModeSingle:
		if len(c.Buffers) != 1 || len(c.Buffers[0].Devices) != 1 {
			return errors.New("ringbuf: single mode takes exactly one ring buffer on one storage device")
		}
		if c.PcapDevice != "" {
			return errors.New("ringbuf: pcapDevice applies to cluster mode only")
		}
	case ModeCluster:
	case "":
		if len(c.Buffers) > 0 {
			return errors.New("ringbuf: mode not set")
		}
	default:
		return fmt.Errorf("ringbuf: unknown mode %q (want %q or %q)", c.Mode, ModeSingle, ModeCluster)
	}
	ids := map[int]bool{}
	devs := map[string]int{}
	for i := range c.Buffers {
		b := &c.Buffers[i]
		if ids[b.ID] {
			return fmt.Errorf("ringbuf: ring buffer id %d used twice", b.ID)
		}
		ids[b.ID] = true
		if err := b.validate(); err != nil {
			return fmt.Errorf("ringbuf: ring buffer %d: %w", b.ID, err)
		}
		for _, d := range b.Devices {
			p := filepath.Clean(d.Path)
			if other, ok := devs[p]; ok {
				return fmt.Errorf("ringbuf: storage device %s in ring buffers %d and %d", d.Path, other, b.ID)
			}
			devs[p] = b.ID
		}
	}
	if c.PcapDevice != "" {
		if id, ok := devs[filepath.Clean(c.PcapDevice)]; ok {
			return fmt.Errorf("ringbuf: pcap device %s belongs to ring buffer %d", c.PcapDevice, id)
		}
	}
	return nil
}

func (b *BufferConfig) validate() error {
	if b.ID < 0 || b.ID > 255 {
		return fmt.Errorf("id %d out of range 0–255", b.ID)
	}
	for _, d := range b.Devices {
		if d.Path == "" || !filepath.IsAbs(d.Path) {
			return fmt.Errorf("storage device path %q must be absolute", d.Path)
		}
		if d.SharePercent < 0 || d.SharePercent > 100 {
			return fmt.Errorf("storage device %s: share %.1f %% out of range", d.Path, d.SharePercent)
		}
		if d.MaxBytes < 0 || d.MaxBytes > 0 && d.SharePercent > 0 {
			return fmt.Errorf("storage device %s: give sharePercent or maxBytes, not both", d.Path)
		}
	}
	switch {
	case b.SegmentBytes != 0 && b.SegmentBytes < minSegmentBytes:
		return fmt.Errorf("segmentBytes %d below %d", b.SegmentBytes, minSegmentBytes)
	case b.SegmentBytes > 1<<32-1:
		return fmt.Errorf("segmentBytes %d above 4 GiB", b.SegmentBytes)
	case b.SegmentSeconds < 0:
		return fmt.Errorf("segmentSeconds %d negative", b.SegmentSeconds)
	case b.BatchBytes != 0 && (b.BatchBytes < 1<<20 || b.BatchBytes > 64<<20 || b.BatchBytes%4096 != 0):
		return fmt.Errorf("batchBytes %d: want a multiple of 4096 from 1 MiB to 64 MiB", b.BatchBytes)
	case b.QueueBytes < 0:
		return fmt.Errorf("queueBytes %d negative", b.QueueBytes)
	case b.FlushMillis < 0 || b.FlushMillis > 2000:
		return fmt.Errorf("flushMillis %d: want 1–2000 (packets are searchable within 2 s)", b.FlushMillis)
	case b.IO != "" && b.IO != IODirect && b.IO != IOBuffered:
		return fmt.Errorf("io %q: want %q or %q", b.IO, IODirect, IOBuffered)
	}
	batch := b.BatchBytes
	if batch == 0 {
		batch = DefaultBatchBytes
	}
	if b.QueueBytes != 0 && b.QueueBytes < 2*batch {
		return fmt.Errorf("queueBytes %d below two batches (%d)", b.QueueBytes, 2*batch)
	}
	seg := b.SegmentBytes
	if seg == 0 {
		seg = DefaultSegmentBytes
	}
	if seg < batch {
		return fmt.Errorf("segmentBytes %d below batchBytes %d", seg, batch)
	}
	for i, r := range b.Rules {
		if _, err := r.compile(); err != nil {
			return fmt.Errorf("rule %d: %w", i+1, err)
		}
	}
	return nil
}

// Rule conditions.
const (
	CondAll       = "all"
	CondMAC       = "mac"
	CondIP        = "ip"
	CondPort      = "port"
	CondL7        = "l7Protocol"
	CondVLAN      = "vlan" // outer VLAN tag
	CondInterface = "interface"
	CondSIPNumber = "sipNumber"
	CondGroup     = "group"
)

// Rule actions.
const (
	ActionFull    = "full"
	ActionDiscard = "discard"
	ActionSnap    = "snap"   // first Length bytes
	ActionL3      = "l3"     // headers up to and including L3
	ActionL4      = "l4"     // headers up to and including L4
	ActionL4Data  = "l4data" // L4 headers plus Length payload bytes
)

// Rule is one line of a ring buffer's rule list.
type Rule struct {
	Condition string `json:"condition"`
	Value     string `json:"value,omitempty"`
	Negate    bool   `json:"negate,omitempty"`
	Action    string `json:"action"`
	Length    int    `json:"length,omitempty"`
}

// condField maps conditions to filter language fields.
var condField = map[string]string{
	CondMAC: "mac", CondIP: "ip", CondPort: "port", CondL7: "l7Protocol", CondVLAN: "outerVlan",
	CondInterface: "interface", CondSIPNumber: "sipNumber", CondGroup: "group",
}

func (r Rule) compile() (compiledRule, error) {
	cr := compiledRule{negate: r.Negate, length: r.Length}
	switch r.Action {
	case ActionFull:
		cr.action = actFull
	case ActionDiscard:
		cr.action = actDiscard
	case ActionSnap:
		cr.action = actSnap
	case ActionL3:
		cr.action = actL3
	case ActionL4:
		cr.action = actL4
	case ActionL4Data:
		cr.action = actL4Data
	default:
		return cr, fmt.Errorf("unknown action %q", r.Action)
	}
	if (cr.action == actSnap && (r.Length < 1 || r.Length > 65535)) || (cr.action == actL4Data && (r.Length < 0 || r.Length > 65535)) {
		return cr, fmt.Errorf("action %s: length %d out of range", r.Action, r.Length)
	}
	if r.Condition == CondAll {
		if r.Value != "" {
			return cr, errors.New("condition all takes no value")
		}
		return cr, nil
	}
	field, ok := condField[r.Condition]
	if !ok {
		return cr, fmt.Errorf("unknown condition %q", r.Condition)
	}
	if r.Condition == CondIP && r.Value != "" && !isIPOrPrefix(r.Value) {
		return cr, fmt.Errorf("condition ip: %q is not an address or subnet", r.Value)
	}
	f, err := filter.Parse(field + "==" + quote(r.Value))
	if err != nil {
		return cr, fmt.Errorf("condition %s: %w", r.Condition, err)
	}
	cr.match = f
	return cr, nil
}
