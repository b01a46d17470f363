// Package flow tracks flows (connections) in the analyzer shards and keeps
// the connection statistics in the store.
//
// A flow is keyed by both endpoints (address, port) in canonical order, so
// that both directions of a connection meet in one entry; the dispatcher
// sends both directions to the same shard. Side 0 is endpoint A (the lower
// address, then port), side 1 endpoint B; ClientSide says which of them
// opened the connection. Each second the shard emits one Record per active
// flow; the IP, port and protocol modules derive their per-second figures
// from these records, and the store keeps each connection with counters
// seen from A (tx = sent by A, rx = sent by B).
//
// Flows without ports (ICMP, other IP protocols, later IP fragments) are
// tracked per address pair and protocol. A flow also remembers the MACs,
// VLAN tags and EtherType of its first packet in each direction, so the
// L2 modules count IP traffic per flow rather than per packet.
package flow

import (
	"cmp"
	"encoding/binary"

	"github.com/multimeter-fw/multimeter/services/analysis/tcp"
	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/dpi"
	"github.com/multimeter-fw/multimeter/services/flowtable"
	"github.com/multimeter-fw/multimeter/services/l7proto"
)

// Key identifies a flow: endpoints in canonical order (A < B).
type Key struct {
	A, B         decode.Addr
	PortA, PortB uint16
	Proto        uint8
	Group        uint16
}

// Hash implements flowtable.Key.
func (k Key) Hash() uint64 { return k.HashInPlace() }

// HashInPlace is Hash reading k field by field where it is. Hash takes a
// copy, and copying a key just written by Set makes the copy's wide loads
// wait for Set's narrow stores (a store-forwarding stall per packet).
func (k *Key) HashInPlace() uint64 {
	ha, hb := flowtable.Hash16Bytes((*[16]byte)(&k.A)), flowtable.Hash16Bytes((*[16]byte)(&k.B))
	return flowtable.Mix(ha^hb<<1, uint64(k.PortA)|uint64(k.PortB)<<16|uint64(k.Proto)<<32|uint64(k.Group)<<40)
}

// GroupID implements stats.Key.
func (k Key) GroupID() uint16 { return k.Group }

// Addr returns the address of side s.
func (k *Key) Addr(s int) decode.Addr {
	if s == 0 {
		return k.A
	}
	return k.B
}

// Port returns the port of side s.
func (k *Key) Port(s int) uint16 {
	if s == 0 {
		return k.PortA
	}
	return k.PortB
}

// Set makes k the key of packet p and returns the side that sent it.
// Without withPorts (L3 analysis) flows are per address pair and protocol.
// It writes k in place: a key returned by value is built on the stack and
// copied, which costs more than the rest of the work.
func (k *Key) Set(p *decode.Packet, group uint16, withPorts bool) (side int) {
	var pa, pb uint16
	if withPorts && p.Frag != decode.FragLater && (p.Layers&(decode.LayerTCP|decode.LayerUDP|decode.LayerSCTP) != 0) {
		pa, pb = p.SrcPort, p.DstPort
	}
	k.Proto, k.Group = p.Proto, group
	if c := compareAddr(&p.SrcIP, &p.DstIP); c > 0 || (c == 0 && pa > pb) {
		k.A, k.B, k.PortA, k.PortB = p.DstIP, p.SrcIP, pb, pa
		return 1
	}
	k.A, k.B, k.PortA, k.PortB = p.SrcIP, p.DstIP, pa, pb
	return 0
}

// compareAddr orders addresses as bytes.Compare does, a word at a time.
func compareAddr(a, b *decode.Addr) int {
	if x, y := binary.BigEndian.Uint64(a[:8]), binary.BigEndian.Uint64(b[:8]); x != y {
		return cmp.Compare(x, y)
	}
	return cmp.Compare(binary.BigEndian.Uint64(a[8:]), binary.BigEndian.Uint64(b[8:]))
}

// Dir counts what one side sent.
type Dir struct {
	Packets uint32
	Bytes   uint64
}

