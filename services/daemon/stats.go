package daemon

import (
	"log/slog"

	"github.com/multimeter-fw/multimeter/services/api"
	"github.com/multimeter-fw/multimeter/services/engine"
	"github.com/multimeter-fw/multimeter/services/statsapi"
	"github.com/multimeter-fw/multimeter/services/ws"
)

// registerStats serves the statistics of the analysis instances: the
// /API/stats tree and the live websocket topics.
func registerStats(rt *api.Router, hub *ws.Hub, analysis *engine.Registry, captures statsapi.Captures, cfg Config, log *slog.Logger) {
	statsapi.Register(rt, hub, statsapi.Config{Instances: analysis, Hostname: cfg.Hostname, Captures: captures, Log: log})
}

// analysisSlots tells the router which analysis instances mm-id may name.
type analysisSlots struct{ reg *engine.Registry }

func (s analysisSlots) HasSlot(n int) bool {
	_, ok := s.reg.Get(n)
	return ok
}
