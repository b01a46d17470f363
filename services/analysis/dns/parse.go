package dns

import (
	"encoding/binary"
	"errors"

	"github.com/multimeter-fw/multimeter/services/decode"
)

// Errors of Parse.
var (
	ErrShort   = errors.New("dns: message truncated")
	ErrBadName = errors.New("dns: bad name")
)

// MaxAnswers is how many address answers a Message keeps.
const MaxAnswers = 8

// Message is what the analysis needs of a DNS message. It is reused
// between messages and holds no pointers.
type Message struct {
	ID       uint16
	Response bool
	Opcode   uint8
	RCode    uint8
	QType    uint16
	name     [255]byte
	nameLen  uint8
	Addrs    [MaxAnswers]decode.Addr // A and AAAA answers
	NAddrs   uint8
}

// Name returns the question name (lower case, dotted, no final dot). It
// points into m.
func (m *Message) Name() []byte { return m.name[:m.nameLen] }

// flagsLen is how much of the header tells a response and its reply
// code; headerLen is the whole header.
const (
	flagsLen  = 4
	headerLen = 12
)

// Parse reads a DNS message (without the TCP length prefix) into m. It
// reads no byte outside b and allocates nothing. When the message is cut
// short after its header, the header fields are set and the error is
// ErrShort (or ErrBadName).
func Parse(m *Message, b []byte) error {
	*m = Message{}
	if len(b) < flagsLen {
		return ErrShort
	}
	m.ID = binary.BigEndian.Uint16(b)
	m.Response = b[2]&0x80 != 0
	m.Opcode = (b[2] >> 3) & 0xf
	m.RCode = b[3] & 0xf
	if len(b) < headerLen {
		return ErrShort
	}
	qd, an := int(binary.BigEndian.Uint16(b[4:])), int(binary.BigEndian.Uint16(b[6:]))
	off := headerLen
	for i := range qd {
		var err error
		if i == 0 {
			n, end, err := readName(b, off, &m.name)
			if err != nil {
				return err
			}
			m.nameLen, off = uint8(n), end
		} else if off, err = skipName(b, off); err != nil {
			return err
		}
		if off+4 > len(b) {
			return ErrShort
		}
		if i == 0 {
			m.QType = binary.BigEndian.Uint16(b[off:])
		}
		off += 4
	}
	for range an {
		var err error
		if off, err = skipName(b, off); err != nil {
			return err
		}
		if off+10 > len(b) {
			return ErrShort
		}
		typ, class := binary.BigEndian.Uint16(b[off:]), binary.BigEndian.Uint16(b[off+2:])
		rdlen := int(binary.BigEndian.Uint16(b[off+8:]))
		off += 10
		if off+rdlen > len(b) {
			return ErrShort
		}
		if class == 1 && int(m.NAddrs) < MaxAnswers {
			switch {
			case typ == 1 && rdlen == 4:
				m.Addrs[m.NAddrs] = decode.AddrFrom4([4]byte(b[off : off+4]))
				m.NAddrs++
			case typ == 28 && rdlen == 16:
				m.Addrs[m.NAddrs] = decode.Addr(b[off : off+16])
				m.NAddrs++
			}
		}
		off += rdlen
	}
	return nil
}

// maxJumps bounds compression pointers followed in one name, so a loop
// of pointers cannot spin.
const maxJumps = 32

// readName decodes the name at off into buf (lower case, dotted) and
// returns its length and the offset after the name in the message.
func readName(b []byte, off int, buf *[255]byte) (n, end int, err error) {
	end = -1
	for jumps := 0; ; {
		if off >= len(b) {
			return 0, 0, ErrShort
		}
		l := int(b[off])
		switch {
		case l == 0:
			if end < 0 {
				end = off + 1
			}
			return n, end, nil
		case l&0xc0 == 0xc0:
			if off+1 >= len(b) {
				return 0, 0, ErrShort
			}
			if end < 0 {
				end = off + 2
			}
			ptr := int(binary.BigEndian.Uint16(b[off:]) & 0x3fff)
			if jumps++; jumps > maxJumps || ptr >= off {
				return 0, 0, ErrBadName
			}
			off = ptr
		case l&0xc0 != 0:
			return 0, 0, ErrBadName
		default:
			if off+1+l > len(b) {
				return 0, 0, ErrShort
			}
			if n > 0 {
				if n >= len(buf) {
					return 0, 0, ErrBadName
				}
				buf[n] = '.'
				n++
			}
			if n+l > len(buf) {
				return 0, 0, ErrBadName
			}
			for _, c := range b[off+1 : off+1+l] {
				if c >= 'A' && c <= 'Z' {
					c += 'a' - 'A'
				}
				if c <= ' ' || c >= 0x7f {
					c = '?' // keep names printable
				}
				buf[n] = c
				n++
			}
			off += 1 + l
		}
	}
}

// skipName returns the offset after the name at off.
func skipName(b []byte, off int) (int, error) {
	for {
		if off >= len(b) {
			return 0, ErrShort
		}
		l := int(b[off])
		switch {
		case l == 0:
			return off + 1, nil
		case l&0xc0 == 0xc0:
			if off+1 >= len(b) {
				return 0, ErrShort
			}
			return off + 2, nil
		case l&0xc0 != 0:
			return 0, ErrBadName
		}
		off += 1 + l
	}
}
