package statsapi

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/multimeter-fw/multimeter/services/analysis/icmp"
	"github.com/multimeter-fw/multimeter/services/analysis/l4port"
	"github.com/multimeter-fw/multimeter/services/analysis/l7"
	"github.com/multimeter-fw/multimeter/services/analysis/mpls"
	"github.com/multimeter-fw/multimeter/services/analysis/pktsize"
	"github.com/multimeter-fw/multimeter/services/analysis/qos"
	"github.com/multimeter-fw/multimeter/services/analysis/vlan"
	"github.com/multimeter-fw/multimeter/services/apilist"
	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/dpi"
	"github.com/multimeter-fw/multimeter/services/engine"
	"github.com/multimeter-fw/multimeter/services/l7proto"
	"github.com/multimeter-fw/multimeter/services/stats"
)

// registerModules serves /API/stats/modules and every module under it.
func (a *API) registerModules() {
	a.get("/modules", func(c *call) (any, error) {
		return map[string][]string{"modules": c.st.Modules()}, nil
	})
	a.registerInterfaces()
	a.registerPacketSize()
	a.registerQoS()
	a.registerMPLS()
	a.registerVLAN()
	a.registerMAC()
	a.registerARP()
	a.registerICMP()
	a.registerIP()
	a.registerL4Ports()
	a.registerDPI()
	a.registerDNS()
	a.registerDHCP()
	a.registerSIP()
	a.registerTCP()
}

// summary serves a module's root: how many entities of each kind it has.
func (a *API) summary(module string, counts func(c *call) map[string]int) {
	a.get("/modules/"+module, func(c *call) (any, error) {
		return ModuleSummary{Module: module, Entities: counts(c)}, nil
	})
}

// figureCols prepends key columns to the figure columns.
func figureCols[T any](fig func(*T) *Figures, keys ...apilist.Column[*T]) []apilist.Column[*T] {
	return append(keys, figureColumns(fig)...)
}

func col[T any](name string, v func(*T) string) apilist.Column[*T] {
	return apilist.Column[*T]{Name: name, Value: v}
}

func itoa[N ~int | ~uint8 | ~uint16 | ~uint32](v N) string { return strconv.Itoa(int(v)) }

// VLAN is a VLAN with the traffic it carried (rx).
type VLAN struct {
	VLAN      uint16 `json:"vlan"`
	InnerVLAN uint16 `json:"innerVlan,omitempty"` // QinQ: the inner tag
	Figures
}

func (a *API) registerVLAN() {
	a.summary("vlan", func(c *call) map[string]int { return map[string]int{"vlans": c.st.VLAN.VLANs.Len(c.group)} })
	es := &entities[vlan.Key, struct{}, VLAN]{
		what:   "VLAN",
		param:  "vlan",
		series: func(st *engine.Stats) *stats.Series[vlan.Key, struct{}] { return st.VLAN.VLANs },
		key: func(id string, g uint16) (vlan.Key, error) {
			outer, inner, hasInner := strings.Cut(id, ".")
			o, err1 := strconv.ParseUint(outer, 10, 12)
			var in uint64
			var err2 error
			if hasInner {
				in, err2 = strconv.ParseUint(inner, 10, 12)
			}
			if err1 != nil || err2 != nil {
				return vlan.Key{}, badID("vlan", "want a VLAN ID 0..4095, or outer.inner for QinQ, got %s", shorten(id))
			}
			return vlan.Key{Outer: uint16(o), Inner: uint16(in), Group: g}, nil
		},
		render: func(_ *call, e *stats.Entity[vlan.Key, struct{}]) *VLAN {
			return &VLAN{VLAN: e.Key.Outer, InnerVLAN: e.Key.Inner, Figures: figuresOf(&e.Figures)}
		},
		columns: figureCols(func(v *VLAN) *Figures { return &v.Figures },
			col("vlan", func(v *VLAN) string { return itoa(v.VLAN) }), col("innerVlan", func(v *VLAN) string { return itoa(v.InnerVLAN) })),
		opts: listOpts{paged: true},
	}
	es.register(a, "/modules/vlan/vlans", "/modules/vlan/vlans_paged")
}

// MPLSLabel is an MPLS label at one depth of the stack (0 outermost), or
// summed over the depths it was seen at, with the traffic it carried.
type MPLSLabel struct {
	Label  uint32  `json:"label"`
	Depth  *uint8  `json:"depth,omitempty"`  // in lists
	Depths []uint8 `json:"depths,omitempty"` // for one label: where it was seen
	Figures
}

