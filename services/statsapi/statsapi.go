// Package statsapi serves the statistics of the analysis instances: the
// REST tree under /API/stats (the modules' entities, lists and CSV, the
// interfaces, load, processing, time, pcap and reset endpoints) and the
// websocket topics of the live feed. Every answer is read from the
// engine's statistics store of the instance the request addresses (mm-id
// or the X-AllegroPackets-Multimeter-ID header: slot 0 is the main
// instance, 1.. the pcap analysis slots).
//
//	statsapi.Register(router, hub, statsapi.Config{Instances: registry, Hostname: host})
//
// The JSON shapes are the exported types of this package. Handlers only
// parse, look up and render: the store sorts and pages the large tables
// itself (stats.Series.List) and looks only at the entities that can be
// on the page. DESIGN.md next to this file says how, and what requests
// cost.
package statsapi

import (
	"log/slog"
	"net/http"
	"strings"
	"time"

	"github.com/multimeter-fw/multimeter/services/api"
	"github.com/multimeter-fw/multimeter/services/apierr"
	"github.com/multimeter-fw/multimeter/services/apiparam"
	"github.com/multimeter-fw/multimeter/services/engine"
	"github.com/multimeter-fw/multimeter/services/extract"
	"github.com/multimeter-fw/multimeter/services/role"
	"github.com/multimeter-fw/multimeter/services/stats"
	"github.com/multimeter-fw/multimeter/services/ws"
)

// Instances are the analysis instances by slot; *engine.Registry is one.
type Instances interface {
	Get(slot int) (*engine.Engine, bool)
	Slots() []int
}

// Captures lists running and recent packet captures; the extraction
// service's *extract.Registry is one.
type Captures interface {
	List() []extract.CaptureInfo
}

// Config is what the statistics API serves from.
type Config struct {
	// Instances answer the requests; required.
	Instances Instances
	// Hostname is this device's name, which mm-id in a websocket
	// subscription may name (the router checks it for REST requests).
	Hostname string
	// Captures, when set, are listed by /API/stats/pcap.
	Captures Captures
	// Log receives what goes wrong; nil discards.
	Log *slog.Logger
}

// API is the registered statistics API.
type API struct {
	cfg Config
	rt  *api.Router
	hub *ws.Hub
}

// Register puts the statistics routes on rt and, when hub is not nil, the
// live topics on hub. Reading needs the stats role; resetting needs admin.
func Register(rt *api.Router, hub *ws.Hub, cfg Config) *API {
	if cfg.Log == nil {
		cfg.Log = slog.New(slog.DiscardHandler)
	}
	a := &API{cfg: cfg, rt: rt, hub: hub}
	a.registerSystem()
	a.registerModules()
	if hub != nil {
		a.registerTopics()
	}
	return a
}

// Prefix is where the statistics tree lives.
const Prefix = "/API/stats"

// call is one request, REST or websocket, resolved to its instance and
// with the parameters every statistics answer shares parsed.
type call struct {
	eng   *engine.Engine
	st    *engine.Stats
	q     apiparam.Query
	param func(name string) string // path parameters (REST) or subscription parameters
	group uint16
	time  stats.Query
	csv   bool
}

// handler answers a statistics request.
type handler func(c *call) (any, error)

// get registers a GET route under the statistics tree for stats readers.
func (a *API) get(path string, h handler) {
	a.rt.Handle(http.MethodGet, Prefix+path, role.Stats, func(r *api.Request) (any, error) {
		c, err := a.newCall(r.Instance.Slot, r.Query, r.Param)
		if err != nil {
			return nil, err
		}
		return h(c)
	})
}

// newCall resolves the instance in slot and parses the shared parameters.
func (a *API) newCall(slot int, q apiparam.Query, param func(string) string) (*call, error) {
	eng, ok := a.cfg.Instances.Get(slot)
	if !ok {
		return nil, apierr.New(http.StatusNotFound, "no analysis instance in slot %d", slot)
	}
	if eng.Restarting() {
		e := apierr.New(http.StatusServiceUnavailable, "processing is restarting")
		e.RetryAfter = time.Second
		return nil, e
	}
	c := &call{eng: eng, st: eng.Stats(), q: q, param: param}
	var err error
	if c.group, err = groupOf(eng, q); err != nil {
		return nil, err
	}
	iv, err := apiparam.ParseInterval(q)
	if err != nil {
		return nil, err
	}
	c.time = stats.Query{Timespan: int64(iv.Timespan / time.Second), Values: iv.Values, SkipHistory: iv.SkipHistory}
	if !iv.Start.IsZero() {
		c.time.Start = iv.Start.Unix()
	}
	if !iv.End.IsZero() {
		c.time.End = iv.End.Unix()
	}
	if c.csv, err = apiparam.CSV(q); err != nil {
		return nil, err
	}
	if c.csv {
		c.time.SkipHistory = true // a table has no graphs
	}
	return c, nil
}

// groupOf reads group=N and checks that the instance has that virtual
// link group (0 is the default group; rules add 1..n).
func groupOf(eng *engine.Engine, q apiparam.Query) (uint16, error) {
	g, err := apiparam.Group(q)
	if err != nil {
		return 0, err
	}
	if n := len(eng.Config().Groups); g > n {
		if n == 0 {
			return 0, apierr.BadParam("group", "%d: no virtual link groups are configured (only group 0)", g)
		}
		return 0, apierr.BadParam("group", "%d: the configured virtual link groups are 0..%d", g, n)
	}
	return uint16(g), nil
}

// notFound is the 404 for an entity that is not in the store.
func notFound(what, id string, group uint16) error {
	return apierr.New(http.StatusNotFound, "no %s %s in group %d", what, id, group)
}

// badID is the 400 for a path parameter that does not parse.
func badID(param, format string, args ...any) error {
	e := apierr.BadParam(param, format, args...)
	e.Message = "path " + strings.TrimPrefix(e.Message, "parameter ")
	return e
}
