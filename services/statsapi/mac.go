package statsapi

import (
	"cmp"
	"fmt"
	"net"
	"slices"
	"strconv"
	"strings"

	"github.com/multimeter-fw/multimeter/services/analysis/ip"
	"github.com/multimeter-fw/multimeter/services/analysis/mac"
	"github.com/multimeter-fw/multimeter/services/apilist"
	"github.com/multimeter-fw/multimeter/services/apiparam"
	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/engine"
	"github.com/multimeter-fw/multimeter/services/stats"
)

// MAC is one Ethernet address with its traffic (tx: frames from it, rx:
// frames to it; broadcast and multicast addresses only receive).
type MAC struct {
	MAC       string   `json:"mac"`
	Broadcast bool     `json:"broadcast"`
	Multicast bool     `json:"multicast"` // group address, broadcast included
	VLANs     []uint16 `json:"vlans"`     // outer VLAN IDs it was seen in (0: untagged), the first four
	Figures
}

// MACPeer is a MAC's peer with the frames between the two, seen from the
// MAC.
type MACPeer struct {
	MAC string `json:"mac"`
	Figures
}

// EtherType is a protocol a MAC sent (tx only), or, in the mac_protocols
// module, what all MACs sent of it (rx).
type EtherType struct {
	EtherType string `json:"etherType"` // 0x0800
	Name      string `json:"name"`      // IPv4
	MACs      int    `json:"macs,omitempty"`
	Figures
}

// IPOfMAC is an IP that sent from a MAC, with what it sent from there.
type IPOfMAC struct {
	IP string `json:"ip"`
	Figures
}

// VLANOfMAC is a VLAN a MAC was seen in (0: untagged).
type VLANOfMAC struct {
	VLAN uint16 `json:"vlan"`
}

func parseMAC(param, id string) (decode.MAC, error) {
	hw, err := net.ParseMAC(id)
	if err != nil || len(hw) != 6 {
		return decode.MAC{}, badID(param, "want a MAC address such as ff:ff:ff:ff:ff:ff, got %s", shorten(id))
	}
	return decode.MAC(hw), nil
}

var etherTypeNames = map[uint16]string{
	0x0800: "IPv4", 0x0806: "ARP", 0x86dd: "IPv6", 0x8100: "VLAN", 0x88a8: "QinQ", 0x8847: "MPLS",
	0x8848: "MPLS multicast", 0x88cc: "LLDP", 0x8863: "PPPoE discovery", 0x8864: "PPPoE session",
	0x888e: "EAPOL", 0x88f7: "PTP", 0x8892: "PROFINET", 0x0842: "Wake-on-LAN", 0x8035: "RARP",
	0x88e5: "MACsec", 0x8809: "Slow protocols (LACP)", 0x22f0: "AVTP", 0x88ba: "IEC 61850 SV", 0x88b8: "IEC 61850 GOOSE",
}

func etherTypeOf(t uint16, f *Figures) *EtherType {
	name := etherTypeNames[t]
	if name == "" {
		if t < 0x0600 {
			name = "802.3 length"
		} else {
			name = "unknown"
		}
	}
	return &EtherType{EtherType: fmt.Sprintf("0x%04x", t), Name: name, Figures: *f}
}

func parseEtherType(param, id string) (uint16, error) {
	v, err := strconv.ParseUint(strings.TrimPrefix(strings.ToLower(id), "0x"), 16, 16)
	if err != nil {
		return 0, badID(param, "want an EtherType such as 0x0800, got %s", shorten(id))
	}
	return uint16(v), nil
}

func etherTypeColumns() []apilist.Column[*EtherType] {
	return append([]apilist.Column[*EtherType]{
		{Name: "etherType", Value: func(e *EtherType) string { return e.EtherType }},
		{Name: "name", Value: func(e *EtherType) string { return e.Name }},
	}, figureColumns(func(e *EtherType) *Figures { return &e.Figures })...)
}

func renderMAC(_ *call, e *stats.Entity[mac.Key, mac.Attr]) *MAC {
	m := e.Key.MAC
	return &MAC{MAC: m.String(), Broadcast: m.IsBroadcast(), Multicast: m.IsMulticast(), VLANs: e.Attr.VLANs.List(), Figures: figuresOf(&e.Figures)}
}