func (a *API) registerMPLS() {
	a.summary("mpls", func(c *call) map[string]int { return map[string]int{"labels": c.st.MPLS.Labels.Len(c.group)} })
	es := &entities[mpls.Key, struct{}, MPLSLabel]{
		series: func(st *engine.Stats) *stats.Series[mpls.Key, struct{}] { return st.MPLS.Labels },
		render: func(_ *call, e *stats.Entity[mpls.Key, struct{}]) *MPLSLabel {
			d := e.Key.Depth
			return &MPLSLabel{Label: e.Key.Label, Depth: &d, Figures: figuresOf(&e.Figures)}
		},
		columns: figureCols(func(l *MPLSLabel) *Figures { return &l.Figures },
			col("label", func(l *MPLSLabel) string { return strconv.FormatUint(uint64(l.Label), 10) }),
			col("depth", func(l *MPLSLabel) string { return itoa(*l.Depth) })),
		opts: listOpts{paged: true},
	}
	a.get("/modules/mpls/labels_paged", es.list)
	a.get("/modules/mpls/labels/:label", func(c *call) (any, error) {
		id := c.param("label")
		v, err := strconv.ParseUint(id, 10, 20)
		if err != nil {
			return nil, badID("label", "want an MPLS label 0..1048575, got %s", shorten(id))
		}
		var sum *MPLSLabel
		for d := range uint8(decode.MaxMPLS) {
			e, ok := c.st.MPLS.Labels.Get(mpls.Key{Label: uint32(v), Depth: d, Group: c.group}, c.time)
			if !ok {
				continue
			}
			f := figuresOf(&e.Figures)
			if sum == nil {
				sum = &MPLSLabel{Label: uint32(v), Figures: f}
			} else {
				sum.Figures.add(&f)
			}
			sum.Depths = append(sum.Depths, d)
		}
		if sum == nil {
			return nil, notFound("MPLS label", id, c.group)
		}
		return sum, nil
	})
}

// QoSMarking is a DSCP value or VLAN priority (PCP) with the traffic
// marked with it (rx).
type QoSMarking struct {
	Kind  string `json:"kind"` // dscp or pcp
	Value uint8  `json:"value"`
	Name  string `json:"name"` // EF, AF41, CS0, ... for DSCP
	Figures
}

var dscpNames = map[uint8]string{0: "CS0", 8: "CS1", 16: "CS2", 24: "CS3", 32: "CS4", 40: "CS5", 48: "CS6", 56: "CS7",
	10: "AF11", 12: "AF12", 14: "AF13", 18: "AF21", 20: "AF22", 22: "AF23", 26: "AF31", 28: "AF32", 30: "AF33",
	34: "AF41", 36: "AF42", 38: "AF43", 44: "VOICE-ADMIT", 46: "EF", 1: "LE"}

func (a *API) registerQoS() {
	a.summary("qos", func(c *call) map[string]int { return map[string]int{"markings": c.st.QoS.Markings.Len(c.group)} })
	es := &entities[qos.Key, struct{}, QoSMarking]{
		what:   "QoS marking",
		param:  "marking",
		series: func(st *engine.Stats) *stats.Series[qos.Key, struct{}] { return st.QoS.Markings },
		key: func(id string, g uint16) (qos.Key, error) {
			kind, value, _ := strings.Cut(strings.ToLower(id), ":")
			v, err := strconv.ParseUint(value, 10, 8)
			k := qos.Key{Value: uint8(v), Group: g}
			switch {
			case err == nil && kind == "dscp" && v < 64:
				k.Kind = qos.DSCP
			case err == nil && kind == "pcp" && v < 8:
				k.Kind = qos.PCP
			default:
				return k, badID("marking", "want dscp:0..63 or pcp:0..7, got %s", shorten(id))
			}
			return k, nil
		},
		render: func(_ *call, e *stats.Entity[qos.Key, struct{}]) *QoSMarking {
			m := &QoSMarking{Kind: e.Key.Kind.String(), Value: e.Key.Value, Figures: figuresOf(&e.Figures)}
			if e.Key.Kind == qos.DSCP {
				m.Name = dscpNames[e.Key.Value]
			}
			return m
		},
		columns: figureCols(func(m *QoSMarking) *Figures { return &m.Figures },
			col("kind", func(m *QoSMarking) string { return m.Kind }), col("value", func(m *QoSMarking) string { return itoa(m.Value) }),
			col("name", func(m *QoSMarking) string { return m.Name })),
		opts: listOpts{paged: true},
	}
	es.register(a, "/modules/qos/markings", "/modules/qos/markings_paged")
}

// PacketSize is a packet size class (RMON, FCS included) with the traffic
// in it (rx).
type PacketSize struct {
	Size  uint16 `json:"size"`  // the class's lower bound in bytes
	Range string `json:"range"` // "65-127"
	Figures
}

