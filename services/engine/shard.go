package engine

import (
	"sync/atomic"
	"time"

	"github.com/multimeter-fw/multimeter/services/analysis"
	"github.com/multimeter-fw/multimeter/services/analysis/arp"
	"github.com/multimeter-fw/multimeter/services/analysis/dhcp"
	"github.com/multimeter-fw/multimeter/services/analysis/dns"
	"github.com/multimeter-fw/multimeter/services/analysis/flow"
	"github.com/multimeter-fw/multimeter/services/analysis/icmp"
	"github.com/multimeter-fw/multimeter/services/analysis/iface"
	"github.com/multimeter-fw/multimeter/services/analysis/l4port"
	"github.com/multimeter-fw/multimeter/services/analysis/l7"
	"github.com/multimeter-fw/multimeter/services/analysis/mac"
	"github.com/multimeter-fw/multimeter/services/analysis/mpls"
	"github.com/multimeter-fw/multimeter/services/analysis/names"
	"github.com/multimeter-fw/multimeter/services/analysis/pktsize"
	"github.com/multimeter-fw/multimeter/services/analysis/qos"
	"github.com/multimeter-fw/multimeter/services/analysis/sip"
	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/l7proto"
	"github.com/multimeter-fw/multimeter/services/stats"
	"github.com/multimeter-fw/multimeter/services/tap"
)

// shard is one analyzer goroutine. It owns its flow table and module
// state; nothing here is touched by another goroutine except the atomic
// counters and the queues.
type shard struct {
	id    int
	pl    *pipeline
	level analysis.Level
	q     chan *batch // from the dispatchers
	pool  *batchPool  // empty batches back to them

	free  chan *delta // back from the store's merge goroutine
	delta *delta

	groups  groups
	flows   *flow.Tracker
	mac     *mac.Shard
	arp     *arp.Shard
	dns     *dns.Shard
	dhcp    dhcp.Shard
	sip     *sip.Shard
	sec     int64 // the second being collected
	started bool
	meta    tap.Meta

	// Per-packet counters that need no table: size classes, DSCP and PCP
	// per group, handed on when the second closes.
	classes []classCounts
	// What lookAhead worked out for the packets of the current batch.
	ahead [batchPackets]ahead
	sink  uint64 // keeps the prefetching loads
	// The interface entry of the last packet (most captures have one port).
	ifaceKey iface.Key
	ifaceVal *iface.Delta

	// Counters read by Load.
	busyNs    atomic.Int64 // processing time (see busyClock)
	clock     busyClock
	packets   atomic.Uint64
	dropped   atomic.Uint64 // packets of batches the queue had no room for
	lostDelta atomic.Uint64 // figures that found an accumulator full
}

func newShard(pl *pipeline, id int, queueBatches, deltas int) *shard {
	cfg := &pl.cfg
	s := &shard{
		id:     id,
		pl:     pl,
		level:  cfg.level(),
		q:      make(chan *batch, queueBatches),
		pool:   newBatchPool(queueBatches + cfg.IOWorkers + 2),
		free:   make(chan *delta, deltas),
		groups: newGroups(cfg.Groups),
	}
	per := cfg.Capacities.PerSecond
	s.delta = newDelta(s.level, per)
	for range deltas - 1 {
		s.free <- newDelta(s.level, per)
	}
	s.classes = make([]classCounts, len(cfg.Groups)+1)
	if s.level >= analysis.LevelL2 {
		s.mac = mac.NewShard(per / 2)
	}
	if s.level >= analysis.LevelL3 {
		s.flows = flow.NewTracker(flow.Config{Capacity: cfg.Capacities.FlowsPerShard, IdleTimeoutSeconds: cfg.FlowIdleSeconds}, s.flowRecord)
		s.arp = arp.NewShard(cfg.Capacities.Small)
	}
	if s.level >= analysis.LevelAll {
		s.dns = dns.NewShard(cfg.Capacities.Small)
		s.sip = sip.NewShard(pl.media)
	}
	return s
}

// run processes batches until the queue is closed.
func (s *shard) run() {
	var tick <-chan time.Time
	if s.pl.wall {
		t := time.NewTicker(100 * time.Millisecond)
		defer t.Stop()
		tick = t.C
		s.sec, s.started = time.Now().Unix(), true
	}
	for {
		select {
		case b, ok := <-s.q:
			if !ok {
				s.finish()
				return
			}
			s.clock.start()
			s.batch(b)
			s.stopClock()
			s.pool.put(b)
		case now := <-tick:
			s.clock.start()
			s.advance(now.Unix())
			s.stopClock()
		}
	}
}

// stopClock ends a stretch of work and publishes the busy time so far.
func (s *shard) stopClock() {
	s.clock.stop()
	s.busyNs.Store(int64(s.clock.busy()))
}

