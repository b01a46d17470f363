package index

import (
	"encoding/binary"
	"sync"

	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/filter"
)

// plist is a posting list being built: ordinals as varint deltas.
type plist struct {
	key  key
	last uint32
	n    uint32
	buf  []byte
}

func (l *plist) add(ord uint32) {
	if l.n > 0 && l.last == ord {
		return // the packet has this key twice (src == dst)
	}
	d := ord
	if l.n > 0 {
		d = ord - l.last
	}
	l.buf = binary.AppendUvarint(l.buf, uint64(d))
	l.last = ord
	l.n++
}

// domain is the value range of the numeric kinds, for direct tables.
var domain = [...]int{filter.TermPort: 1 << 16, filter.TermProto: 1 << 8, filter.TermVLAN: 1 << 12, filter.TermApp: 1 << 16}

// Builder indexes the packets of the segment being written. Add is called
// by one goroutine (the segment's writer); View may be called concurrently
// by readers.
type Builder struct {
	links []decode.LinkType

	mu      sync.RWMutex // guards everything below against readers
	n       uint32
	ips     addrTable            // list index + 1, by address
	tables  [len(domain)][]int32 // list index + 1, by value
	lists   []plist
	blocks  []Block // closed blocks
	cur     Block   // open block (Count 0: none)
	column  []byte  // offset deltas of packets after the first of each block
	lastOff uint64
	lastTs  int64
	lastSeq uint64
	minTs   int64
	maxTs   int64
}

// NewBuilder starts an empty index; links maps interface ids to link
// types.
func NewBuilder(links []decode.LinkType) *Builder {
	b := &Builder{links: links, ips: newAddrTable()}
	for k, n := range domain {
		if n > 0 {
			b.tables[k] = make([]int32, n)
		}
	}
	return b
}

// SetLinks replaces the interface table (a port appeared mid-segment).
func (b *Builder) SetLinks(links []decode.LinkType) {
	b.mu.Lock()
	b.links = links
	b.mu.Unlock()
}

// Packets returns how many packets were added.
func (b *Builder) Packets() uint32 {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.n
}

// TimeRange returns the smallest and largest timestamp added.
func (b *Builder) TimeRange() (int64, int64) {
	b.mu.RLock()
	defer b.mu.RUnlock()
	return b.minTs, b.maxTs
}

// Add indexes packets that are now readable in the segment file, in file
// order.
func (b *Builder) Add(es []Entry) {
	b.mu.Lock()
	defer b.mu.Unlock()
	for i := range es {
		b.add(&es[i])
	}
}

func (b *Builder) add(e *Entry) {
	ord := b.n
	back := b.n > 0 && (e.Timestamp < b.lastTs || e.Timestamp == b.lastTs && e.Seq < b.lastSeq)
	if b.cur.Count == BlockPackets || back {
		b.closeBlock()
	}
	if b.cur.Count == 0 {
		b.cur = Block{First: ord, Offset: e.Offset, MinTs: e.Timestamp, MaxTs: e.Timestamp,
			colOff: uint32(len(b.column)), RunStart: back || ord == 0}
	} else {
		b.column = binary.AppendUvarint(b.column, e.Offset-b.lastOff)
		b.cur.MinTs = min(b.cur.MinTs, e.Timestamp)
		b.cur.MaxTs = max(b.cur.MaxTs, e.Timestamp)
	}
	b.cur.Count++
	if ord == 0 {
		b.minTs, b.maxTs = e.Timestamp, e.Timestamp
	}
	b.minTs, b.maxTs = min(b.minTs, e.Timestamp), max(b.maxTs, e.Timestamp)
	b.lastOff, b.lastTs, b.lastSeq = e.Offset, e.Timestamp, e.Seq

	if e.Flags&entryIP != 0 {
		b.addIP(&e.SrcIP, ord)
		b.addIP(&e.DstIP, ord)
		if e.Flags&entryTunnel != 0 {
			b.addIP(&e.OuterSrc, ord)
			b.addIP(&e.OuterDst, ord)
		}
		b.addNum(filter.TermProto, uint32(e.Proto), ord)
	}
	if e.Flags&entryPorts != 0 {
		b.addNum(filter.TermPort, uint32(e.SrcPort), ord)
		b.addNum(filter.TermPort, uint32(e.DstPort), ord)
	}
	for i := range min(int(e.VLANCount), len(e.VLANs)) {
		b.addNum(filter.TermVLAN, uint32(e.VLANs[i]&0xfff), ord)
	}
	b.addNum(filter.TermApp, uint32(e.App), ord)
	b.n++
}

