package sip

import (
	"bytes"
	"errors"

	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/flowtable"
)

// Errors of Parse.
var (
	ErrNotSIP = errors.New("sip: not a SIP message")
	ErrShort  = errors.New("sip: message truncated")
)

// MaxNumber is the longest number (URI user part) kept.
const MaxNumber = 32

// Number is a SIP URI's user part, bounded.
type Number struct {
	b [MaxNumber]byte
	n uint8
}

// Bytes returns the number.
func (n *Number) Bytes() []byte { return n.b[:n.n] }

func (n *Number) String() string { return string(n.b[:n.n]) }

// Message is what the analysis needs of a SIP message. It holds no
// pointers and is reused.
type Message struct {
	Request    bool
	Invite     bool   // an INVITE request
	Bye        bool   // a BYE or CANCEL request
	Status     int    // response code
	CSeqInvite bool   // the CSeq method is INVITE
	CallID     uint64 // hash of Call-ID
	From, To   Number
	// Media is the first media (m=) line's address and port from the SDP
	// body, with the session or media c= address.
	MediaAddr decode.Addr
	MediaPort uint16
	HasMedia  bool
}

// Parse reads a SIP message into m. It reads no byte outside b and
// allocates nothing.
func Parse(m *Message, b []byte) error {
	*m = Message{}
	line, rest, ok := cutLine(b)
	if !ok {
		return ErrShort
	}
	switch {
	case bytes.HasPrefix(line, []byte("SIP/2.0 ")):
		if len(line) < 11 {
			return ErrNotSIP
		}
		for _, c := range line[8:11] {
			if c < '0' || c > '9' {
				return ErrNotSIP
			}
			m.Status = m.Status*10 + int(c-'0')
		}
	case bytes.HasSuffix(line, []byte(" SIP/2.0")):
		m.Request = true
		m.Invite = bytes.HasPrefix(line, []byte("INVITE "))
		m.Bye = bytes.HasPrefix(line, []byte("BYE ")) || bytes.HasPrefix(line, []byte("CANCEL "))
	default:
		return ErrNotSIP
	}
	sdp := false
	for {
		line, rest, ok = cutLine(rest)
		if !ok {
			return ErrShort
		}
		if len(line) == 0 {
			break // end of headers
		}
		name, value, found := bytes.Cut(line, []byte(":"))
		if !found {
			continue
		}
		name, value = bytes.TrimSpace(name), bytes.TrimSpace(value)
		switch {
		case headerIs(name, "from", "f"):
			uriUser(&m.From, value)
		case headerIs(name, "to", "t"):
			uriUser(&m.To, value)
		case headerIs(name, "call-id", "i"):
			m.CallID = hashBytes(value)
		case headerIs(name, "cseq", ""):
			m.CSeqInvite = bytes.HasSuffix(value, []byte("INVITE"))
		case headerIs(name, "content-type", "c"):
			sdp = len(value) >= 15 && bytes.EqualFold(value[:15], []byte("application/sdp"))
		}
	}
	if sdp {
		parseSDP(m, rest)
	}
	return nil
}

func headerIs(name []byte, long, short string) bool {
	return bytes.EqualFold(name, []byte(long)) || (short != "" && len(name) == 1 && (name[0]|0x20) == short[0])
}

// cutLine splits off one CRLF- (or LF-) terminated line.
func cutLine(b []byte) (line, rest []byte, ok bool) {
	i := bytes.IndexByte(b, '\n')
	if i < 0 {
		return nil, nil, false
	}
	line = b[:i]
	if len(line) > 0 && line[len(line)-1] == '\r' {
		line = line[:len(line)-1]
	}
	return line, b[i+1:], true
}

// uriUser copies the user part of the URI in a From/To value (a tel:
// URI is all number).
func uriUser(n *Number, v []byte) {
	tel := false
	i := bytes.Index(v, []byte("sip:"))
	skip := 4
	if j := bytes.Index(v, []byte("sips:")); j >= 0 && (i < 0 || j < i) {
		i, skip = j, 5
	}
	if j := bytes.Index(v, []byte("tel:")); j >= 0 && (i < 0 || j < i) {
		i, skip, tel = j, 4, true
	}
	if i < 0 {
		return
	}
	u := v[i+skip:]
	if end := bytes.IndexAny(u, ";>?"); end >= 0 {
		u = u[:end]
	}
	if !tel {
		at := bytes.IndexByte(u, '@')
		if at < 0 {
			return // sip:host has no user part
		}
		u = u[:at]
	}
	n.n = uint8(copy(n.b[:], u))
}

// field splits off the first space-separated field of b.
func field(b []byte) (f, rest []byte) {
	b = bytes.TrimLeft(b, " \t")
	i := bytes.IndexAny(b, " \t")
	if i < 0 {
		return b, nil
	}
	return b[:i], b[i:]
}

