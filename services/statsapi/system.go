package statsapi

import (
	"cmp"
	"net/http"
	"slices"
	"strconv"
	"time"

	"github.com/multimeter-fw/multimeter/services/api"
	"github.com/multimeter-fw/multimeter/services/apierr"
	"github.com/multimeter-fw/multimeter/services/apilist"
	"github.com/multimeter-fw/multimeter/services/apiparam"
	"github.com/multimeter-fw/multimeter/services/engine"
	"github.com/multimeter-fw/multimeter/services/extract"
	"github.com/multimeter-fw/multimeter/services/role"
	"github.com/multimeter-fw/multimeter/services/stats"
	"github.com/multimeter-fw/multimeter/services/ws"
)

// InterfaceErrors are what a monitor port lost or could not decode.
type InterfaceErrors struct {
	Port          uint16 `json:"port"`
	Name          string `json:"name"`
	DecodeErrors  uint64 `json:"decodeErrors"`  // truncated or malformed frames
	KernelDrops   uint64 `json:"kernelDrops"`   // dropped by the kernel ring before capture
	KernelFreezes uint64 `json:"kernelFreezes"` // times the kernel ring's queue froze
	// NotProcessed were captured but dropped because the analyzers were
	// overloaded ("not processed due to overload").
	NotProcessed engine.Overload `json:"notProcessedDueToOverload"`
}

// Interface is a monitor port with the traffic the analysis processed
// from it (rx) and what it lost.
type Interface struct {
	LinkUp    bool `json:"linkUp"`
	SpeedMbps int  `json:"speedMbps"` // 0 when unknown
	Partner   int  `json:"partner"`   // bridged partner port, -1 in sink mode
	InterfaceErrors
	Figures
}

// interfaces merges the ports the store counted with what the source and
// the engine know about them (ports without traffic included).
func interfaces(c *call) []*Interface {
	byPort := map[uint16]*Interface{}
	get := func(port uint16) *Interface {
		it := byPort[port]
		if it == nil {
			it = &Interface{InterfaceErrors: InterfaceErrors{Port: port, Name: "port" + strconv.Itoa(int(port))}, Partner: -1}
			byPort[port] = it
		}
		return it
	}
	ports, _ := c.st.Interfaces.Ports.List(stats.ListQuery{Query: c.time, Group: c.group}, nil)
	for i := range ports {
		e := &ports[i]
		it := get(e.Key.Port)
		it.DecodeErrors = e.Attr.DecodeErrors
		it.Figures = figuresOf(&e.Figures)
	}
	for _, info := range c.eng.Interfaces() {
		it := get(info.Port)
		if info.Name != "" {
			it.Name = info.Name
		}
		it.LinkUp, it.SpeedMbps, it.Partner = info.LinkUp, info.SpeedMbps, info.Partner
		it.KernelDrops, it.KernelFreezes = info.KernelDrops, info.KernelFreezes
		it.NotProcessed = info.NotProcessed
	}
	out := make([]*Interface, 0, len(byPort))
	for _, it := range byPort {
		out = append(out, it)
	}
	slices.SortFunc(out, byPortOrder)
	return out
}

func byPortOrder(a, b *Interface) int { return cmp.Compare(a.Port, b.Port) }

func interfaceColumns() []apilist.Column[*Interface] {
	return figureCols(func(it *Interface) *Figures { return &it.Figures },
		col("port", func(it *Interface) string { return itoa(it.Port) }), col("name", func(it *Interface) string { return it.Name }),
		col("kernelDrops", func(it *Interface) string { return u64(it.KernelDrops) }),
		col("notProcessedDueToOverload", func(it *Interface) string { return u64(it.NotProcessed.Packets) }))
}

func (a *API) interfaceList(o listOpts) handler {
	return func(c *call) (any, error) {
		return selectPage(c, interfaces(c), func(it *Interface) *Figures { return &it.Figures }, byPortOrder, o, interfaceColumns())
	}
}

