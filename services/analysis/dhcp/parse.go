package dhcp

import (
	"encoding/binary"
	"errors"

	"github.com/multimeter-fw/multimeter/services/decode"
)

// Errors of Parse.
var (
	ErrShort  = errors.New("dhcp: message truncated")
	ErrCookie = errors.New("dhcp: no magic cookie")
)

// Message types (option 53).
const (
	Discover = 1
	Offer    = 2
	Request  = 3
	Decline  = 4
	Ack      = 5
	Nak      = 6
	Release  = 7
	Inform   = 8
)

// MaxHostname is the longest host name kept.
const MaxHostname = 64

// Message is what the analysis needs of a DHCP (BOOTP) message. It holds
// no pointers.
type Message struct {
	Op          uint8 // 1 request (client), 2 reply (server)
	XID         uint32
	ClientMAC   decode.MAC
	YourIP      decode.Addr // IPv4-mapped
	Type        uint8       // option 53; 0 when absent (plain BOOTP)
	ServerID    decode.Addr // option 54
	HasServerID bool
	RequestedIP decode.Addr // option 50
	HasRequest  bool
	host        [MaxHostname]byte
	hostLen     uint8
}

// Hostname returns option 12 (printable characters only). It points into
// m.
func (m *Message) Hostname() []byte { return m.host[:m.hostLen] }

// Parse reads a DHCP message into m. It reads no byte outside b and
// allocates nothing.
func Parse(m *Message, b []byte) error {
	*m = Message{}
	if len(b) < 240 {
		return ErrShort
	}
	if binary.BigEndian.Uint32(b[236:]) != 0x63825363 {
		return ErrCookie
	}
	m.Op = b[0]
	m.XID = binary.BigEndian.Uint32(b[4:])
	m.YourIP = decode.AddrFrom4([4]byte(b[16:20]))
	if b[1] == 1 && b[2] == 6 { // Ethernet hardware address
		copy(m.ClientMAC[:], b[28:34])
	}
	o := b[240:]
	for len(o) > 0 {
		code := o[0]
		if code == 255 {
			break
		}
		if code == 0 {
			o = o[1:]
			continue
		}
		if len(o) < 2 || 2+int(o[1]) > len(o) {
			return ErrShort
		}
		v := o[2 : 2+int(o[1])]
		switch {
		case code == 53 && len(v) == 1:
			m.Type = v[0]
		case code == 54 && len(v) == 4:
			m.ServerID, m.HasServerID = decode.AddrFrom4([4]byte(v)), true
		case code == 50 && len(v) == 4:
			m.RequestedIP, m.HasRequest = decode.AddrFrom4([4]byte(v)), true
		case code == 12:
			n := 0
			for _, c := range v {
				if n == MaxHostname {
					break
				}
				if c > ' ' && c < 0x7f {
					m.host[n] = c
					n++
				}
			}
			m.hostLen = uint8(n)
		}
		o = o[2+len(v):]
	}
	return nil
}