// parseSDP finds the first m= line and the c= address that applies to it.
func parseSDP(m *Message, b []byte) {
	var session, media decode.Addr
	var haveSession, haveMedia bool
	for len(b) > 0 {
		line, rest, ok := cutLine(b)
		if !ok {
			line, rest = b, nil
		}
		b = rest
		switch {
		case bytes.HasPrefix(line, []byte("c=")):
			a, ok := sdpAddr(line[2:])
			if !ok {
				continue
			}
			if m.HasMedia {
				media, haveMedia = a, true
			} else {
				session, haveSession = a, true
			}
		case bytes.HasPrefix(line, []byte("m=")):
			if m.HasMedia {
				b = nil // only the first media
				continue
			}
			_, rest := field(line[2:]) // media type
			portField, _ := field(rest)
			port, ok := atoiPort(portField)
			if !ok {
				continue
			}
			m.MediaPort, m.HasMedia = port, true
		}
	}
	switch {
	case haveMedia:
		m.MediaAddr = media
	case haveSession:
		m.MediaAddr = session
	default:
		m.HasMedia = false
	}
}

// sdpAddr parses "IN IP4 a.b.c.d" or "IN IP6 addr".
func sdpAddr(v []byte) (decode.Addr, bool) {
	netType, v := field(v)
	addrType, v := field(v)
	s, _ := field(v)
	if !bytes.Equal(netType, []byte("IN")) {
		return decode.Addr{}, false
	}
	if i := bytes.IndexByte(s, '/'); i >= 0 {
		s = s[:i] // multicast TTL
	}
	switch {
	case bytes.Equal(addrType, []byte("IP4")):
		return parseIPv4(s)
	case bytes.Equal(addrType, []byte("IP6")):
		return parseIPv6(s)
	}
	return decode.Addr{}, false
}

func parseIPv4(s []byte) (decode.Addr, bool) {
	var a [4]byte
	part, n, digits := 0, 0, 0
	for _, c := range s {
		switch {
		case c >= '0' && c <= '9':
			n = n*10 + int(c-'0')
			if digits++; n > 255 || digits > 3 {
				return decode.Addr{}, false
			}
		case c == '.' && part < 3 && digits > 0:
			a[part] = byte(n)
			part, n, digits = part+1, 0, 0
		default:
			return decode.Addr{}, false
		}
	}
	if part != 3 || digits == 0 {
		return decode.Addr{}, false
	}
	a[3] = byte(n)
	return decode.AddrFrom4(a), true
}

// parseIPv6 parses the textual IPv6 forms SDP uses (with ::).
func parseIPv6(s []byte) (decode.Addr, bool) {
	var groups [8]uint16
	var a decode.Addr
	n, gap, i := 0, -1, 0
	switch {
	case len(s) >= 2 && s[0] == ':' && s[1] == ':':
		gap, i = 0, 2
	case len(s) > 0 && s[0] == ':':
		return a, false
	}
	for i < len(s) {
		v, digits := 0, 0
		for ; i < len(s); i++ {
			c := s[i] | 0x20
			if c >= '0' && c <= '9' {
				v = v<<4 | int(c-'0')
			} else if c >= 'a' && c <= 'f' {
				v = v<<4 | int(c-'a'+10)
			} else {
				break
			}
			digits++
		}
		if digits == 0 || digits > 4 || n == 8 {
			return a, false
		}
		groups[n] = uint16(v)
		n++
		if i == len(s) {
			break
		}
		if s[i] != ':' {
			return a, false
		}
		i++
		switch {
		case i < len(s) && s[i] == ':':
			if gap >= 0 {
				return a, false
			}
			gap = n
			i++
		case i == len(s):
			return a, false // a trailing single colon
		}
	}
	if gap < 0 && n != 8 || gap >= 0 && n > 7 {
		return a, false
	}
	out := groups
	if gap >= 0 {
		out = [8]uint16{}
		copy(out[:gap], groups[:gap])
		copy(out[8-(n-gap):], groups[gap:n])
	}
	for i, g := range out {
		a[2*i], a[2*i+1] = byte(g>>8), byte(g)
	}
	return a, true
}

func atoiPort(s []byte) (uint16, bool) {
	if i := bytes.IndexByte(s, '/'); i >= 0 {
		s = s[:i] // port/count
	}
	if len(s) == 0 || len(s) > 5 {
		return 0, false
	}
	v := 0
	for _, c := range s {
		if c < '0' || c > '9' {
			return 0, false
		}
		v = v*10 + int(c-'0')
	}
	if v == 0 || v > 65535 {
		return 0, false
	}
	return uint16(v), true
}

func hashBytes(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c)
		h *= 1099511628211
	}
	return flowtable.Hash64(h)
}
