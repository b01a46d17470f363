// Package tcp analyses TCP connections: the three-way handshake and the
// server's SYN -> SYN/ACK response time, retransmissions, zero windows,
// resets and the connection state. A Tracker lives in each flow of an
// analyzer shard (it holds no pointers); Events are what one second of a
// flow adds up to; Stats aggregate them per IP or server.
//
// Sides are numbered as the flow numbers them (0 and 1); the tracker does
// not care which side is the client.
package tcp

import (
	"github.com/multimeter-fw/multimeter/services/analysis"
	"github.com/multimeter-fw/multimeter/services/decode"
)

// State of a connection as seen on the wire.
type State uint8

// Connection states.
const (
	StateNone        State = iota // no SYN seen (joined mid-stream)
	StateSynSent                  // SYN seen
	StateSynReceived              // SYN/ACK seen
	StateEstablished              // handshake completed, or data seen
	StateClosing                  // one FIN seen
	StateClosed                   // FIN from both sides
	StateReset                    // RST seen
)

var stateNames = [...]string{"none", "synSent", "synReceived", "established", "closing", "closed", "reset"}

func (s State) String() string {
	if int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "unknown"
}

// Tracker follows one connection. The zero value is ready.
type Tracker struct {
	State    State
	synSide  int8  // side that sent the SYN
	synTs    int64 // latest SYN (ns)
	nextSeq  [2]uint32
	seqValid [2]bool
	finSeen  [2]bool
}

// Events are what happened on a connection during one second, per side
// (who sent it). Reset them after reading.
type Events struct {
	Retransmissions [2]uint32
	ZeroWindows     [2]uint32
	Resets          [2]uint32
	// Handshakes completed this second (0 or 1) and which side was the
	// server; ResponseNs is the server's SYN -> SYN/ACK time.
	Handshakes uint8
	ServerSide int8
	ResponseNs int64
	// Opened is set when a new connection started (a SYN on an idle or
	// closed tracker).
	Opened bool
}

// Update analyses one TCP segment sent by side at ts (ns).
func (t *Tracker) Update(p *decode.Packet, side int, ts int64, ev *Events) {
	flags := p.TCPFlags
	syn, ack, fin, rst := flags&decode.TCPSyn != 0, flags&decode.TCPAck != 0, flags&decode.TCPFin != 0, flags&decode.TCPRst != 0
	seqLen := p.PayloadLen
	if syn {
		seqLen++
	}
	if fin {
		seqLen++
	}
	switch {
	case syn && !ack:
		if t.State == StateSynSent && int(t.synSide) == side {
			ev.Retransmissions[side]++
			t.synTs = ts
			return
		}
		if t.State != StateNone && t.State < StateClosed {
			break // a SYN inside a running connection: leave the state alone
		}
		*t = Tracker{State: StateSynSent, synSide: int8(side), synTs: ts}
		ev.Opened = true
	case syn && ack:
		switch {
		case t.State == StateSynSent && int(t.synSide) != side:
			t.State = StateSynReceived
			ev.ResponseNs = max(ts-t.synTs, 0)
		case t.State == StateSynReceived && int(t.synSide) != side:
			ev.Retransmissions[side]++
			return
		}
	case rst:
		ev.Resets[side]++
		t.State = StateReset
		return
	}
	if ack && !syn && t.State == StateSynReceived && int(t.synSide) == side {
		t.State = StateEstablished
		ev.Handshakes++
		ev.ServerSide = int8(1 - side)
	}
	if p.TCPWindow == 0 && !syn && !fin && !rst {
		ev.ZeroWindows[side]++
	}
	seq := p.TCPSeq
	end := seq + seqLen
	if seqLen > 0 && t.seqValid[side] {
		next := t.nextSeq[side]
		keepAlive := seqLen == 1 && seq == next-1 && !syn && !fin
		if !keepAlive && int32(end-next) <= 0 {
			ev.Retransmissions[side]++
		}
	}
	if !t.seqValid[side] || int32(end-t.nextSeq[side]) > 0 {
		t.nextSeq[side], t.seqValid[side] = end, true
	}
	if fin {
		t.finSeen[side] = true
		if t.finSeen[0] && t.finSeen[1] {
			t.State = StateClosed
		} else if t.State < StateClosing {
			t.State = StateClosing
		}
		return
	}
	if t.State == StateNone && p.PayloadLen > 0 {
		t.State = StateEstablished
	}
}

// Stats aggregate TCP figures of an IP (or of the servers behind a port).
type Stats struct {
	Connections        uint64 `json:"connections"`        // connections opened (SYN seen) with this IP as client or server
	Handshakes         uint64 `json:"handshakes"`         // completed as server
	HandshakesAsClient uint64 `json:"handshakesAsClient"` // completed as client
	Retransmissions    uint64 `json:"retransmissions"`    // segments sent again
	ZeroWindows        uint64 `json:"zeroWindows"`        // zero windows announced
	Resets             uint64 `json:"resets"`             // RSTs sent
	// ResponseTime is the SYN -> SYN/ACK time of handshakes as server.
	ResponseTime analysis.Timing `json:"-"`
}

// AddResponse records one SYN -> SYN/ACK response time.
func (s *Stats) AddResponse(ns int64) { s.ResponseTime.Add(ns) }

// Merge adds o to s.
func (s *Stats) Merge(o *Stats) {
	s.Connections += o.Connections
	s.Handshakes += o.Handshakes
	s.HandshakesAsClient += o.HandshakesAsClient
	s.Retransmissions += o.Retransmissions
	s.ZeroWindows += o.ZeroWindows
	s.Resets += o.Resets
	s.ResponseTime.Merge(&o.ResponseTime)
}