func (b *Builder) closeBlock() {
	if b.cur.Count > 0 {
		b.blocks = append(b.blocks, b.cur)
		b.cur = Block{}
	}
}

func (b *Builder) addIP(a *decode.Addr, ord uint32) {
	slot, ok := b.ips.find(a)
	var i int32
	if ok {
		i = b.ips.vals[slot] - 1
	} else {
		i = int32(len(b.lists))
		b.lists = append(b.lists, plist{key: key{kind: filter.TermIP, v: *a}})
		b.ips.insert(slot, a, i+1)
	}
	b.lists[i].add(ord)
}

func (b *Builder) addNum(kind filter.TermKind, v uint32, ord uint32) {
	t := b.tables[kind]
	i := t[v]
	if i == 0 {
		b.lists = append(b.lists, plist{key: numKey(kind, v)})
		i = int32(len(b.lists))
		t[v] = i
	}
	b.lists[i-1].add(ord)
}

// View is a consistent read-only picture of the live index: the packets
// added before it was taken.
type View struct {
	b      *Builder
	n      uint32
	blocks []Block
	column []byte
	links  []decode.LinkType
}

// View returns what a reader may use now. Later Adds do not change it.
func (b *Builder) View() *View {
	b.mu.RLock()
	defer b.mu.RUnlock()
	v := &View{b: b, n: b.n, column: b.column, links: b.links}
	v.blocks = b.blocks[:len(b.blocks):len(b.blocks)]
	if b.cur.Count > 0 {
		v.blocks = append(v.blocks, b.cur)
	}
	return v
}

var _ Reader = (*View)(nil)

// Packets implements Reader.
func (v *View) Packets() uint32 { return v.n }

// Blocks implements Reader.
func (v *View) Blocks() []Block { return v.blocks }

// Link implements Reader.
func (v *View) Link(iface uint32) decode.LinkType { return linkOf(v.links, iface) }

func linkOf(links []decode.LinkType, iface uint32) decode.LinkType {
	if int(iface) < len(links) {
		return links[iface]
	}
	return decode.LinkEthernet
}

// Offsets implements Reader.
func (v *View) Offsets(blk Block, dst []uint64) ([]uint64, error) {
	return blockOffsets(v.column, blk, dst)
}

// matching returns copies of the lists whose keys t selects, as they were
// when the view was taken (entries past v.n are ignored by decoding).
func (v *View) matching(t filter.Term) []plist {
	b := v.b
	b.mu.RLock()
	defer b.mu.RUnlock()
	var out []plist
	if t.Kind == filter.TermIP {
		if t.Bits == 128 {
			if i := b.ips.get(&t.Addr); i != 0 {
				out = append(out, b.lists[i-1])
			}
			return out
		}
		b.ips.each(func(a *decode.Addr, i int32) {
			if filter.InPrefix(*a, t.Addr, t.Bits) {
				out = append(out, b.lists[i-1])
			}
		})
		return out
	}
	if int(t.Kind) >= len(b.tables) || b.tables[t.Kind] == nil {
		return nil
	}
	tab := b.tables[t.Kind]
	for x := uint64(t.Lo); x <= uint64(t.Hi) && x < uint64(len(tab)); x++ {
		if i := tab[x]; i != 0 {
			out = append(out, b.lists[i-1])
		}
	}
	return out
}

// Estimate implements Reader.
func (v *View) Estimate(t filter.Term) int {
	n := 0
	for _, l := range v.matching(t) {
		n += int(l.n)
	}
	return n
}

// Lookup implements Reader.
func (v *View) Lookup(t filter.Term, lo, hi uint32, dst []uint32) ([]uint32, error) {
	hi = min(hi, v.n)
	ls := v.matching(t)
	srcs := make([]list, len(ls))
	for i, l := range ls {
		srcs[i] = list{enc: encVarint, data: l.buf, count: l.n}
	}
	return union(srcs, lo, hi, dst)
}