func sizeRange(c pktsize.Class) string {
	for i, cl := range pktsize.Classes {
		if cl != c {
			continue
		}
		switch {
		case i == 0:
			return "<64"
		case i == len(pktsize.Classes)-1:
			return ">" + itoa(c-1)
		case pktsize.Classes[i+1]-1 == c:
			return itoa(c)
		}
		return fmt.Sprintf("%d-%d", c, pktsize.Classes[i+1]-1)
	}
	return itoa(c)
}

func (a *API) registerPacketSize() {
	a.summary("packet_size", func(c *call) map[string]int { return map[string]int{"sizes": c.st.PacketSize.Sizes.Len(c.group)} })
	es := &entities[pktsize.Key, struct{}, PacketSize]{
		what:   "packet size class",
		param:  "size",
		series: func(st *engine.Stats) *stats.Series[pktsize.Key, struct{}] { return st.PacketSize.Sizes },
		key: func(id string, g uint16) (pktsize.Key, error) {
			v, err := strconv.ParseUint(id, 10, 16)
			if err != nil {
				return pktsize.Key{}, badID("size", "want a size class (%v), got %s", pktsize.Classes, shorten(id))
			}
			return pktsize.Key{Class: pktsize.Class(v), Group: g}, nil
		},
		render: func(_ *call, e *stats.Entity[pktsize.Key, struct{}]) *PacketSize {
			return &PacketSize{Size: uint16(e.Key.Class), Range: sizeRange(e.Key.Class), Figures: figuresOf(&e.Figures)}
		},
		columns: figureCols(func(p *PacketSize) *Figures { return &p.Figures }, col("size", func(p *PacketSize) string { return itoa(p.Size) }),
			col("range", func(p *PacketSize) string { return p.Range })),
		opts: listOpts{paged: true},
	}
	es.register(a, "/modules/packet_size/sizes", "/modules/packet_size/sizes_paged")
}

// ICMPMessage is an ICMP or ICMPv6 message type and code with the traffic
// of such messages (rx).
type ICMPMessage struct {
	Protocol string `json:"protocol"` // icmp or icmpv6
	Type     uint8  `json:"type"`
	Code     uint8  `json:"code"`
	Name     string `json:"name"`
	Figures
}

var icmpNames = map[bool]map[uint8]string{
	false: {0: "echo reply", 3: "destination unreachable", 4: "source quench", 5: "redirect", 8: "echo request",
		9: "router advertisement", 10: "router solicitation", 11: "time exceeded", 12: "parameter problem",
		13: "timestamp", 14: "timestamp reply"},
	true: {1: "destination unreachable", 2: "packet too big", 3: "time exceeded", 4: "parameter problem",
		128: "echo request", 129: "echo reply", 130: "multicast listener query", 131: "multicast listener report",
		132: "multicast listener done", 133: "router solicitation", 134: "router advertisement",
		135: "neighbor solicitation", 136: "neighbor advertisement", 137: "redirect", 143: "multicast listener report v2"},
}

func (a *API) registerICMP() {
	a.summary("icmp", func(c *call) map[string]int { return map[string]int{"messages": c.st.ICMP.Messages.Len(c.group)} })
	es := &entities[icmp.Key, struct{}, ICMPMessage]{
		what:   "ICMP message",
		param:  "message",
		series: func(st *engine.Stats) *stats.Series[icmp.Key, struct{}] { return st.ICMP.Messages },
		key: func(id string, g uint16) (icmp.Key, error) {
			parts := strings.Split(strings.ToLower(id), ":")
			bad := badID("message", "want icmp:<type>:<code> or icmpv6:<type>:<code>, got %s", shorten(id))
			if len(parts) != 3 || (parts[0] != "icmp" && parts[0] != "icmpv6") {
				return icmp.Key{}, bad
			}
			t, err1 := strconv.ParseUint(parts[1], 10, 8)
			code, err2 := strconv.ParseUint(parts[2], 10, 8)
			if err1 != nil || err2 != nil {
				return icmp.Key{}, bad
			}
			return icmp.Key{V6: parts[0] == "icmpv6", Type: uint8(t), Code: uint8(code), Group: g}, nil
		},
		render: func(_ *call, e *stats.Entity[icmp.Key, struct{}]) *ICMPMessage {
			m := &ICMPMessage{Protocol: "icmp", Type: e.Key.Type, Code: e.Key.Code, Name: icmpNames[e.Key.V6][e.Key.Type], Figures: figuresOf(&e.Figures)}
			if e.Key.V6 {
				m.Protocol = "icmpv6"
			}
			return m
		},
		columns: figureCols(func(m *ICMPMessage) *Figures { return &m.Figures },
			col("protocol", func(m *ICMPMessage) string { return m.Protocol }), col("type", func(m *ICMPMessage) string { return itoa(m.Type) }),
			col("code", func(m *ICMPMessage) string { return itoa(m.Code) }), col("name", func(m *ICMPMessage) string { return m.Name })),
		opts: listOpts{paged: true},
	}
	es.register(a, "/modules/icmp/messages", "/modules/icmp/messages_paged")
}