// Flow is the shard's state of one flow. It holds no pointers.
type Flow struct {
	FirstNs, LastNs int64
	dirtySec        int64
	Sent            [2]Dir // this second
	L2Sent          [2]Dir // this second, packets with the flow's MACs and VLANs
	TTLMin, TTLMax  [2]uint8
	MAC             [2]decode.MAC // source MAC of each side's first packet
	DstMAC          [2]decode.MAC // destination MAC of each side's first packet
	VLAN            uint16
	InnerVLAN       uint16
	VLANCount       uint8
	EtherType       uint16
	L2Seen          uint8 // bit per side: MAC and DstMAC are set
	ClientSide      uint8
	reported        bool
	TCP             tcp.Tracker
	Events          tcp.Events // this second
	DPI             dpi.State
	SIP             [2]uint64 // caller and callee number hashes (RTP of a SIP call)
	SIPChecks       uint8     // times the SIP media registry was asked
}

// Record is one second of one flow, as handed to the store.
type Record struct {
	Key             Key
	FirstNs, LastNs int64
	Sent            [2]Dir
	L2Sent          [2]Dir // of Sent, packets that match MAC, DstMAC and the VLANs
	TTLMin, TTLMax  [2]uint8
	MAC, DstMAC     [2]decode.MAC
	VLAN, InnerVLAN uint16
	VLANCount       uint8
	EtherType       uint16
	ClientSide      uint8
	New             bool // first record of this flow
	App             l7proto.ID
	State           tcp.State
	TCP             tcp.Events
	SIP             [2]uint64
}

// ServerSide is the side that did not open the flow.
func (r *Record) ServerSide() int { return 1 - int(r.ClientSide) }

// Config sizes a Tracker.
type Config struct {
	Capacity           int   // flows per shard
	IdleTimeoutSeconds int64 // flows idle this long are forgotten
}

// Tracker keeps the flows of one shard. Emit is called with the record of
// every flow active in a second when the second closes, and for an active
// flow that is evicted to make room.
type Tracker struct {
	tab     *flowtable.Table[Key, Flow]
	dirty   []uint32
	timeout int64
	cur     int64
	emit    func(r *Record)
	rec     Record
	// Expired counts flows forgotten after their idle timeout.
	Expired uint64
}

// NewTracker returns a tracker; emit receives the records (the pointer is
// valid during the call).
func NewTracker(cfg Config, emit func(r *Record)) *Tracker {
	t := &Tracker{
		tab:     flowtable.New[Key, Flow](cfg.Capacity),
		timeout: cfg.IdleTimeoutSeconds,
		emit:    emit,
		dirty:   make([]uint32, 0, 1024),
	}
	t.tab.OnEvict = func(_ uint32, k *Key, f *Flow) {
		if f.dirtySec == t.cur && f.dirtySec != 0 {
			t.report(k, f)
		}
	}
	return t
}

// Stats returns the flow table's counters.
func (t *Tracker) Stats() flowtable.Stats { return t.tab.Stats() }

// Packet counts packet p of flow k, sent by side, in second sec, and
// returns the flow's state for the other modules (TCP, DPI, SIP) to
// update. The pointer is valid until the next call. l2 reports whether
// the packet has the MACs and VLANs the flow's record will give the L2
// modules; when not (DHCP clients sharing 0.0.0.0, a flow routed between
// VLANs), the caller counts its L2 figures itself.
func (t *Tracker) Packet(k Key, side int, p *decode.Packet, sec int64) (f *Flow, l2 bool) {
	return t.PacketHash(k, k.Hash(), side, p, sec)
}

// Prefetch starts loading the table's memory for a flow with hash h (see
// flowtable.Table.Prefetch).
func (t *Tracker) Prefetch(h uint64) uint64 { return t.tab.Prefetch(h) }

// PacketHash is Packet with k's hash already at hand.
func (t *Tracker) PacketHash(k Key, h uint64, side int, p *decode.Packet, sec int64) (f *Flow, l2 bool) {
	t.cur = sec
	slot, isNew := t.tab.UpsertHash(k, h, clampSec(sec))
	f = t.tab.Val(slot)
	if isNew {
		f.FirstNs = p.Timestamp
		f.ClientSide = uint8(clientSide(&k, side, p))
		f.TTLMin = [2]uint8{255, 255}
		f.VLANCount, f.EtherType = min(p.VLANCount, 2), p.EtherType
		if p.VLANCount > 0 {
			f.VLAN = p.VLANs[0]
		}
		if p.VLANCount > 1 {
			f.InnerVLAN = p.VLANs[1]
		}
	}
	if f.dirtySec != sec {
		f.dirtySec = sec
		t.dirty = append(t.dirty, slot)
	}
	f.LastNs = max(f.LastNs, p.Timestamp)
	d := &f.Sent[side]
	d.Packets++
	d.Bytes += uint64(p.OrigLen)
	f.TTLMin[side] = min(f.TTLMin[side], p.TTL)
	f.TTLMax[side] = max(f.TTLMax[side], p.TTL)
	if p.Layers&decode.LayerEthernet == 0 {
		return f, true // no Ethernet header: nothing for the L2 modules
	}
	if f.L2Seen&(1<<side) == 0 {
		f.L2Seen |= 1 << side
		f.MAC[side], f.DstMAC[side] = p.SrcMAC, p.DstMAC
	}
	l2 = f.MAC[side] == p.SrcMAC && f.DstMAC[side] == p.DstMAC && f.VLANCount == min(p.VLANCount, 2) &&
		(p.VLANCount == 0 || f.VLAN == p.VLANs[0]) && (p.VLANCount < 2 || f.InnerVLAN == p.VLANs[1])
	if l2 {
		d := &f.L2Sent[side]
		d.Packets++
		d.Bytes += uint64(p.OrigLen)
	}
	return f, l2
}

