package engine

import (
	"github.com/multimeter-fw/multimeter/services/analysis"
	"github.com/multimeter-fw/multimeter/services/analysis/arp"
	"github.com/multimeter-fw/multimeter/services/analysis/dhcp"
	"github.com/multimeter-fw/multimeter/services/analysis/dns"
	"github.com/multimeter-fw/multimeter/services/analysis/flow"
	"github.com/multimeter-fw/multimeter/services/analysis/icmp"
	"github.com/multimeter-fw/multimeter/services/analysis/iface"
	"github.com/multimeter-fw/multimeter/services/analysis/ip"
	"github.com/multimeter-fw/multimeter/services/analysis/l4port"
	"github.com/multimeter-fw/multimeter/services/analysis/l7"
	"github.com/multimeter-fw/multimeter/services/analysis/mac"
	"github.com/multimeter-fw/multimeter/services/analysis/mpls"
	"github.com/multimeter-fw/multimeter/services/analysis/names"
	"github.com/multimeter-fw/multimeter/services/analysis/pktsize"
	"github.com/multimeter-fw/multimeter/services/analysis/qos"
	"github.com/multimeter-fw/multimeter/services/analysis/sip"
	"github.com/multimeter-fw/multimeter/services/analysis/vlan"
	"github.com/multimeter-fw/multimeter/services/flowtable"
	"github.com/multimeter-fw/multimeter/services/stats"
)

// Stats is the statistics store of an instance with every module's part.
// Queries go to the module fields; Store has the clock, the history
// configuration and the table counters. The modules an analysis level
// does not run stay empty.
type Stats struct {
	Store      *stats.Store
	Interfaces *iface.Store
	PacketSize *pktsize.Store
	QoS        *qos.Store
	MPLS       *mpls.Store
	VLAN       *vlan.Store
	MAC        *mac.Store
	ARP        *arp.Store
	ICMP       *icmp.Store
	IP         *ip.Store
	Conns      *flow.Store
	L4Ports    *l4port.Store
	L7         *l7.Store
	DNS        *dns.Store
	DHCP       *dhcp.Store
	Names      *names.Store
	SIP        *sip.Store
}

// Modules lists the module names of the REST API this store serves.
func (s *Stats) Modules() []string {
	return []string{"interfaces", "packet_size", "qos", "mpls", "vlan", "mac", "mac_protocols", "arp", "icmp",
		"ip", "l4_ports", "dpi", "dns", "dhcp", "sip", "tcp"}
}

func newStats(c Capacities, sc stats.Config) *Stats {
	st := stats.New(sc)
	s := &Stats{
		Store:      st,
		Interfaces: iface.NewStore(st),
		PacketSize: pktsize.NewStore(st),
		QoS:        qos.NewStore(st),
		MPLS:       mpls.NewStore(st, c.Small),
		VLAN:       vlan.NewStore(st, c.Small),
		MAC:        mac.NewStore(st, mac.Capacities{MACs: c.MACs, Pairs: c.MACPeers, Protocols: c.MACProtocols}),
		ARP:        arp.NewStore(st, c.Small),
		ICMP:       icmp.NewStore(st),
		IP: ip.NewStore(st, ip.Capacities{
			IPs: c.IPs, Pairs: c.IPPeers, Ports: c.IPPorts, Protocols: c.IPProtocols, MACs: c.IPMACs,
		}),
		Conns:   flow.NewStore(st, c.Connections),
		L4Ports: l4port.NewStore(st, c.ServerPorts),
		L7:      l7.NewStore(st),
		DNS:     dns.NewStore(st, c.Small),
		Names:   names.NewStore(st, c.IPs, c.Names),
		SIP:     sip.NewStore(st, c.Small),
	}
	s.DHCP = dhcp.NewStore(st, c.Small, s.Names)
	return s
}

// reset clears every statistic. Called with the write lock held.
func (s *Stats) reset() {
	s.Store.Reset()
	s.Names.Reset()
}

// delta is one second (or part of one) of one shard: what every module
// collected, handed to the store's merge goroutine and back.
type delta struct {
	sec   int64
	final bool // the shard is done with sec
	shard int

	iface *flowtable.Dense[iface.Key, iface.Delta]
	sizes *analysis.Acc[pktsize.Key]
	qos   *analysis.Acc[qos.Key]
	mpls  *analysis.Acc[mpls.Key]
	vlan  *analysis.Acc[vlan.Key]
	mac   *mac.Acc
	arp   *arp.Acc
	icmp  *analysis.Acc[icmp.Key]
	flows []flow.Record
	ip    *ip.Acc
	ports *l4port.Acc
	apps  *l7.Acc
	dns   *dns.Acc
	dhcp  *dhcp.Acc
	sip   *sip.Acc
	names *names.Records
}

