package index

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math/bits"
	"slices"
)

// ErrCorrupt reports an index that does not decode.
var ErrCorrupt = errors.New("index: corrupt")

// List encodings.
const (
	encVarint = 0 // ordinals as uvarint deltas (the first as is)
	encBitmap = 1 // one bit per packet of the segment
)

// list is an encoded posting list.
type list struct {
	enc   byte
	data  []byte
	count uint32 // entries (varint lists)
}

// each calls fn for the list's ordinals in [lo, hi), ascending.
func (l list) each(lo, hi uint32, fn func(uint32)) error {
	switch l.enc {
	case encVarint:
		var ord uint64
		data := l.data
		for i := uint32(0); i < l.count; i++ {
			d, n := binary.Uvarint(data)
			if n <= 0 {
				return fmt.Errorf("%w: posting list cut off", ErrCorrupt)
			}
			data = data[n:]
			if i == 0 {
				ord = d
			} else {
				ord += d
				if d == 0 {
					return fmt.Errorf("%w: posting list not increasing", ErrCorrupt)
				}
			}
			if ord >= uint64(hi) {
				return nil
			}
			if ord >= uint64(lo) {
				fn(uint32(ord))
			}
		}
		return nil
	case encBitmap:
		end := min(uint64(hi), uint64(len(l.data))*8)
		for w := uint64(lo) / 64 * 64; w < end; w += 64 {
			var word uint64
			if int(w/8)+8 <= len(l.data) {
				word = binary.LittleEndian.Uint64(l.data[w/8:])
			} else {
				var tmp [8]byte
				copy(tmp[:], l.data[w/8:])
				word = binary.LittleEndian.Uint64(tmp[:])
			}
			for word != 0 {
				ord := w + uint64(bits.TrailingZeros64(word))
				word &= word - 1
				if ord >= uint64(lo) && ord < end {
					fn(uint32(ord))
				}
			}
		}
		return nil
	}
	return fmt.Errorf("%w: unknown list encoding %d", ErrCorrupt, l.enc)
}

// union appends to dst the sorted, distinct ordinals in [lo, hi) of all
// lists.
func union(ls []list, lo, hi uint32, dst []uint32) ([]uint32, error) {
	if lo >= hi || len(ls) == 0 {
		return dst, nil
	}
	if len(ls) == 1 {
		err := ls[0].each(lo, hi, func(o uint32) { dst = append(dst, o) })
		return dst, err
	}
	set := make([]uint64, (hi-lo+63)/64)
	for _, l := range ls {
		if err := l.each(lo, hi, func(o uint32) { set[(o-lo)/64] |= 1 << ((o - lo) % 64) }); err != nil {
			return dst, err
		}
	}
	for i, word := range set {
		for word != 0 {
			dst = append(dst, lo+uint32(i*64+bits.TrailingZeros64(word)))
			word &= word - 1
		}
	}
	return dst, nil
}

// Intersect returns the ordinals in both sorted lists, reusing a.
func Intersect(a, b []uint32) []uint32 {
	out := a[:0]
	i, j := 0, 0
	for i < len(a) && j < len(b) {
		switch {
		case a[i] < b[j]:
			i++
		case a[i] > b[j]:
			j++
		default:
			out = append(out, a[i])
			i++
			j++
		}
	}
	return out
}

// encodeList picks the smaller encoding of a built list for a segment of
// packets packets and appends it (tag byte first) to dst.
func encodeList(dst []byte, l *plist, packets uint32) []byte {
	bitmapLen := int(packets+7) / 8
	if len(l.buf) <= bitmapLen {
		dst = append(dst, encVarint)
		return append(dst, l.buf...)
	}
	dst = append(dst, encBitmap)
	start := len(dst)
	dst = append(dst, make([]byte, bitmapLen)...)
	src := list{enc: encVarint, data: l.buf, count: l.n}
	src.each(0, packets, func(o uint32) { dst[start+int(o/8)] |= 1 << (o % 8) })
	return dst
}

// blockOffsets appends the file offsets of blk's packets.
func blockOffsets(column []byte, blk Block, dst []uint64) ([]uint64, error) {
	if blk.Count == 0 {
		return dst, nil
	}
	if int(blk.colOff) > len(column) {
		return dst, fmt.Errorf("%w: block offsets outside the column", ErrCorrupt)
	}
	data := column[blk.colOff:]
	off := blk.Offset
	dst = slices.Grow(dst, int(blk.Count))
	dst = append(dst, off)
	for range blk.Count - 1 {
		d, n := binary.Uvarint(data)
		if n <= 0 {
			return dst, fmt.Errorf("%w: offset column cut off", ErrCorrupt)
		}
		data = data[n:]
		off += d
		dst = append(dst, off)
	}
	return dst, nil
}
