// Package segment is the on-disk format of ring buffer segments: standard
// pcapng (little-endian, nanosecond if_tsresol, one interface description
// per monitor port so the interface id is the port), cut into chunks that
// each end with a sync block carrying a CRC-32C of the chunk. Any pcapng
// reader (tshark, capinfos) reads a segment; the sync blocks are pcapng
// custom blocks that readers skip.
//
//	buf = segment.AppendSHB(buf)
//	buf = segment.AppendIDB(buf, decode.LinkEthernet, "port0")
//	buf = segment.AppendEPB(buf, rec)          // per packet
//	buf = segment.AppendSync(buf, start, n)    // ends a chunk, aligned to 4 KiB
//
// Each enhanced packet block carries, in a custom option, the analysis'
// metadata the index and extraction need (capture sequence number, L7
// protocol, virtual link group), so a segment is self-describing: its
// index can always be rebuilt from it (Recover). A chunk is written with
// one aligned write; after a crash, Recover keeps every chunk whose CRC
// checks out and cuts the file after the last one.
package segment

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"slices"

	"github.com/multimeter-fw/multimeter/services/decode"
)

// Align is the alignment of every chunk: O_DIRECT writes need it, and it
// keeps chunks on sector boundaries so a torn write spoils only its own.
const Align = 4096

// PEN is the IANA private enterprise number in our custom blocks and
// options. 32473 is the number RFC 5612 reserves for documentation; the
// data it tags is only meaningful to this firmware.
const PEN = 32473

// Block types and option codes (pcapng, draft-ietf-opsawg-pcapng).
const (
	typeSHB       = 0x0A0D0D0A
	typeIDB       = 0x00000001
	typeEPB       = 0x00000006
	typeSync      = 0x80000BAD // local use: readers skip it
	optEnd        = 0
	optCustomNC   = 19373 // custom binary option, not to be copied
	optIfName     = 2
	optIfTsresol  = 9
	optShbUserApp = 4
	byteOrder     = 0x1A2B3C4D
)

// Sizes of the fixed parts.
const (
	epbFixed    = 28                 // type, length, iface, ts high/low, caplen, origlen
	metaOption  = 4 + 4 + 8 + 2 + 2  // code, length, PEN, seq, app, group
	epbTrailer  = metaOption + 4 + 4 // meta option, end of options, trailing length
	syncMin     = 12 + 4 + 4 + 4 + 4 // block frame, PEN, magic, CRC, packet count
	syncMagic   = 0x59534D4D         // "MMSY"
	maxBlockLen = 16 << 20
)

// MaxEPBLen is the largest block AppendEPB writes for a frame of capLen
// bytes.
func MaxEPBLen(capLen int) int { return epbFixed + pad4(capLen) + epbTrailer }

// SyncReserve is the most a sync block (with its alignment padding) takes.
const SyncReserve = syncMin + Align

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Checksum returns the CRC-32C a sync block records for chunk bytes.
func Checksum(b []byte) uint32 { return crc32.Checksum(b, castagnoli) }

func pad4(n int) int { return (n + 3) &^ 3 }

// Record is one packet as stored.
type Record struct {
	Iface     uint32 // interface id = monitor port
	Timestamp int64  // ns since the Unix epoch
	OrigLen   uint32 // length on the wire; CapLen is len(Data)
	Data      []byte // captured bytes (points into the block read)
	Seq       uint64 // capture order (tap.Meta.Seq)
	App       uint16 // l7proto.ID
	Group     uint16
}

// AppendSHB appends a section header block.
func AppendSHB(b []byte) []byte {
	app := "multimeter"
	optLen := 4 + pad4(len(app)) + 4
	total := 28 + optLen
	b = le32(b, typeSHB)
	b = le32(b, uint32(total))
	b = le32(b, byteOrder)
	b = le16(b, 1)
	b = le16(b, 0)
	b = le64(b, ^uint64(0)) // section length unknown
	b = appendOption(b, optShbUserApp, []byte(app))
	b = le32(b, optEnd)
	return le32(b, uint32(total))
}

// AppendIDB appends an interface description block with nanosecond
// timestamps.
func AppendIDB(b []byte, link decode.LinkType, name string) []byte {
	optLen := 4 + 4 + 4 + pad4(len(name)) + 4 // tsresol, name, end
	total := 20 + optLen
	b = le32(b, typeIDB)
	b = le32(b, uint32(total))
	b = le16(b, uint16(link))
	b = le16(b, 0)
	b = le32(b, 0) // snaplen: no limit
	b = appendOption(b, optIfTsresol, []byte{9})
	b = appendOption(b, optIfName, []byte(name))
	b = le32(b, optEnd)
	return le32(b, uint32(total))
}

func appendOption(b []byte, code uint16, v []byte) []byte {
	b = le16(b, code)
	b = le16(b, uint16(len(v)))
	b = append(b, v...)
	for range pad4(len(v)) - len(v) {
		b = append(b, 0)
	}
	return b
}

