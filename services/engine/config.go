package engine

import (
	"errors"
	"fmt"
	"reflect"
	"runtime"
	"strings"
	"unsafe"

	"github.com/multimeter-fw/multimeter/services/analysis"
	"github.com/multimeter-fw/multimeter/services/stats"
)

// Config is how an analysis instance processes packets. The zero value
// means the defaults; changes apply on a processing restart.
type Config struct {
	// IOWorkers is the number of I/O workers a live source runs (it is
	// handed to the capture source; a file has one). Default 1.
	IOWorkers int `json:"ioWorkers,omitempty"`
	// Shards is the number of analyzer shards (goroutines). Default: the
	// number of CPUs minus the I/O workers, at least 1.
	Shards int `json:"analyzerShards,omitempty"`
	// QueuePackets is each shard's queue size in packets. Default 65536:
	// a shard pauses a little every second to close it (see DESIGN.md,
	// Overload), and in bridge mode nothing else holds the packets
	// meanwhile. Its batches take about 1.25 KiB a packet (80 MiB a shard
	// by default). Sources that wait for room (files) use at most 16384.
	QueuePackets int `json:"queuePackets,omitempty"`
	// QueueOvercommit makes the queues four times larger to ride out
	// bursts, at the cost of memory.
	QueueOvercommit bool `json:"queueOvercommit,omitempty"`
	// Balance picks how packets are spread over the shards: "ip"
	// (default; a symmetric hash of the IP pair) or "flow" (of the
	// 5-tuple, for few hosts with many flows).
	Balance string `json:"loadBalancing,omitempty"`
	// Level of analysis: capture, l2, l3, l4 or all (default).
	Level *analysis.Level `json:"analysisLevel,omitempty"`
	// Clock: "packet" (the packets' timestamps, for replays), "wall" (live)
	// or "" to choose by source (files use their packets' clock).
	Clock string `json:"clock,omitempty"`
	// Groups are the virtual link group rules, in order: a packet belongs
	// to the group of the first rule it matches (groups 1..n), else to the
	// default group 0.
	Groups []GroupRule `json:"groups,omitempty"`
	// FlowIdleSeconds is how long a shard keeps an idle flow's state.
	// Default 120.
	FlowIdleSeconds int64 `json:"flowIdleSeconds,omitempty"`
	// Capacities bound the tables.
	Capacities Capacities `json:"capacities,omitempty"`
	// Stats shapes the history of the statistics store.
	Stats stats.Config `json:"stats,omitempty"`
}

// GroupRule assigns packets to a virtual link group. Empty criteria match
// everything; a packet must match every criterion given, any of its
// values.
type GroupRule struct {
	Name       string   `json:"name"`
	Interfaces []uint16 `json:"interfaces,omitempty"` // monitor ports
	VLANs      []uint16 `json:"vlans,omitempty"`      // outer VLAN ID
	MPLSLabels []uint32 `json:"mplsLabels,omitempty"` // outermost label
	VNIs       []uint32 `json:"vnis,omitempty"`       // VXLAN network identifier
}

// Capacities bound the memory of an instance: the store's entity tables
// (each evicts its oldest-inactive entity when full) and the shards' flow
// tables. Zero fields get the defaults.
type Capacities struct {
	FlowsPerShard int `json:"flowsPerShard,omitempty"` // default 1Mi
	Connections   int `json:"connections,omitempty"`   // default 2Mi
	IPs           int `json:"ips,omitempty"`           // default 1Mi
	IPPeers       int `json:"ipPeers,omitempty"`       // default 2Mi
	IPPorts       int `json:"ipPorts,omitempty"`       // default 2Mi
	IPProtocols   int `json:"ipProtocols,omitempty"`   // default 1Mi
	IPMACs        int `json:"ipMacs,omitempty"`        // default 1Mi
	MACs          int `json:"macs,omitempty"`          // default 256Ki
	MACPeers      int `json:"macPeers,omitempty"`      // default 512Ki
	MACProtocols  int `json:"macProtocols,omitempty"`  // default 256Ki
	ServerPorts   int `json:"serverPorts,omitempty"`   // default 128Ki
	Small         int `json:"small,omitempty"`         // VLANs, labels, ARP, DNS, DHCP, calls; default 64Ki
	Names         int `json:"names,omitempty"`         // distinct names; default 1Mi
	// PerSecond bounds what a shard collects in one second before it
	// hands a partial second to the store. Default 64Ki.
	PerSecond int `json:"perSecond,omitempty"`
}

