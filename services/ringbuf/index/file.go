package index

import (
	"bytes"
	"cmp"
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"sort"

	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/filter"
)

// File layout (little-endian):
//
//	header (headerLen bytes): magic, version, packets, blocks, min/max
//	  timestamp, data length, section table, CRC-32C of the header
//	sections: links (u16 per interface), blocks (blockLen each), offset
//	  column, keys per kind (IP: 16-byte address; others: u32 value; each
//	  followed by list offset and count), lists, bloom filter
const (
	magic      = "MMIX"
	version    = 1
	headerLen  = 128
	blockLen   = 36
	ipKeyLen   = 24
	numKeyLen  = 12
	crcOff     = 124
	sectionOff = 40
)

// Sections, in file order.
const (
	secLinks = iota
	secBlocks
	secColumn
	secIPs
	secPorts
	secProtos
	secVLANs
	secApps
	secLists
	secBloom
	numSections
)

// keySection maps a term kind to its key section.
var keySection = [...]int{filter.TermIP: secIPs, filter.TermPort: secPorts, filter.TermProto: secProtos,
	filter.TermVLAN: secVLANs, filter.TermApp: secApps}

// Encode returns the index file of everything added; dataLen is the
// length of the segment file it describes.
func (b *Builder) Encode(dataLen uint64) []byte {
	b.mu.RLock()
	defer b.mu.RUnlock()
	var sec [numSections][]byte
	for _, l := range b.links {
		sec[secLinks] = binary.LittleEndian.AppendUint16(sec[secLinks], uint16(l))
	}
	blocks := b.blocks
	if b.cur.Count > 0 {
		blocks = append(blocks[:len(blocks):len(blocks)], b.cur)
	}
	for _, blk := range blocks {
		sec[secBlocks] = appendBlock(sec[secBlocks], blk)
	}
	sec[secColumn] = b.column
	order := make([]int, len(b.lists))
	for i := range order {
		order[i] = i
	}
	sort.Slice(order, func(x, y int) bool { return keyLess(b.lists[order[x]].key, b.lists[order[y]].key) })
	bloom := newBloom(len(b.lists))
	// Size the large sections up front: growing them by doubling copies
	// megabytes per segment.
	listBytes := 0
	for i := range b.lists {
		listBytes += 1 + min(len(b.lists[i].buf), int(b.n+7)/8)
	}
	sec[secLists] = make([]byte, 0, listBytes)
	for _, i := range order {
		l := &b.lists[i]
		s := keySection[l.key.kind]
		if l.key.kind == filter.TermIP {
			sec[s] = append(sec[s], l.key.v[:]...)
		} else {
			sec[s] = binary.LittleEndian.AppendUint32(sec[s], l.key.num())
		}
		sec[s] = binary.LittleEndian.AppendUint32(sec[s], uint32(len(sec[secLists])))
		sec[s] = binary.LittleEndian.AppendUint32(sec[s], l.n)
		sec[secLists] = encodeList(sec[secLists], l, b.n)
		bloom.add(l.key)
	}
	sec[secBloom] = bloom.encode()

	total := headerLen
	for _, s := range sec {
		total += len(s)
	}
	out := make([]byte, headerLen, total)
	copy(out, magic)
	binary.LittleEndian.PutUint32(out[4:], version)
	binary.LittleEndian.PutUint32(out[8:], b.n)
	binary.LittleEndian.PutUint32(out[12:], uint32(len(blocks)))
	binary.LittleEndian.PutUint64(out[16:], uint64(b.minTs))
	binary.LittleEndian.PutUint64(out[24:], uint64(b.maxTs))
	binary.LittleEndian.PutUint64(out[32:], dataLen)
	for i, s := range sec {
		binary.LittleEndian.PutUint32(out[sectionOff+8*i:], uint32(len(out)))
		binary.LittleEndian.PutUint32(out[sectionOff+8*i+4:], uint32(len(s)))
		out = append(out, s...)
	}
	binary.LittleEndian.PutUint32(out[crcOff:], crc32.Checksum(out[:crcOff], crc32.MakeTable(crc32.Castagnoli)))
	return out
}

func keyLess(a, b key) bool {
	if a.kind != b.kind {
		return a.kind < b.kind
	}
	if a.kind == filter.TermIP {
		return bytes.Compare(a.v[:], b.v[:]) < 0
	}
	return a.num() < b.num()
}

func appendBlock(b []byte, blk Block) []byte {
	b = binary.LittleEndian.AppendUint32(b, blk.First)
	b = binary.LittleEndian.AppendUint32(b, blk.Count)
	b = binary.LittleEndian.AppendUint64(b, blk.Offset)
	b = binary.LittleEndian.AppendUint64(b, uint64(blk.MinTs))
	b = binary.LittleEndian.AppendUint64(b, uint64(blk.MaxTs))
	flags := blk.colOff << 1
	if blk.RunStart {
		flags |= 1
	}
	return binary.LittleEndian.AppendUint32(b, flags)
}

