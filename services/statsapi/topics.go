package statsapi

import (
	"net/http"
	"strings"

	"github.com/multimeter-fw/multimeter/services/apierr"
	"github.com/multimeter-fw/multimeter/services/apiparam"
	"github.com/multimeter-fw/multimeter/services/engine"
	"github.com/multimeter-fw/multimeter/services/role"
	"github.com/multimeter-fw/multimeter/services/ws"
)

// Dashboard is the global view of an instance, once a second.
type Dashboard struct {
	LastSecond int64 `json:"lastSecond"` // the instance's last complete second
	// Traffic sums the interfaces: everything the analysis processed.
	Traffic struct {
		AllTime    Counters `json:"allTime"`
		LastSecond Counters `json:"lastSecond"`
	} `json:"traffic"`
	IPs          int             `json:"ips"`
	MACs         int             `json:"macs"`
	Connections  int             `json:"connections"`
	Running      bool            `json:"running"`
	Load         float64         `json:"load"` // mean analyzer load (0..1)
	KernelDrops  uint64          `json:"kernelDrops"`
	NotProcessed engine.Overload `json:"notProcessedDueToOverload"`
}

func dashboard(c *call) (any, error) {
	d := Dashboard{LastSecond: c.st.Store.Now(), Running: c.eng.Running(), Load: loadOf(c.eng).Average,
		IPs: c.st.IP.IPs.Len(c.group), MACs: c.st.MAC.MACs.Len(c.group), Connections: c.st.Conns.Conns.Len(c.group)}
	for _, it := range interfaces(c) {
		addCounters(&d.Traffic.AllTime, &it.AllTime)
		addCounters(&d.Traffic.LastSecond, &it.LastSecond)
		d.KernelDrops += it.KernelDrops
		d.NotProcessed.Packets += it.NotProcessed.Packets
		d.NotProcessed.Bytes += it.NotProcessed.Bytes
	}
	return d, nil
}

// registerTopics puts the live topics on the hub. Their parameters are
// the REST parameters of the matching endpoint (mm-id, group, starttime,
// ...) plus the path parameters by name (ip, mac); they never carry
// history datasets.
func (a *API) registerTopics() {
	a.topic("dashboard", dashboard)
	a.topic("interfaces", a.interfaceList(listOpts{}))
	a.topic("load", func(c *call) (any, error) { return loadOf(c.eng), nil })
	top := listOpts{paged: true, defSort: "bps", defReverse: true}
	ips := a.ips()
	a.topic("ip", ips.one)
	ips.opts = top
	a.topic("ips_top", ips.list)
	macs := a.macs()
	a.topic("mac", macs.one)
	macs.opts = top
	a.topic("macs_top", macs.list)
	apps := a.appProtocols()
	apps.opts = top
	a.topic("dpi_top", apps.list)
}

// topic registers a provider answering like a REST handler.
func (a *API) topic(name string, h handler) {
	a.hub.Register(name, role.Stats, ws.ProviderFunc(func(r ws.Request) (any, error) {
		inst, err := apiparam.ParseInstance(r.Params, "")
		if err != nil {
			return nil, err
		}
		if inst.Device != "" && !strings.EqualFold(inst.Device, a.cfg.Hostname) {
			return nil, apierr.New(http.StatusNotFound, "unknown device %q", inst.Device)
		}
		c, err := a.newCall(inst.Slot, r.Params, func(name string) string {
			v, _ := r.Params.Value(name)
			return v
		})
		if err != nil {
			return nil, err
		}
		c.time.SkipHistory = true
		return h(c)
	}))
}