// Defaults.
const (
	DefaultQueuePackets    = 65536
	DefaultFlowIdleSeconds = 120
	maxShards              = 256
	maxGroups              = 1023
)

// WithDefaults returns c with zero fields set to the defaults.
func (c Config) WithDefaults() Config {
	if c.IOWorkers <= 0 {
		c.IOWorkers = 1
	}
	if c.Shards <= 0 {
		c.Shards = max(1, runtime.NumCPU()-c.IOWorkers)
	}
	if c.QueuePackets <= 0 {
		c.QueuePackets = DefaultQueuePackets
	}
	if c.Balance == "" {
		c.Balance = "ip"
	}
	if c.Level == nil {
		l := analysis.LevelAll
		c.Level = &l
	}
	if c.FlowIdleSeconds <= 0 {
		c.FlowIdleSeconds = DefaultFlowIdleSeconds
	}
	c.Capacities = c.Capacities.withDefaults()
	c.Stats = c.Stats.WithDefaults()
	return c
}

func orDefault(v *int, d int) {
	if *v <= 0 {
		*v = d
	}
}

func (c Capacities) withDefaults() Capacities {
	orDefault(&c.FlowsPerShard, 1<<20)
	orDefault(&c.Connections, 2<<20)
	orDefault(&c.IPs, 1<<20)
	orDefault(&c.IPPeers, 2<<20)
	orDefault(&c.IPPorts, 2<<20)
	orDefault(&c.IPProtocols, 1<<20)
	orDefault(&c.IPMACs, 1<<20)
	orDefault(&c.MACs, 256<<10)
	orDefault(&c.MACPeers, 512<<10)
	orDefault(&c.MACProtocols, 256<<10)
	orDefault(&c.ServerPorts, 128<<10)
	orDefault(&c.Small, 64<<10)
	orDefault(&c.Names, 1<<20)
	orDefault(&c.PerSecond, 64<<10)
	return c
}

// Bytes a table entry takes, per capacity field, rounded up from what
// TestMemoryBytesBoundsTheTables measures (keys, values, index, links;
// several tables share a capacity field: Small is six, PerSecond every
// accumulator of a shard's deltas). Names grow as names arrive.
const (
	flowBytes         = 352
	connectionBytes   = 384
	ipBytes           = 320
	ipPeerBytes       = 250
	ipPortBytes       = 250
	ipProtocolBytes   = 232
	ipMACBytes        = 240
	macBytes          = 116
	macPeerBytes      = 228
	macProtocolBytes  = 222
	serverPortBytes   = 114
	smallBytes        = 1376
	nameBytes         = 64
	perSecondBytes    = 4250
	instanceBaseBytes = 32 << 20
)

// MemoryBytes is what an instance with this configuration takes once
// its tables are full, its queues full and its history at the budget:
// the sizing to hold against the machine's memory. Tables are reserved
// when processing starts but only take memory as they fill.
func (c Config) MemoryBytes() int64 {
	d := c.WithDefaults()
	queue := int64(d.QueuePackets)
	if d.QueueOvercommit {
		queue *= 4
	}
	batches := int64(d.Shards) * (queue/batchPackets + 1) * int64(unsafe.Sizeof(batch{})+batchArena)
	return d.tableBytes() + batches + d.Stats.HistoryBytes
}

