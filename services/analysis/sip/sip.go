// Package sip follows SIP calls: it parses INVITEs and their answers
// (From and To user parts, the SDP media address and port) so that the
// RTP and RTCP flows a call negotiated carry the call's numbers, which
// the ring buffer indexes (tap.Meta.SIPNumbers, tap.HashNumber). It also
// keeps a table of calls. A call is not an endpoint: its signalling
// packets count as rx.
package sip

import (
	"github.com/multimeter-fw/multimeter/services/analysis/flow"
	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/flowtable"
	"github.com/multimeter-fw/multimeter/services/l7proto"
	"github.com/multimeter-fw/multimeter/services/stats"
	"github.com/multimeter-fw/multimeter/services/tap"
)

// IsSIP reports whether p may be SIP by its ports (5060, 5061).
func IsSIP(p *decode.Packet) bool {
	return p.Layers&(decode.LayerUDP|decode.LayerTCP) != 0 && p.Frag != decode.FragLater &&
		(p.SrcPort == 5060 || p.DstPort == 5060 || p.SrcPort == 5061 || p.DstPort == 5061)
}

// Numbers returns the hashes of the caller and callee numbers of m.
func Numbers(m *Message) [2]uint64 {
	return [2]uint64{hashNumber(m.From.Bytes()), hashNumber(m.To.Bytes())}
}

func hashNumber(b []byte) uint64 {
	var buf [MaxNumber]byte
	n := copy(buf[:], b)
	return tap.HashNumber(string(buf[:n]))
}

// CallKey is a call (by Call-ID) in a group.
type CallKey struct {
	CallID uint64
	Group  uint16
}

// Hash implements flowtable.Key.
func (k CallKey) Hash() uint64 { return flowtable.Mix(k.CallID, uint64(k.Group)) }

// GroupID implements stats.Key.
func (k CallKey) GroupID() uint16 { return k.Group }

// Call states.
const (
	CallInvited uint8 = iota + 1
	CallAnswered
	CallFailed
	CallEnded
)

// CallDelta is one second of one call in a shard.
type CallDelta struct {
	C        stats.Counters
	From, To Number
	State    uint8
	InviteNs int64
	AnswerNs int64
	EndNs    int64
	Status   int
}

// Acc is one second of calls of one shard.
type Acc = flowtable.Dense[CallKey, CallDelta]

// NewAcc returns an accumulator for capacity calls a second.
func NewAcc(capacity int) *Acc { return flowtable.NewDense[CallKey, CallDelta](capacity) }

// Shard parses SIP in one shard and publishes media to the registry.
type Shard struct {
	reg *Registry
	msg Message
	// Malformed counts SIP-port payloads that did not parse.
	Malformed uint64
}

// NewShard returns the shard half publishing to reg (shared by all
// shards of an instance).
func NewShard(reg *Registry) *Shard { return &Shard{reg: reg} }

// Packet parses a SIP packet of flow f; the flow and the packet's meta
// get the call's numbers.
func (s *Shard) Packet(a *Acc, f *flow.Flow, p *decode.Packet, payload []byte, group uint16) [2]uint64 {
	m := &s.msg
	if err := Parse(m, payload); err != nil {
		s.Malformed++
		return f.SIP
	}
	numbers := Numbers(m)
	f.SIP = numbers
	// The offer (INVITE) and the answer (a provisional or final success
	// response, early media included) each name one end of the media.
	if m.HasMedia && (m.Invite || m.CSeqInvite && m.Status >= 100 && m.Status < 300) {
		s.reg.put(m.MediaAddr, m.MediaPort, group, kindRTP, numbers)
		s.reg.put(m.MediaAddr, m.MediaPort+1, group, kindRTCP, numbers)
	}
	if m.CallID == 0 {
		return numbers
	}
	d, isNew := a.Upsert(CallKey{CallID: m.CallID, Group: group})
	if d == nil {
		return numbers
	}
	if isNew || d.From.n == 0 {
		d.From, d.To = m.From, m.To
	}
	d.C.RxPackets++
	d.C.RxBytes += uint64(p.OrigLen)
	switch {
	case m.Invite:
		d.State = max(d.State, CallInvited)
		if d.InviteNs == 0 {
			d.InviteNs = p.Timestamp
		}
	case m.Bye:
		d.State, d.EndNs = CallEnded, p.Timestamp
	case m.CSeqInvite && m.Status >= 200 && m.Status < 300:
		d.State, d.AnswerNs, d.Status = max(d.State, CallAnswered), p.Timestamp, m.Status
	case m.CSeqInvite && m.Status >= 300:
		d.State, d.EndNs, d.Status = max(d.State, CallFailed), p.Timestamp, m.Status
	}
	return numbers
}

// maxMediaChecks bounds how often a UDP flow asks the registry: calls are
// set up before their media flows, within a few packets at most.
const maxMediaChecks = 16

// Media marks flow f (key k) as RTP or RTCP of a call when one of its
// endpoints is a negotiated media address.
func (s *Shard) Media(f *flow.Flow, k *flow.Key) {
	if f.SIPChecks >= maxMediaChecks || f.SIP != ([2]uint64{}) {
		return
	}
	f.SIPChecks++
	for side := range 2 {
		a := k.Addr(side)
		if numbers, kind, ok := s.reg.lookup(&a, k.Port(side), k.Group); ok {
			f.SIP = numbers
			if kind == kindRTCP {
				f.DPI.Set(l7proto.RTCP)
			} else {
				f.DPI.Set(l7proto.RTP)
			}
			return
		}
	}
}

// CallAttr is what the store keeps about a call.
type CallAttr struct {
	From, To Number
	State    uint8
	InviteNs int64
	AnswerNs int64
	EndNs    int64
	Status   int
}

// Store holds the calls.
type Store struct {
	Calls *stats.Series[CallKey, CallAttr]
}

// NewStore adds the call series to st.
func NewStore(st *stats.Store, capacity int) *Store {
	return &Store{Calls: stats.NewSeries[CallKey, CallAttr](st, "sipCalls", capacity)}
}

// Merge adds one shard's second. Called with the store's write lock held.
func (s *Store) Merge(sec int64, a *Acc) {
	for i := range a.Len() {
		d := a.Val(i)
		at := s.Calls.Add(sec, *a.Key(i), d.C)
		if at.From.n == 0 {
			at.From, at.To = d.From, d.To
		}
		at.State = max(at.State, d.State)
		if at.InviteNs == 0 || d.InviteNs != 0 && d.InviteNs < at.InviteNs {
			at.InviteNs = d.InviteNs
		}
		at.AnswerNs = max(at.AnswerNs, d.AnswerNs)
		at.EndNs = max(at.EndNs, d.EndNs)
		if d.Status != 0 {
			at.Status = d.Status
		}
	}
}