// advance closes the seconds before sec.
func (s *shard) advance(sec int64) {
	if !s.started {
		s.sec, s.started = sec, true
		return
	}
	if sec > s.sec {
		s.closeSecond()
		s.sec = sec
	}
}

func (s *shard) batch(b *batch) {
	if s.delta.packetRoom() < batchPackets {
		s.sendDelta(false)
	}
	if s.mac != nil && s.mac.Room() < batchPackets {
		s.drainL2()
	}
	if s.pl.wall {
		s.advance(time.Now().Unix())
	}
	s.lookAhead(b)
	for i := range b.n {
		s.packet(&b.pkts[i], b.frame(i), b.seqs[i], b.bad[i], &s.ahead[i])
	}
	s.packets.Add(uint64(b.n))
	if !s.pl.wall {
		s.advance(b.clock)
	}
}

// ahead is what a packet's analysis needs that depends on the packet
// alone: its group and, for IP, its flow key, side and hash.
type ahead struct {
	hash  uint64
	key   flow.Key
	side  int
	group uint16
}

// lookAhead works out the batch's groups and flow keys before the packets
// are analysed one by one, and starts loading where their flows live:
// the loads overlap here, where one per packet would wait for memory.
func (s *shard) lookAhead(b *batch) {
	withPorts := s.level >= analysis.LevelL4
	for i := range b.n {
		p, a := &b.pkts[i], &s.ahead[i]
		a.group = s.groups.match(p)
		a.hash = 0
		if s.flows != nil && p.IPVersion != 0 && p.Layers&decode.LayerARP == 0 {
			a.side = a.key.Set(p, a.group, withPorts)
			a.hash = a.key.HashInPlace()
		}
	}
	// A loop of loads alone, so that many are in flight at once.
	if s.flows != nil {
		sink := s.sink
		for i := range b.n {
			sink += s.flows.Prefetch(s.ahead[i].hash)
		}
		s.sink = sink
	}
}

// packet analyses one packet and hands it to the sinks.
func (s *shard) packet(p *decode.Packet, frame []byte, seq uint64, bad bool, a *ahead) {
	if !s.pl.wall {
		s.advance(floorSec(p.Timestamp))
	}
	d := s.delta
	group := a.group
	// The meta lives in the shard: handed to sinks by pointer, a local
	// would escape to the heap for every packet.
	meta := &s.meta
	*meta = tap.Meta{Seq: seq, Group: group}
	if ic := s.iface(iface.Key{Port: p.Port, Group: group}); ic != nil {
		ic.C.RxPackets++
		ic.C.RxBytes += uint64(p.OrigLen)
		if bad {
			ic.DecodeErrors++
		}
	}
	if s.level >= analysis.LevelL2 {
		s.classes[group].count(p, s.level >= analysis.LevelL3)
		if p.MPLSCount > 0 {
			mpls.Count(d.mpls, p, group)
		}
		// IP packets reach the L2 figures through their flow's record.
		if s.level == analysis.LevelL2 || p.IPVersion == 0 {
			s.mac.Packet(p, group)
		}
	}
	if s.level >= analysis.LevelL3 {
		switch {
		case p.Layers&decode.LayerARP != 0:
			s.arp.Packet(d.arp, p, group, s.sec)
		case p.IPVersion != 0:
			s.ipPacket(p, frame, a, meta)
		}
	}
	s.pl.emit(s.id, p, frame, meta)
}

// iface returns the current delta's entry for k.
func (s *shard) iface(k iface.Key) *iface.Delta {
	if s.ifaceVal != nil && s.ifaceKey == k {
		return s.ifaceVal
	}
	v, _ := s.delta.iface.Upsert(k)
	s.ifaceKey, s.ifaceVal = k, v
	return v
}

// classCounts are one group's per-second counters by size class, DSCP and
// PCP.
type classCounts struct {
	sizes [8]stats.Counters
	dscp  [64]stats.Counters
	pcp   [8]stats.Counters
	used  bool
}

func (c *classCounts) count(p *decode.Packet, dscp bool) {
	n := uint64(p.OrigLen)
	c.used = true
	x := &c.sizes[pktsize.IndexOf(p.OrigLen)]
	x.RxPackets++
	x.RxBytes += n
	if p.VLANCount > 0 {
		x := &c.pcp[p.PCP&7]
		x.RxPackets++
		x.RxBytes += n
	}
	if dscp && p.IPVersion != 0 {
		x := &c.dscp[p.DSCP()]
		x.RxPackets++
		x.RxBytes += n
	}
}