func (a *API) macs() *entities[mac.Key, mac.Attr, MAC] {
	return &entities[mac.Key, mac.Attr, MAC]{
		what:   "MAC",
		param:  "mac",
		series: func(st *engine.Stats) *stats.Series[mac.Key, mac.Attr] { return st.MAC.MACs },
		key: func(id string, g uint16) (mac.Key, error) {
			m, err := parseMAC("mac", id)
			return mac.Key{MAC: m, Group: g}, err
		},
		render:  renderMAC,
		columns: append([]apilist.Column[*MAC]{{Name: "mac", Value: func(m *MAC) string { return m.MAC }}}, figureColumns(func(m *MAC) *Figures { return &m.Figures })...),
		opts:    listOpts{paged: true},
		match: func(f *textFilter) stats.Filter[mac.Key, mac.Attr] {
			return func(k *mac.Key, _ *mac.Attr) bool { return f.matchMAC(k.MAC) }
		},
	}
}

func (a *API) registerMAC() {
	const base = "/modules/mac"
	macs := a.macs()
	macs.register(a, base+"/macs", base+"/macs_paged")
	a.get(base, func(c *call) (any, error) {
		return ModuleSummary{Module: "mac", Entities: map[string]int{"macs": c.st.MAC.MACs.Len(c.group), "peers": c.st.MAC.Pairs.Len(c.group)}}, nil
	})
	sub := func(name string, h func(c *call, m decode.MAC) (any, error)) {
		a.get(base+"/macs/:mac/"+name, func(c *call) (any, error) {
			id := c.param("mac")
			m, err := parseMAC("mac", id)
			if err != nil {
				return nil, err
			}
			if err := exists(c.st.MAC.MACs, mac.Key{MAC: m, Group: c.group}, "MAC", id); err != nil {
				return nil, err
			}
			return h(c, m)
		})
	}
	sub("peers", func(c *call, m decode.MAC) (any, error) {
		lq, l, err := c.listQuery(listOpts{})
		if err != nil {
			return nil, err
		}
		peers, total := c.st.MAC.Peers(m, lq)
		out := make([]*MACPeer, len(peers))
		for i := range peers {
			out[i] = &MACPeer{MAC: peers[i].MAC.String(), Figures: figuresOf(&peers[i].Figures)}
		}
		cols := append([]apilist.Column[*MACPeer]{{Name: "mac", Value: func(p *MACPeer) string { return p.MAC }}},
			figureColumns(func(p *MACPeer) *Figures { return &p.Figures })...)
		l.Sort = lq.Sort.String()
		return apilist.NewPage(out, total, l, lq.Count, cols), nil
	})
	sub("ips", func(c *call, m decode.MAC) (any, error) {
		lq, l, err := c.listQuery(listOpts{})
		if err != nil {
			return nil, err
		}
		items, total := c.st.IP.IPsOf(m, lq)
		render := func(_ *call, e *stats.Entity[ip.MACKey, struct{}]) *IPOfMAC {
			return &IPOfMAC{IP: e.Key.Addr.String(), Figures: figuresOf(&e.Figures)}
		}
		cols := append([]apilist.Column[*IPOfMAC]{{Name: "ip", Value: func(p *IPOfMAC) string { return p.IP }}},
			figureColumns(func(p *IPOfMAC) *Figures { return &p.Figures })...)
		return renderPage(c, items, total, l, lq, render, cols), nil
	})
	sub("protocols", func(c *call, m decode.MAC) (any, error) {
		lq, l, err := c.listQuery(listOpts{})
		if err != nil {
			return nil, err
		}
		items, total := c.st.MAC.ProtocolsOf(m, lq)
		render := func(_ *call, e *stats.Entity[mac.ProtoKey, struct{}]) *EtherType {
			f := figuresOf(&e.Figures)
			return etherTypeOf(e.Key.EtherType, &f)
		}
		return renderPage(c, items, total, l, lq, render, etherTypeColumns()), nil
	})
	sub("vlans", func(c *call, m decode.MAC) (any, error) {
		e, ok := c.st.MAC.Get(c.group, m, stats.Query{SkipHistory: true})
		if !ok {
			return nil, notFound("MAC", c.param("mac"), c.group)
		}
		l, err := apiparam.ParseList(c.q)
		if err != nil {
			return nil, err
		}
		var items []*VLANOfMAC
		for _, id := range e.Attr.VLANs.List() {
			items = append(items, &VLANOfMAC{VLAN: id})
		}
		spec := apilist.Spec[*VLANOfMAC]{
			Order:   func(x, y *VLANOfMAC) int { return cmp.Compare(x.VLAN, y.VLAN) },
			Columns: []apilist.Column[*VLANOfMAC]{{Name: "vlan", Value: func(v *VLANOfMAC) string { return strconv.Itoa(int(v.VLAN)) }}},
		}
		return spec.Select(slices.Values(items), l, c.csv)
	})
	a.registerMACProtocols()
}