func newDelta(level analysis.Level, perSecond int) *delta {
	small := max(perSecond/16, 4*batchPackets)
	d := &delta{iface: flowtable.NewDense[iface.Key, iface.Delta](small)}
	if level >= analysis.LevelL2 {
		d.sizes = analysis.NewAcc[pktsize.Key](small)
		d.qos = analysis.NewAcc[qos.Key](small)
		d.mpls = analysis.NewAcc[mpls.Key](small)
		d.vlan = analysis.NewAcc[vlan.Key](small)
		d.mac = mac.NewAcc(perSecond)
	}
	if level >= analysis.LevelL3 {
		d.arp = arp.NewAcc(small)
		d.icmp = analysis.NewAcc[icmp.Key](small)
		d.flows = make([]flow.Record, 0, perSecond)
		d.ip = ip.NewAcc(perSecond, level)
	}
	if level >= analysis.LevelL4 {
		d.ports = l4port.NewAcc(perSecond)
	}
	if level >= analysis.LevelAll {
		d.apps = l7.NewAcc(small)
		d.dns = dns.NewAcc(small)
		d.dhcp = dhcp.NewAcc(small)
		d.sip = sip.NewAcc(small)
		// A packet adds up to 8 names (a DNS answer's addresses): room
		// for two batches of them.
		d.names = names.NewRecords(2 * small)
	}
	return d
}

// packetRoom is how many more packets surely fit in the per-packet
// accumulators (each packet adds at most a few keys to each).
func (d *delta) packetRoom() int {
	r := d.iface.Cap() - d.iface.Len()
	if d.sizes != nil {
		r = min(r, d.sizes.Room(), d.qos.Room()/2, d.mpls.Room()/3)
	}
	if d.arp != nil {
		r = min(r, (d.arp.Cap()-d.arp.Len())/2, d.icmp.Room())
	}
	if d.dns != nil {
		r = min(r, (d.dns.Cap()-d.dns.Len())/2, d.dhcp.Room(), d.sip.Cap()-d.sip.Len(), d.names.Room()/8)
	}
	return r
}

// flowRoom is how many more flow records (or L2 flows) surely fit.
func (d *delta) flowRoom() int {
	r := 1 << 30
	if d.mac != nil {
		r = min(d.mac.Room(), d.vlan.Room())
	}
	if d.ip != nil {
		r = min(r, cap(d.flows)-len(d.flows), d.ip.Room())
	}
	if d.ports != nil {
		r = min(r, d.ports.Cap()-d.ports.Len())
	}
	if d.apps != nil {
		r = min(r, d.apps.Cap()-d.apps.Len())
	}
	return r
}

func (d *delta) reset() {
	d.iface.Reset()
	if d.sizes != nil {
		d.sizes.Reset()
		d.qos.Reset()
		d.mpls.Reset()
		d.vlan.Reset()
		d.mac.Reset()
	}
	if d.arp != nil {
		d.arp.Reset()
		d.icmp.Reset()
		d.flows = d.flows[:0]
		d.ip.Reset()
	}
	if d.ports != nil {
		d.ports.Reset()
	}
	if d.apps != nil {
		d.apps.Reset()
		d.dns.Reset()
		d.dhcp.Reset()
		d.sip.Reset()
		d.names.Reset()
	}
}

// merge adds d to the store. Called with the write lock held.
func (s *Stats) merge(d *delta) {
	sec := d.sec
	s.Interfaces.Merge(sec, d.iface)
	if d.sizes != nil {
		s.PacketSize.Merge(sec, d.sizes)
		s.QoS.Merge(sec, d.qos)
		s.MPLS.Merge(sec, d.mpls)
		s.VLAN.Merge(sec, d.vlan)
		s.MAC.Merge(sec, d.mac)
	}
	if d.arp != nil {
		s.ARP.Merge(sec, d.arp)
		s.ICMP.Merge(sec, d.icmp)
		s.Conns.MergeAll(sec, d.flows)
		s.IP.Merge(sec, d.ip)
	}
	if d.ports != nil {
		s.L4Ports.Merge(sec, d.ports)
	}
	if d.apps != nil {
		s.L7.Merge(sec, d.apps)
		s.DNS.Merge(sec, d.dns)
		s.DHCP.Merge(sec, d.dhcp)
		s.SIP.Merge(sec, d.sip)
		s.Names.Merge(sec, d.names)
	}
}