// flushClasses hands the class counters to the delta and clears them.
func (s *shard) flushClasses() {
	for g := range s.classes {
		c := &s.classes[g]
		if !c.used {
			continue
		}
		if s.delta.sizes.Room() < len(c.sizes) || s.delta.qos.Room() < len(c.dscp)+len(c.pcp) {
			s.sendDelta(false)
		}
		d := s.delta
		group := uint16(g)
		for i, x := range c.sizes {
			if x.RxPackets > 0 {
				d.sizes.Add(pktsize.Key{Class: pktsize.Classes[i], Group: group}, x)
			}
		}
		for v, x := range c.dscp {
			if x.RxPackets > 0 {
				d.qos.Add(qos.Key{Kind: qos.DSCP, Value: uint8(v), Group: group}, x)
			}
		}
		for v, x := range c.pcp {
			if x.RxPackets > 0 {
				d.qos.Add(qos.Key{Kind: qos.PCP, Value: uint8(v), Group: group}, x)
			}
		}
		*c = classCounts{}
	}
}

// ipPacket runs the flow-based modules.
func (s *shard) ipPacket(p *decode.Packet, frame []byte, a *ahead, meta *tap.Meta) {
	d := s.delta
	group := a.group
	if p.Layers&(decode.LayerICMPv4|decode.LayerICMPv6) != 0 {
		icmp.Count(d.icmp, p, group)
	}
	k, side := a.key, a.side
	f, l2 := s.flows.PacketHash(k, a.hash, side, p, s.sec)
	if !l2 {
		s.mac.Packet(p, group)
	}
	if s.level >= analysis.LevelL4 && p.Layers&decode.LayerTCP != 0 {
		f.TCP.Update(p, side, p.Timestamp, &f.Events)
	}
	if s.level < analysis.LevelAll {
		return
	}
	payload := p.Payload(frame)
	fromClient := side == int(f.ClientSide)
	if !f.DPI.Done() && p.Frag != decode.FragLater {
		if name := f.DPI.Inspect(p.Proto, p.SrcPort, p.DstPort, payload, fromClient); name != nil {
			src := names.TLS
			if f.DPI.App() == l7proto.HTTP {
				src = names.HTTP
			}
			d.names.Add(group, k.Addr(1-int(f.ClientSide)), src, name)
		}
	}
	switch {
	case dns.IsDNS(p):
		s.dns.Packet(d.dns, d.names, p, payload, group, s.sec)
	case dhcp.IsDHCP(p):
		s.dhcp.Packet(d.dhcp, p, payload, group)
	case sip.IsSIP(p) && len(payload) > 0:
		meta.SIPNumbers = s.sip.Packet(d.sip, f, p, payload, group)
	case p.Layers&decode.LayerUDP != 0:
		s.sip.Media(f, &k)
	}
	meta.App = f.DPI.App()
	if meta.SIPNumbers == ([2]uint64{}) {
		meta.SIPNumbers = f.SIP
	}
}

// flowRecord receives the flow tracker's records (at second close and on
// eviction) and derives the per-flow module figures.
func (s *shard) flowRecord(r *flow.Record) {
	d := s.delta
	if d.flowRoom() < 1 {
		s.sendDelta(false)
		d = s.delta
	}
	if s.mac != nil && s.mac.Room() < 2 {
		s.drainL2()
		d = s.delta
	}
	d.flows = append(d.flows, *r)
	d.ip.AddFlow(r)
	if s.mac != nil {
		s.mac.AddFlow(r)
	}
	if d.ports != nil {
		l4port.AddFlow(d.ports, r)
	}
	if d.apps != nil {
		l7.AddFlow(d.apps, r)
	}
}

// drainL2 derives the MAC figures of the L2 flows summed so far.
func (s *shard) drainL2() {
	if s.delta.flowRoom() < s.mac.Len() {
		s.sendDelta(false)
	}
	s.mac.Drain(s.delta.mac, s.delta.vlan)
}

// closeSecond hands the store everything of the current second.
func (s *shard) closeSecond() {
	s.collect()
	s.sendDelta(true)
}

// collect moves what the shard summed outside the delta into it.
func (s *shard) collect() {
	if s.flows != nil {
		s.flows.Close(s.sec)
	}
	if s.mac != nil {
		s.drainL2()
		s.flushClasses()
	}
}

// sendDelta hands the current delta to the store and takes a fresh one;
// it waits when the store is behind by all of the shard's deltas.
func (s *shard) sendDelta(final bool) {
	d := s.delta
	d.sec, d.final, d.shard = s.sec, final, s.id
	s.clock.stop() // waiting for the store is not processing
	s.pl.out <- d
	s.delta = <-s.free
	s.clock.start()
	s.ifaceVal = nil
}

// finish hands the store the last second.
func (s *shard) finish() {
	if s.started {
		s.clock.start()
		s.collect()
		s.stopClock()
		d := s.delta
		d.sec, d.final, d.shard = s.sec, true, s.id
		s.pl.out <- d
	}
}
