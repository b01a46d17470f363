// Package tap is where analysed packets leave the analyzer shards. The ring
// buffer writer and live captures attach a Sink to an analysis instance and
// receive every packet with what the analysis learned about it.
//
//	detach := engine.Attach(sink)
//	defer detach()
//
// Sinks are called on the shard goroutines, concurrently from different
// shards, each shard in its own time order. A Sink must not block: it copies
// what it needs into its own bounded queue and counts what it drops.
package tap

import (
	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/l7proto"
)

// Meta is what the analysis adds to a decoded packet.
type Meta struct {
	// Seq orders packets of one analysis instance in capture order; it
	// breaks ties between equal timestamps when streams are merged.
	Seq uint64
	// App is the L7 protocol of the packet's flow as detected so far.
	App l7proto.ID
	// Group is the virtual link group the packet was assigned to.
	Group uint16
	// SIPNumbers holds hashes (see HashNumber) of the caller and callee
	// numbers of the SIP call this packet belongs to: its signalling, or
	// the RTP/RTCP flows the call negotiated. Zero means none.
	SIPNumbers [2]uint64
}

// Sink receives analysed packets. p and frame are valid only during the
// call.
type Sink interface {
	Packet(shard int, p *decode.Packet, frame []byte, m *Meta)
}

// HashNumber hashes a SIP phone number (user part of a SIP URI, digits and
// a leading + kept, other characters dropped) for Meta.SIPNumbers. It never
// returns 0 for a non-empty number.
func HashNumber(number string) uint64 {
	// FNV-1a over the digits.
	h := uint64(14695981039346656037)
	n := 0
	for i := 0; i < len(number); i++ {
		c := number[i]
		if (c >= '0' && c <= '9') || (c == '+' && n == 0) || c == '*' || c == '#' {
			h ^= uint64(c)
			h *= 1099511628211
			n++
		}
	}
	if n == 0 {
		return 0
	}
	if h == 0 {
		h = 1
	}
	return h
}