func (a *API) registerInterfaces() {
	a.summary("interfaces", func(c *call) map[string]int { return map[string]int{"ports": c.st.Interfaces.Ports.Len(c.group)} })
	a.get("/modules/interfaces/ports_paged", a.interfaceList(listOpts{paged: true}))
	a.get("/modules/interfaces/ports/:port", func(c *call) (any, error) {
		id := c.param("port")
		p, err := strconv.ParseUint(id, 10, 16)
		if err != nil {
			return nil, badID("port", "want a port number, got %s", shorten(id))
		}
		for _, it := range interfaces(c) {
			if it.Port == uint16(p) {
				return it, nil
			}
		}
		return nil, notFound("interface", id, c.group)
	})
}

// Time is the clock of an analysis instance.
type Time struct {
	Time int64 `json:"time"` // the appliance's wall clock, Unix seconds
	// LastSecond is the last complete second of the instance's clock,
	// which "lastSecond" counters show; a replay runs on its packets'
	// clock, so pick starttime and endtime from here. 0 before any.
	LastSecond  int64 `json:"lastSecond"`
	FirstSecond int64 `json:"firstSecond"` // the first second with data
	// Clock is packet (the packets' timestamps), wall, or auto (files run
	// on their packets' clock, monitor ports on the wall clock).
	Clock string `json:"clock"`
	// RecentSeconds is the window of per-second history; Levels the
	// coarser history kept after it.
	RecentSeconds int64         `json:"recentSeconds"`
	Levels        []stats.Level `json:"levels"`
}

// LoadReport is the analyzers' last second.
type LoadReport struct {
	engine.Load
	Running bool    `json:"running"`
	Average float64 `json:"average"` // mean shard load (0..1)
	Max     float64 `json:"max"`     // busiest shard's load
	Packets uint64  `json:"packets"` // processed in the last second, all shards
	Dropped uint64  `json:"dropped"` // not processed due to overload in the last second
}

func loadOf(eng *engine.Engine) LoadReport {
	r := LoadReport{Load: eng.Load(), Running: eng.Running()}
	if r.Shards == nil {
		r.Shards = []engine.ShardLoad{}
	}
	for _, s := range r.Shards {
		r.Average += s.Load / float64(len(r.Shards))
		r.Max = max(r.Max, s.Load)
		r.Packets += s.Packets
		r.Dropped += s.Dropped
	}
	return r
}

// Processing is the state of an instance's processing: whether it runs,
// its configuration, its queues, what it lost and how full its tables
// are.
type Processing struct {
	Running    bool `json:"running"`
	Finished   bool `json:"finished"` // the replayed files were read completely
	Restarting bool `json:"restarting"`
	// Config is the processing configuration with defaults applied.
	Config engine.Config `json:"config"`
	// Queues are the shard queues of the last second (depth, capacity,
	// drops).
	Queues []engine.ShardLoad `json:"queues"`
	// NotProcessed sums the interfaces' overload drops since the start.
	NotProcessed engine.Overload   `json:"notProcessedDueToOverload"`
	Interfaces   []InterfaceErrors `json:"interfaces"`
	Store        stats.Usage       `json:"store"`
	Websocket    *ws.Stats         `json:"websocket,omitempty"`
}

// Slot is an analysis instance as /API/stats/pcap lists it.
type Slot struct {
	Slot        int      `json:"slot"`
	Running     bool     `json:"running"`
	Finished    bool     `json:"finished"`
	FirstSecond int64    `json:"firstSecond"`
	LastSecond  int64    `json:"lastSecond"`
	Packets     uint64   `json:"packets"` // processed, all interfaces, all time
	Bytes       uint64   `json:"bytes"`
	Sources     []string `json:"sources"` // replayed files or interfaces
	// Groups names the virtual link groups by number (group=N): "default"
	// and then the configured groups' names.
	Groups []string `json:"groups"`
}

// Pcap lists the analysis instances (slot 0 is the main one, 1.. the pcap
// analysis slots) and the running and recent packet captures.
type Pcap struct {
	Slots    []Slot                `json:"analysisSlots"`
	Captures []extract.CaptureInfo `json:"captures"`
}