// Header is the summary at the start of an index file: what the catalog
// keeps of every segment.
type Header struct {
	Packets      uint32
	MinTs, MaxTs int64
	DataLen      uint64 // bytes of the segment file covered
	Bloom        *Bloom
}

// Index is a finished segment's index over the bytes of its file.
type Index struct {
	Header
	data   []byte
	sec    [numSections][]byte
	blocks []Block
	links  []decode.LinkType
}

var _ Reader = (*Index)(nil)

// ReadHeader parses the header and bloom filter of an index file (head
// holds at least its first headerLen bytes; bloom the bloom section, read
// with BloomRange).
func ReadHeader(head []byte) (Header, error) {
	if len(head) < headerLen || string(head[:4]) != magic {
		return Header{}, fmt.Errorf("%w: not an index file", ErrCorrupt)
	}
	if v := binary.LittleEndian.Uint32(head[4:]); v != version {
		return Header{}, fmt.Errorf("%w: version %d", ErrCorrupt, v)
	}
	if crc32.Checksum(head[:crcOff], crc32.MakeTable(crc32.Castagnoli)) != binary.LittleEndian.Uint32(head[crcOff:]) {
		return Header{}, fmt.Errorf("%w: header checksum", ErrCorrupt)
	}
	return Header{
		Packets: binary.LittleEndian.Uint32(head[8:]),
		MinTs:   int64(binary.LittleEndian.Uint64(head[16:])),
		MaxTs:   int64(binary.LittleEndian.Uint64(head[24:])),
		DataLen: binary.LittleEndian.Uint64(head[32:]),
	}, nil
}

// HeaderLen is how many bytes ReadHeader needs.
const HeaderLen = headerLen

// BloomRange returns where the bloom filter lies in the file whose header
// is head.
func BloomRange(head []byte) (off, n int64) {
	i := sectionOff + 8*secBloom
	return int64(binary.LittleEndian.Uint32(head[i:])), int64(binary.LittleEndian.Uint32(head[i+4:]))
}

// Open parses an index file. data must stay unchanged while the Index is
// used (it may be a memory mapping).
func Open(data []byte) (*Index, error) {
	h, err := ReadHeader(data)
	if err != nil {
		return nil, err
	}
	x := &Index{Header: h, data: data}
	for i := range x.sec {
		off := binary.LittleEndian.Uint32(data[sectionOff+8*i:])
		n := binary.LittleEndian.Uint32(data[sectionOff+8*i+4:])
		if uint64(off)+uint64(n) > uint64(len(data)) || off < headerLen {
			return nil, fmt.Errorf("%w: section %d outside the file", ErrCorrupt, i)
		}
		x.sec[i] = data[off : off+n]
	}
	if x.Bloom, err = decodeBloom(x.sec[secBloom]); err != nil {
		return nil, err
	}
	for l := x.sec[secLinks]; len(l) >= 2; l = l[2:] {
		x.links = append(x.links, decode.LinkType(binary.LittleEndian.Uint16(l)))
	}
	nblocks := int(binary.LittleEndian.Uint32(data[12:]))
	if nblocks*blockLen != len(x.sec[secBlocks]) {
		return nil, fmt.Errorf("%w: block directory size", ErrCorrupt)
	}
	next := uint32(0)
	for b := x.sec[secBlocks]; len(b) > 0; b = b[blockLen:] {
		flags := binary.LittleEndian.Uint32(b[32:])
		blk := Block{
			First:    binary.LittleEndian.Uint32(b),
			Count:    binary.LittleEndian.Uint32(b[4:]),
			Offset:   binary.LittleEndian.Uint64(b[8:]),
			MinTs:    int64(binary.LittleEndian.Uint64(b[16:])),
			MaxTs:    int64(binary.LittleEndian.Uint64(b[24:])),
			colOff:   flags >> 1,
			RunStart: flags&1 != 0,
		}
		if blk.First != next || blk.Count == 0 || blk.Count > BlockPackets || blk.MinTs > blk.MaxTs {
			return nil, fmt.Errorf("%w: block directory entry %d", ErrCorrupt, len(x.blocks))
		}
		next += blk.Count
		x.blocks = append(x.blocks, blk)
	}
	if next != h.Packets {
		return nil, fmt.Errorf("%w: blocks hold %d packets, header says %d", ErrCorrupt, next, h.Packets)
	}
	for kind, s := range keySection {
		if s != 0 && len(x.sec[s])%keyLen(filter.TermKind(kind)) != 0 {
			return nil, fmt.Errorf("%w: key section %d size", ErrCorrupt, s)
		}
	}
	return x, nil
}