// tableBytes is the part of MemoryBytes reserved when processing starts:
// the store's tables and every shard's flows and accumulators. c has its
// defaults.
func (c Config) tableBytes() int64 {
	k := c.Capacities
	n := func(v int) int64 { return int64(v) }
	store := n(k.Connections)*connectionBytes + n(k.IPs)*ipBytes + n(k.IPPeers)*ipPeerBytes +
		n(k.IPPorts)*ipPortBytes + n(k.IPProtocols)*ipProtocolBytes + n(k.IPMACs)*ipMACBytes +
		n(k.MACs)*macBytes + n(k.MACPeers)*macPeerBytes + n(k.MACProtocols)*macProtocolBytes +
		n(k.ServerPorts)*serverPortBytes + n(k.Small)*smallBytes + n(k.Names)*nameBytes
	perShard := n(k.FlowsPerShard)*flowBytes + n(k.PerSecond)*perSecondBytes
	return instanceBaseBytes + store + n(c.Shards)*perShard
}

// Validate reports the first mistake in c.
func (c Config) Validate() error {
	// Zero means "the default"; a negative number is a mistake, not a
	// roundabout way of asking for the default.
	for _, f := range c.counts() {
		if f.v < 0 {
			return fmt.Errorf("engine: %s %d is negative (0 or leaving it out gives the default)", f.name, f.v)
		}
	}
	d := c.WithDefaults()
	switch {
	case d.IOWorkers > 64:
		return fmt.Errorf("engine: ioWorkers %d: at most 64", d.IOWorkers)
	case d.Shards > maxShards:
		return fmt.Errorf("engine: analyzerShards %d: at most %d", d.Shards, maxShards)
	case d.QueuePackets < batchPackets || d.QueuePackets > 1<<22:
		return fmt.Errorf("engine: queuePackets %d out of range [%d, %d]", d.QueuePackets, batchPackets, 1<<22)
	case d.Balance != "ip" && d.Balance != "flow":
		return fmt.Errorf("engine: loadBalancing %q: want ip or flow", d.Balance)
	case *d.Level > analysis.LevelAll:
		return fmt.Errorf("engine: analysisLevel %d unknown", *d.Level)
	case d.Clock != "" && d.Clock != "packet" && d.Clock != "wall":
		return fmt.Errorf("engine: clock %q: want packet, wall or empty", d.Clock)
	case len(d.Groups) > maxGroups:
		return fmt.Errorf("engine: %d groups: at most %d", len(d.Groups), maxGroups)
	}
	for i, g := range d.Groups {
		if g.Name == "" {
			return fmt.Errorf("engine: group %d has no name", i+1)
		}
		if len(g.Interfaces)+len(g.VLANs)+len(g.MPLSLabels)+len(g.VNIs) == 0 {
			return fmt.Errorf("engine: group %q matches everything (no criteria)", g.Name)
		}
		for _, v := range g.VLANs {
			if v > 4095 {
				return fmt.Errorf("engine: group %q: VLAN %d out of range", g.Name, v)
			}
		}
		for _, l := range g.MPLSLabels {
			if l > 1<<20-1 {
				return fmt.Errorf("engine: group %q: MPLS label %d out of range", g.Name, l)
			}
		}
		for _, v := range g.VNIs {
			if v > 1<<24-1 {
				return fmt.Errorf("engine: group %q: VNI %d out of range", g.Name, v)
			}
		}
	}
	if d.Capacities.PerSecond < 4*batchPackets {
		return errors.New("engine: capacities.perSecond must be at least 1024")
	}
	return d.Stats.Validate()
}

type namedCount struct {
	name string
	v    int64
}

// counts are c's sizes and durations (its integer fields and those of its
// capacities), by their JSON names: found by reflection, so that a field
// added later is checked too.
func (c Config) counts() []namedCount {
	var out []namedCount
	add := func(prefix string, v reflect.Value) {
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if f.Type.Kind() == reflect.Int || f.Type.Kind() == reflect.Int64 {
				name, _, _ := strings.Cut(f.Tag.Get("json"), ",")
				out = append(out, namedCount{prefix + name, v.Field(i).Int()})
			}
		}
	}
	add("", reflect.ValueOf(c))
	add("capacities.", reflect.ValueOf(c.Capacities))
	return out
}

// level returns the configured level (after defaults).
func (c *Config) level() analysis.Level { return *c.Level }