// registerSystem serves the endpoints of /API/stats besides the modules.
func (a *API) registerSystem() {
	a.get("/interfaces", a.interfaceList(listOpts{}))
	a.get("/interfacesError", func(c *call) (any, error) {
		its := interfaces(c)
		out := make([]*InterfaceErrors, len(its))
		for i, it := range its {
			out[i] = &it.InterfaceErrors
		}
		l, err := apiparam.ParseList(c.q)
		if err != nil {
			return nil, err
		}
		spec := apilist.Spec[*InterfaceErrors]{
			Order: func(x, y *InterfaceErrors) int { return cmp.Compare(x.Port, y.Port) },
			Columns: []apilist.Column[*InterfaceErrors]{
				col("port", func(e *InterfaceErrors) string { return itoa(e.Port) }), col("name", func(e *InterfaceErrors) string { return e.Name }),
				col("decodeErrors", func(e *InterfaceErrors) string { return u64(e.DecodeErrors) }),
				col("kernelDrops", func(e *InterfaceErrors) string { return u64(e.KernelDrops) }),
				col("kernelFreezes", func(e *InterfaceErrors) string { return u64(e.KernelFreezes) }),
				col("notProcessedDueToOverload", func(e *InterfaceErrors) string { return u64(e.NotProcessed.Packets) }),
			},
		}
		return spec.Select(slices.Values(out), l, c.csv)
	})
	a.get("/time", func(c *call) (any, error) {
		u := c.st.Store.Usage()
		cfg := c.st.Store.Config()
		clock := c.eng.Config().Clock
		if clock == "" {
			clock = "auto"
		}
		return Time{Time: time.Now().Unix(), LastSecond: u.Now, FirstSecond: u.First, Clock: clock,
			RecentSeconds: cfg.RecentSeconds, Levels: cfg.Levels}, nil
	})
	a.get("/load", func(c *call) (any, error) { return loadOf(c.eng), nil })
	a.get("/processing", func(c *call) (any, error) {
		p := Processing{Running: c.eng.Running(), Finished: c.eng.Finished(), Restarting: c.eng.Restarting(),
			Config: c.eng.Config(), Queues: loadOf(c.eng).Shards, Store: c.st.Store.Usage(), Interfaces: []InterfaceErrors{}}
		for _, it := range interfaces(c) {
			p.Interfaces = append(p.Interfaces, it.InterfaceErrors)
			p.NotProcessed.Packets += it.NotProcessed.Packets
			p.NotProcessed.Bytes += it.NotProcessed.Bytes
		}
		if a.hub != nil {
			s := a.hub.Stats()
			p.Websocket = &s
		}
		return p, nil
	})
	a.get("/pcap", func(c *call) (any, error) {
		p := Pcap{Slots: []Slot{}, Captures: []extract.CaptureInfo{}}
		for _, n := range a.cfg.Instances.Slots() {
			if eng, ok := a.cfg.Instances.Get(n); ok {
				p.Slots = append(p.Slots, slotOf(n, eng))
			}
		}
		if a.cfg.Captures != nil {
			p.Captures = append(p.Captures, a.cfg.Captures.List()...)
		}
		return p, nil
	})
	a.rt.Handle(http.MethodPost, Prefix+"/reset", role.Admin, func(r *api.Request) (any, error) {
		eng, ok := a.cfg.Instances.Get(r.Instance.Slot)
		if !ok {
			return nil, apierr.New(http.StatusNotFound, "no analysis instance in slot %d", r.Instance.Slot)
		}
		if err := eng.Restart(eng.Config(), true); err != nil {
			e := apierr.New(http.StatusServiceUnavailable, "reset: %v", err)
			e.RetryAfter = time.Second
			return nil, e
		}
		a.cfg.Log.Info("statistics reset", "slot", r.Instance.Slot, "user", r.Principal.User)
		return nil, nil
	})
}

func slotOf(n int, eng *engine.Engine) Slot {
	st := eng.Stats()
	u := st.Store.Usage()
	s := Slot{Slot: n, Running: eng.Running(), Finished: eng.Finished(), FirstSecond: u.First, LastSecond: u.Now, Sources: []string{}, Groups: []string{"default"}}
	for _, g := range eng.Config().Groups {
		s.Groups = append(s.Groups, g.Name)
	}
	for _, info := range eng.Interfaces() {
		if info.Name != "" {
			s.Sources = append(s.Sources, info.Name)
		}
	}
	for g := range len(eng.Config().Groups) + 1 {
		ports, _ := st.Interfaces.Ports.List(stats.ListQuery{Group: uint16(g), Query: stats.Query{SkipHistory: true}}, nil)
		for _, p := range ports {
			s.Packets += p.AllTime.Packets()
			s.Bytes += p.AllTime.Bytes()
		}
	}
	return s
}
