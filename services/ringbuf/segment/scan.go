package segment

import (
	"errors"
	"fmt"
	"io"
)

// ErrTorn reports data after the last complete chunk: the tail of a write
// that a crash interrupted.
var ErrTorn = errors.New("segment: incomplete chunk at end")

// maxChunk bounds a chunk so that a corrupt file cannot make the scanner
// buffer without end.
const maxChunk = 256 << 20

// Chunk is a run of blocks closed by a sync block whose CRC matched.
type Chunk struct {
	Off     int64  // file offset of Data
	Data    []byte // the blocks, sync block included; valid until the next call
	Packets uint32 // packet blocks in the chunk, as the sync block records
}

// Scanner reads a segment chunk by chunk, verifying each.
type Scanner struct {
	r    io.Reader
	buf  []byte
	head int   // start of the current chunk in buf
	off  int64 // file offset of buf[head]
	eof  bool
}

// NewScanner reads the segment from r, from its start.
func NewScanner(r io.Reader) *Scanner {
	return &Scanner{r: r, buf: make([]byte, 0, 1<<20)}
}

// Next returns the next verified chunk. At a clean end of the data it
// returns io.EOF; when data follows the last verified chunk it returns an
// error wrapping ErrTorn or ErrCorrupt, and Offset tells where the good
// data ends.
func (s *Scanner) Next() (Chunk, error) {
	// Drop the previous chunk.
	s.off += int64(s.head)
	s.buf = s.buf[:copy(s.buf, s.buf[s.head:])]
	s.head = 0
	pos, packets := 0, uint32(0)
	for {
		blk, err := NextBlock(s.buf[pos:])
		if errors.Is(err, ErrShort) {
			if s.eof {
				if len(s.buf) == 0 {
					return Chunk{}, io.EOF
				}
				return Chunk{}, fmt.Errorf("%w at offset %d", ErrTorn, s.off)
			}
			if len(s.buf) >= maxChunk {
				return Chunk{}, fmt.Errorf("%w: chunk at offset %d exceeds %d bytes", ErrCorrupt, s.off, maxChunk)
			}
			if err := s.fill(); err != nil {
				return Chunk{}, err
			}
			continue
		}
		if err != nil {
			return Chunk{}, fmt.Errorf("at offset %d: %w", s.off+int64(pos), err)
		}
		if crc, n, ok := ParseSync(blk); ok {
			if crc != Checksum(s.buf[:pos]) || n != packets {
				return Chunk{}, fmt.Errorf("%w: chunk at offset %d fails its checksum", ErrCorrupt, s.off)
			}
			s.head = pos + blk.Len
			return Chunk{Off: s.off, Data: s.buf[:s.head], Packets: packets}, nil
		}
		if blk.Type == typeEPB {
			packets++
		}
		pos += blk.Len
	}
}

// Offset is the file offset just after the last chunk Next returned.
func (s *Scanner) Offset() int64 { return s.off + int64(s.head) }

func (s *Scanner) fill() error {
	if cap(s.buf)-len(s.buf) < 1<<20 {
		nb := make([]byte, len(s.buf), 2*cap(s.buf)+1<<20)
		copy(nb, s.buf)
		s.buf = nb
	}
	n, err := s.r.Read(s.buf[len(s.buf):cap(s.buf)])
	s.buf = s.buf[:len(s.buf)+n]
	if errors.Is(err, io.EOF) {
		s.eof = true
		return nil
	}
	if err != nil {
		return fmt.Errorf("segment: read: %w", err)
	}
	return nil
}
