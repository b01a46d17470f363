// Package index is the per-segment packet index of the ring buffer: a time
// directory of small blocks (exact time windows, and the file offset of
// every packet), compressed posting lists of packet ordinals for IP
// addresses, ports, L4 and L7 protocols and VLANs, and a bloom filter of
// every key for the catalog.
//
//	b := index.NewBuilder(links)
//	b.Add(&entry)                   // per packet, in file order
//	v := b.View()                   // live readers: what was added so far
//	data := b.Encode()              // the .idx file when the segment closes
//	idx, err := index.Open(data)    // finished segments
//
// Both a live View and a finished Index answer the Reader interface that
// extraction plans against. Posting lists hold ordinals (the n-th packet of
// the segment) as varint deltas, or as a bitmap when that is smaller.
package index

import (
	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/filter"
	"github.com/multimeter-fw/multimeter/services/tap"
)

// BlockPackets is the most packets per time directory block.
const BlockPackets = 256

// Entry is what the index records of one packet.
type Entry struct {
	Offset    uint64 // file offset of the packet's block
	Timestamp int64
	Seq       uint64
	SrcIP     decode.Addr
	DstIP     decode.Addr
	OuterSrc  decode.Addr
	OuterDst  decode.Addr
	SrcPort   uint16
	DstPort   uint16
	VLANs     [decode.MaxVLANs]uint16
	App       uint16
	Proto     uint8
	VLANCount uint8
	Flags     uint8 // entryIP, entryPorts, entryTunnel
}

const (
	entryIP = 1 << iota
	entryPorts
	entryTunnel
)

// SetPacket fills e's keys from a decoded packet and its metadata; Offset
// is left to the caller. Fields the flags say are absent keep stale
// values: nothing reads them.
func (e *Entry) SetPacket(p *decode.Packet, m *tap.Meta) {
	e.Timestamp, e.Seq, e.App = p.Timestamp, m.Seq, uint16(m.App)
	e.Flags = 0
	if p.IPVersion != 0 {
		e.Flags |= entryIP
		e.SrcIP, e.DstIP, e.Proto = p.SrcIP, p.DstIP, p.Proto
		if p.Tunnel != decode.TunnelNone {
			e.Flags |= entryTunnel
			e.OuterSrc, e.OuterDst = p.OuterSrc, p.OuterDst
		}
	}
	if p.Layers&(decode.LayerTCP|decode.LayerUDP|decode.LayerSCTP) != 0 {
		e.Flags |= entryPorts
		e.SrcPort, e.DstPort = p.SrcPort, p.DstPort
	}
	e.VLANCount = min(p.VLANCount, decode.MaxVLANs)
	e.VLANs = p.VLANs
}

// Block is one entry of the time directory: Count consecutive packets
// starting at ordinal First and file offset Offset, with timestamps in
// [MinTs, MaxTs]. Packets within a run are in (timestamp, seq) order; a
// block with RunStart begins a new run (the capture went back in time).
type Block struct {
	First    uint32
	Count    uint32
	Offset   uint64
	MinTs    int64
	MaxTs    int64
	colOff   uint32 // start of the block's offset deltas in the column
	RunStart bool
}

// Reader answers the planner's questions about one segment.
type Reader interface {
	// Packets is the number of packets indexed.
	Packets() uint32
	// Blocks is the time directory, in ordinal order.
	Blocks() []Block
	// Offsets appends the file offset of every packet of b to dst.
	Offsets(b Block, dst []uint64) ([]uint64, error)
	// Lookup appends to dst, in ascending order, the ordinals in [lo, hi)
	// of the packets that satisfy t.
	Lookup(t filter.Term, lo, hi uint32, dst []uint32) ([]uint32, error)
	// Estimate is the number of postings Lookup would read for t: the
	// planner intersects the most selective clause first.
	Estimate(t filter.Term) int
	// Link is the link type of an interface (Ethernet when unknown).
	Link(iface uint32) decode.LinkType
}

// key identifies a posting list: a term kind and a value (an address for
// IPs, a little-endian number otherwise).
type key struct {
	kind filter.TermKind
	v    [16]byte
}

func numKey(kind filter.TermKind, v uint32) key {
	k := key{kind: kind}
	k.v[0], k.v[1], k.v[2], k.v[3] = byte(v), byte(v>>8), byte(v>>16), byte(v>>24)
	return k
}

func (k key) num() uint32 {
	return uint32(k.v[0]) | uint32(k.v[1])<<8 | uint32(k.v[2])<<16 | uint32(k.v[3])<<24
}