// AppendEPB appends an enhanced packet block for r.
func AppendEPB(b []byte, r *Record) []byte {
	n := len(r.Data)
	total := MaxEPBLen(n)
	start := len(b)
	b = slices.Grow(b, total)[:start+total]
	blk := b[start:]
	le := binary.LittleEndian
	le.PutUint32(blk[0:], typeEPB)
	le.PutUint32(blk[4:], uint32(total))
	le.PutUint32(blk[8:], r.Iface)
	le.PutUint32(blk[12:], uint32(uint64(r.Timestamp)>>32))
	le.PutUint32(blk[16:], uint32(r.Timestamp))
	le.PutUint32(blk[20:], uint32(n))
	le.PutUint32(blk[24:], r.OrigLen)
	copy(blk[epbFixed:], r.Data)
	opt := blk[epbFixed+pad4(n):]
	for i := epbFixed + n; i < epbFixed+pad4(n); i++ {
		blk[i] = 0
	}
	le.PutUint16(opt[0:], optCustomNC)
	le.PutUint16(opt[2:], metaOption-4)
	le.PutUint32(opt[4:], PEN)
	le.PutUint64(opt[8:], r.Seq)
	le.PutUint16(opt[16:], r.App)
	le.PutUint16(opt[18:], r.Group)
	le.PutUint32(opt[20:], optEnd)
	le.PutUint32(opt[24:], uint32(total))
	return b
}

// AppendSync ends the chunk that starts at b[chunkStart:] with a sync
// block recording its CRC and packet count, padded so that len(b) becomes
// a multiple of Align (b must start at an aligned file offset).
func AppendSync(b []byte, chunkStart int, packets uint32) []byte {
	crc := Checksum(b[chunkStart:])
	total := syncMin
	if rem := (len(b) + total) % Align; rem != 0 {
		total += Align - rem
	}
	b = le32(b, typeSync)
	b = le32(b, uint32(total))
	b = le32(b, PEN)
	b = le32(b, syncMagic)
	b = le32(b, crc)
	b = le32(b, packets)
	for range total - syncMin {
		b = append(b, 0)
	}
	return le32(b, uint32(total))
}

func le16(b []byte, v uint16) []byte { return binary.LittleEndian.AppendUint16(b, v) }
func le32(b []byte, v uint32) []byte { return binary.LittleEndian.AppendUint32(b, v) }
func le64(b []byte, v uint64) []byte { return binary.LittleEndian.AppendUint64(b, v) }

// Errors of the readers.
var (
	ErrShort   = errors.New("segment: block cut off")
	ErrCorrupt = errors.New("segment: corrupt block")
)

// Block is one pcapng block within a buffer.
type Block struct {
	Type uint32
	Body []byte // between the length fields
	Len  int    // whole block
}

// NextBlock parses the block at the start of b. ErrShort means b ends
// inside the block (more data may complete it); ErrCorrupt means the
// bytes cannot be a block of ours.
func NextBlock(b []byte) (Block, error) {
	if len(b) < 12 {
		return Block{}, ErrShort
	}
	typ := binary.LittleEndian.Uint32(b)
	n := int(binary.LittleEndian.Uint32(b[4:]))
	if n < 12 || n%4 != 0 || n > maxBlockLen {
		return Block{}, fmt.Errorf("%w: length %d", ErrCorrupt, n)
	}
	if len(b) < n {
		return Block{}, ErrShort
	}
	if int(binary.LittleEndian.Uint32(b[n-4:])) != n {
		return Block{}, fmt.Errorf("%w: trailing length differs", ErrCorrupt)
	}
	return Block{Type: typ, Body: b[8 : n-4], Len: n}, nil
}

// ParseEPB decodes an enhanced packet block; ok is false for other block
// types. Record.Data points into b.
func ParseEPB(blk Block, r *Record) (ok bool, err error) {
	if blk.Type != typeEPB {
		return false, nil
	}
	body := blk.Body
	if len(body) < epbFixed-8 {
		return false, fmt.Errorf("%w: short packet block", ErrCorrupt)
	}
	capLen := int(binary.LittleEndian.Uint32(body[12:]))
	if capLen > len(body)-20 {
		return false, fmt.Errorf("%w: captured length %d exceeds block", ErrCorrupt, capLen)
	}
	*r = Record{
		Iface:     binary.LittleEndian.Uint32(body),
		Timestamp: int64(uint64(binary.LittleEndian.Uint32(body[4:]))<<32 | uint64(binary.LittleEndian.Uint32(body[8:]))),
		OrigLen:   binary.LittleEndian.Uint32(body[16:]),
		Data:      body[20 : 20+capLen],
	}
	opts := body[min(20+pad4(capLen), len(body)):]
	for len(opts) >= 4 {
		code := binary.LittleEndian.Uint16(opts)
		n := int(binary.LittleEndian.Uint16(opts[2:]))
		if code == optEnd || 4+n > len(opts) {
			break
		}
		v := opts[4 : 4+n]
		if code == optCustomNC && n == metaOption-4 && binary.LittleEndian.Uint32(v) == PEN {
			r.Seq = binary.LittleEndian.Uint64(v[4:])
			r.App = binary.LittleEndian.Uint16(v[12:])
			r.Group = binary.LittleEndian.Uint16(v[14:])
		}
		opts = opts[min(4+pad4(n), len(opts)):]
	}
	return true, nil
}

// ParseSync reports whether blk is a sync block and, if so, the CRC and
// packet count it records.
func ParseSync(blk Block) (crc, packets uint32, ok bool) {
	b := blk.Body
	if blk.Type != typeSync || len(b) < syncMin-12 ||
		binary.LittleEndian.Uint32(b) != PEN || binary.LittleEndian.Uint32(b[4:]) != syncMagic {
		return 0, 0, false
	}
	return binary.LittleEndian.Uint32(b[8:]), binary.LittleEndian.Uint32(b[12:]), true
}

// ParseIDB returns the link type of an interface description block.
func ParseIDB(blk Block) (decode.LinkType, bool) {
	if blk.Type != typeIDB || len(blk.Body) < 8 {
		return 0, false
	}
	return decode.LinkType(binary.LittleEndian.Uint16(blk.Body)), true
}