// Close reports every flow active in second sec and forgets flows idle
// for longer than the timeout.
func (t *Tracker) Close(sec int64) {
	for _, slot := range t.dirty {
		f := t.tab.Val(slot)
		if !t.tab.Used(slot) || f.dirtySec != sec {
			continue // evicted (and reported) or already reported
		}
		t.report(t.tab.Key(slot), f)
	}
	t.dirty = t.dirty[:0]
	t.expire(sec)
}

func (t *Tracker) expire(sec int64) {
	for {
		slot, ok := t.tab.Oldest()
		if !ok || int64(t.tab.LastActive(slot))+t.timeout >= sec {
			return
		}
		t.tab.Delete(slot)
		t.Expired++
	}
}

// report emits f's record and starts its next second afresh.
func (t *Tracker) report(k *Key, f *Flow) {
	r := &t.rec
	*r = Record{
		Key: *k, FirstNs: f.FirstNs, LastNs: f.LastNs, Sent: f.Sent, L2Sent: f.L2Sent, TTLMin: f.TTLMin, TTLMax: f.TTLMax,
		MAC: f.MAC, DstMAC: f.DstMAC, VLAN: f.VLAN, InnerVLAN: f.InnerVLAN, VLANCount: f.VLANCount,
		EtherType: f.EtherType, ClientSide: f.ClientSide, New: !f.reported, App: f.DPI.App(),
		State: f.TCP.State, TCP: f.Events, SIP: f.SIP,
	}
	t.emit(r)
	f.reported = true
	f.dirtySec = -1
	f.Sent, f.L2Sent = [2]Dir{}, [2]Dir{}
	f.TTLMin, f.TTLMax = [2]uint8{255, 255}, [2]uint8{}
	f.Events = tcp.Events{}
}

// Flush reports every active flow now (at the end of the input).
func (t *Tracker) Flush(sec int64) { t.Close(sec) }

// Reset forgets every flow.
func (t *Tracker) Reset() {
	t.tab.Clear()
	t.dirty = t.dirty[:0]
}

func clampSec(sec int64) uint32 {
	if sec < 0 {
		return 0
	}
	return uint32(min(sec, 1<<32-1))
}

// clientSide decides which side opened a flow from its first packet.
func clientSide(k *Key, side int, p *decode.Packet) int {
	switch {
	case p.Layers&decode.LayerTCP != 0 && p.TCPFlags&decode.TCPSyn != 0:
		if p.TCPFlags&decode.TCPAck != 0 {
			return 1 - side // a SYN/ACK comes from the server
		}
		return side
	case p.Layers&decode.LayerICMPv4 != 0:
		if p.ICMPType == 0 { // echo reply
			return 1 - side
		}
		return side
	case p.Layers&decode.LayerICMPv6 != 0:
		if p.ICMPType == 129 {
			return 1 - side
		}
		return side
	}
	// Otherwise the side on a service port is the server; when neither or
	// both are, whoever spoke first is the client.
	src, dst := k.Port(side), k.Port(1-side)
	srcSvc, dstSvc := isServicePort(p.Proto, src), isServicePort(p.Proto, dst)
	if srcSvc && (!dstSvc || src < dst) {
		return 1 - side
	}
	return side
}

func isServicePort(proto uint8, port uint16) bool {
	return port != 0 && (port < 1024 || dpi.ByPort(proto, port, port) != l7proto.Unknown)
}