// ServerPort is an L4 server port with the traffic of its connections
// (rx: what clients sent to it, tx: what its servers sent).
type ServerPort struct {
	Port        uint16 `json:"port"`
	Protocol    string `json:"protocol"`
	Service     string `json:"service"` // the protocol usually found on this port, "Unknown" if none
	Connections uint64 `json:"connections"`
	Figures
}

func (a *API) registerL4Ports() {
	a.summary("l4_ports", func(c *call) map[string]int { return map[string]int{"ports": c.st.L4Ports.Ports.Len(c.group)} })
	es := &entities[l4port.Key, l4port.Attr, ServerPort]{
		what:   "server port",
		param:  "port",
		series: func(st *engine.Stats) *stats.Series[l4port.Key, l4port.Attr] { return st.L4Ports.Ports },
		key: func(id string, g uint16) (l4port.Key, error) {
			proto, port, _ := strings.Cut(id, ":")
			p, ok := parseProto(proto)
			n, err := strconv.ParseUint(port, 10, 16)
			if !ok || err != nil || (p != decode.ProtoTCP && p != decode.ProtoUDP && p != decode.ProtoSCTP) {
				return l4port.Key{}, badID("port", "want tcp:<port>, udp:<port> or sctp:<port>, got %s", shorten(id))
			}
			return l4port.Key{Port: uint16(n), Proto: p, Group: g}, nil
		},
		render: func(_ *call, e *stats.Entity[l4port.Key, l4port.Attr]) *ServerPort {
			return &ServerPort{Port: e.Key.Port, Protocol: protoName(e.Key.Proto), Service: dpi.ByPort(e.Key.Proto, e.Key.Port, e.Key.Port).String(),
				Connections: e.Attr.Connections, Figures: figuresOf(&e.Figures)}
		},
		columns: figureCols(func(p *ServerPort) *Figures { return &p.Figures },
			col("port", func(p *ServerPort) string { return itoa(p.Port) }), col("protocol", func(p *ServerPort) string { return p.Protocol }),
			col("service", func(p *ServerPort) string { return p.Service }), col("connections", func(p *ServerPort) string { return u64(p.Connections) })),
		opts: listOpts{paged: true},
	}
	es.register(a, "/modules/l4_ports/ports", "/modules/l4_ports/ports_paged")
}

// AppProtocol is an application protocol the DPI detected with the
// traffic of its flows (rx) and the number of flows.
type AppProtocol struct {
	Protocol string `json:"protocol"`
	Flows    uint64 `json:"flows"`
	Figures
}

func (a *API) appProtocols() *entities[l7.Key, l7.Attr, AppProtocol] {
	return &entities[l7.Key, l7.Attr, AppProtocol]{
		what:   "application protocol",
		param:  "protocol",
		series: func(st *engine.Stats) *stats.Series[l7.Key, l7.Attr] { return st.L7.Protocols },
		key: func(id string, g uint16) (l7.Key, error) {
			app, ok := l7proto.Parse(id)
			if !ok {
				return l7.Key{}, notFound("application protocol", id, g)
			}
			return l7.Key{App: app, Group: g}, nil
		},
		render: func(_ *call, e *stats.Entity[l7.Key, l7.Attr]) *AppProtocol {
			return &AppProtocol{Protocol: e.Key.App.String(), Flows: e.Attr.Flows, Figures: figuresOf(&e.Figures)}
		},
		columns: figureCols(func(p *AppProtocol) *Figures { return &p.Figures },
			col("protocol", func(p *AppProtocol) string { return p.Protocol }), col("flows", func(p *AppProtocol) string { return u64(p.Flows) })),
		opts: listOpts{paged: true},
	}
}

func (a *API) registerDPI() {
	a.summary("dpi", func(c *call) map[string]int { return map[string]int{"protocols": c.st.L7.Protocols.Len(c.group)} })
	es := a.appProtocols()
	es.register(a, "/modules/dpi/protocols", "/modules/dpi/protocols_paged")
	// The IPs of a protocol, as under ip/ips/protocol/:protocol.
	a.get("/modules/dpi/protocols/:protocol/ips", a.ipsOfProtocol)
}