// registerMACProtocols serves the EtherTypes over all MACs and the MACs
// that sent one.
func (a *API) registerMACProtocols() {
	const base = "/modules/mac_protocols"
	a.get(base, func(c *call) (any, error) {
		return ModuleSummary{Module: "mac_protocols", Entities: map[string]int{"macProtocols": c.st.MAC.Protocols.Len(c.group)}}, nil
	})
	a.get(base+"/protocols_paged", func(c *call) (any, error) {
		items := a.etherTypes(c, nil)
		return selectPage(c, items, func(e *EtherType) *Figures { return &e.Figures },
			func(x, y *EtherType) int { return strings.Compare(x.EtherType, y.EtherType) }, listOpts{paged: true}, etherTypeColumns())
	})
	a.get(base+"/protocols/:etherType", func(c *call) (any, error) {
		id := c.param("etherType")
		t, err := parseEtherType("etherType", id)
		if err != nil {
			return nil, err
		}
		items := a.etherTypes(c, &t)
		if len(items) == 0 {
			return nil, notFound("EtherType", id, c.group)
		}
		return items[0], nil
	})
	a.get(base+"/protocols/:etherType/macs", func(c *call) (any, error) {
		id := c.param("etherType")
		t, err := parseEtherType("etherType", id)
		if err != nil {
			return nil, err
		}
		lq, l, err := c.listQuery(listOpts{paged: true})
		if err != nil {
			return nil, err
		}
		items, total := c.st.MAC.Protocols.List(lq, func(k *mac.ProtoKey, _ *struct{}) bool { return k.EtherType == t })
		render := func(_ *call, e *stats.Entity[mac.ProtoKey, struct{}]) *MACPeer {
			return &MACPeer{MAC: e.Key.MAC.String(), Figures: figuresOf(&e.Figures)}
		}
		cols := append([]apilist.Column[*MACPeer]{{Name: "mac", Value: func(p *MACPeer) string { return p.MAC }}},
			figureColumns(func(p *MACPeer) *Figures { return &p.Figures })...)
		return renderPage(c, items, total, l, lq, render, cols), nil
	})
}

// etherTypes sums what every MAC sent per EtherType (only of one type
// when only is set). A protocol is not an endpoint: it counts as rx. The
// sums carry no history: it would cost a pass over every MAC's history.
func (a *API) etherTypes(c *call, only *uint16) []*EtherType {
	byType := map[uint16]*EtherType{}
	q := stats.ListQuery{Query: c.time, Group: c.group}
	q.SkipHistory = true
	all, _ := c.st.MAC.Protocols.List(q, func(k *mac.ProtoKey, _ *struct{}) bool { return only == nil || k.EtherType == *only })
	for i := range all {
		e := &all[i]
		f := figuresOf(&e.Figures)
		swapFigures(&f)
		et := byType[e.Key.EtherType]
		if et == nil {
			byType[e.Key.EtherType] = etherTypeOf(e.Key.EtherType, &f)
			byType[e.Key.EtherType].MACs = 1
			continue
		}
		et.MACs++
		et.Figures.add(&f)
	}
	items := make([]*EtherType, 0, len(byType))
	for _, et := range byType {
		items = append(items, et)
	}
	return items
}

// swapFigures turns what an entity sent (tx) into what a protocol carried
// (rx).
func swapFigures(f *Figures) {
	sw := func(c *Counters) { c[0], c[1], c[2], c[3] = c[2], c[3], c[0], c[1] }
	sw(&f.AllTime)
	sw(&f.LastSecond)
	sw(&f.Interval)
	sw(&f.IntervalPerSecond)
	if f.History != nil {
		for i := range f.History.Datasets {
			sw(&f.History.Datasets[i])
		}
	}
}