func keyLen(kind filter.TermKind) int {
	if kind == filter.TermIP {
		return ipKeyLen
	}
	return numKeyLen
}

// Packets implements Reader.
func (x *Index) Packets() uint32 { return x.Header.Packets }

// Blocks implements Reader.
func (x *Index) Blocks() []Block { return x.blocks }

// Link implements Reader.
func (x *Index) Link(iface uint32) decode.LinkType { return linkOf(x.links, iface) }

// Offsets implements Reader.
func (x *Index) Offsets(blk Block, dst []uint64) ([]uint64, error) {
	return blockOffsets(x.sec[secColumn], blk, dst)
}

// entries returns the key entries of t's kind whose keys t selects.
func (x *Index) entries(t filter.Term) (sec []byte, from, to int) {
	if int(t.Kind) >= len(keySection) || keySection[t.Kind] == 0 {
		return nil, 0, 0
	}
	sec = x.sec[keySection[t.Kind]]
	kl := keyLen(t.Kind)
	n := len(sec) / kl
	var lo, hi func(i int) int
	if t.Kind == filter.TermIP {
		first, last := prefixBounds(t.Addr, t.Bits)
		lo = func(i int) int { return bytes.Compare(sec[i*kl:i*kl+16], first[:]) }
		hi = func(i int) int { return bytes.Compare(sec[i*kl:i*kl+16], last[:]) }
	} else {
		lo = func(i int) int { return cmp.Compare(binary.LittleEndian.Uint32(sec[i*kl:]), t.Lo) }
		hi = func(i int) int { return cmp.Compare(binary.LittleEndian.Uint32(sec[i*kl:]), t.Hi) }
	}
	from = sort.Search(n, func(i int) bool { return lo(i) >= 0 })
	to = sort.Search(n, func(i int) bool { return hi(i) > 0 })
	return sec, from, max(from, to)
}

// prefixBounds returns the first and last address of a prefix.
func prefixBounds(a decode.Addr, bitsLen int) (first, last decode.Addr) {
	bitsLen = min(max(bitsLen, 0), 128)
	for i := range 16 {
		keep := min(max(bitsLen-8*i, 0), 8)
		mask := byte(0xff) << (8 - keep)
		if keep == 0 {
			mask = 0
		}
		first[i] = a[i] & mask
		last[i] = a[i] | ^mask
	}
	return first, last
}

func (x *Index) lists(t filter.Term) ([]list, int, error) {
	sec, from, to := x.entries(t)
	kl := keyLen(t.Kind)
	lists := x.sec[secLists]
	var out []list
	total := 0
	for i := from; i < to; i++ {
		e := sec[i*kl+kl-8:]
		off := binary.LittleEndian.Uint32(e)
		count := binary.LittleEndian.Uint32(e[4:])
		if uint64(off) >= uint64(len(lists)) {
			return nil, 0, fmt.Errorf("%w: posting list outside the file", ErrCorrupt)
		}
		end := len(lists)
		if i+1 < len(sec)/kl {
			end = int(min(uint64(binary.LittleEndian.Uint32(sec[(i+1)*kl+kl-8:])), uint64(len(lists))))
		} else if next, ok := x.nextListStart(t.Kind); ok {
			end = next
		}
		if end < int(off)+1 {
			return nil, 0, fmt.Errorf("%w: posting list bounds", ErrCorrupt)
		}
		out = append(out, list{enc: lists[off], data: lists[off+1 : end], count: count})
		total += int(count)
	}
	return out, total, nil
}

// nextListStart returns where the lists of the kinds after kind begin: the
// end of kind's last list.
func (x *Index) nextListStart(kind filter.TermKind) (int, bool) {
	for k := int(kind) + 1; k < len(keySection); k++ {
		sec := x.sec[keySection[k]]
		kl := keyLen(filter.TermKind(k))
		if len(sec) >= kl {
			return int(min(uint64(binary.LittleEndian.Uint32(sec[kl-8:])), uint64(len(x.sec[secLists])))), true
		}
	}
	return 0, false
}

// Estimate implements Reader.
func (x *Index) Estimate(t filter.Term) int {
	_, n, _ := x.lists(t)
	return n
}

// Lookup implements Reader.
func (x *Index) Lookup(t filter.Term, lo, hi uint32, dst []uint32) ([]uint32, error) {
	ls, _, err := x.lists(t)
	if err != nil {
		return dst, err
	}
	return union(ls, lo, min(hi, x.Header.Packets), dst)
}
