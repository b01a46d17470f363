// Package dpi detects the application protocol of a flow from the first
// payload bytes it carries, falling back to well-known ports when no
// signature matches. It also pulls the server name a client asked for out
// of TLS ClientHellos (SNI) and HTTP requests (Host).
//
//	var st dpi.State // one per flow, pointer-free
//	name := st.Inspect(proto, srcPort, dstPort, payload, fromClient)
//	app := st.App()
//
// Inspect never allocates and never reads outside payload; a returned name
// points into payload and is valid as long as it is.
package dpi

import (
	"bytes"
	"encoding/binary"

	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/l7proto"
)

// MaxInspect is how many payload packets of a flow are looked at before
// the port decides.
const MaxInspect = 8

// State is the detection state of one flow. The zero value is ready.
type State struct {
	app       l7proto.ID
	guess     l7proto.ID // by port, used until a signature matches
	inspected uint8
	rtpHits   uint8
	ssrc      uint32
}

// App returns the detected protocol, the port-based guess while detection
// is still open, or Unknown.
func (s *State) App() l7proto.ID {
	if s.app != l7proto.Unknown {
		return s.app
	}
	return s.guess
}

// Done reports whether the flow needs no more inspection.
func (s *State) Done() bool { return s.app != l7proto.Unknown || s.inspected >= MaxInspect }

// Set fixes the protocol (for example RTP negotiated by SIP).
func (s *State) Set(app l7proto.ID) { s.app = app }

// Inspect looks at the payload of one packet of the flow. proto is the IP
// protocol; fromClient says whether the client sent it. It returns a server
// name when the payload names one (TLS SNI, HTTP Host).
func (s *State) Inspect(proto uint8, srcPort, dstPort uint16, payload []byte, fromClient bool) []byte {
	if s.guess == l7proto.Unknown {
		s.guess = ByPort(proto, srcPort, dstPort)
	}
	if s.Done() {
		return nil
	}
	switch proto {
	case decode.ProtoICMP:
		s.app = l7proto.ICMP
		return nil
	case decode.ProtoICMPv6:
		s.app = l7proto.ICMPv6
		return nil
	case 50, 51: // ESP, AH
		s.app = l7proto.IPsec
		return nil
	}
	if len(payload) == 0 {
		return nil
	}
	s.inspected++
	var name []byte
	switch proto {
	case decode.ProtoTCP:
		s.app, name = tcpSignature(payload, srcPort, dstPort, fromClient)
	case decode.ProtoUDP:
		s.app = s.udpSignature(payload, srcPort, dstPort)
	}
	return name
}

func hasPort(src, dst uint16, ports ...uint16) bool {
	for _, p := range ports {
		if src == p || dst == p {
			return true
		}
	}
	return false
}

var httpMethods = [...][]byte{
	[]byte("GET "), []byte("POST "), []byte("HEAD "), []byte("PUT "), []byte("DELETE "),
	[]byte("OPTIONS "), []byte("PATCH "), []byte("CONNECT "), []byte("TRACE "),
}

var sipMethods = [...][]byte{
	[]byte("INVITE "), []byte("REGISTER "), []byte("ACK "), []byte("BYE "), []byte("CANCEL "),
	[]byte("OPTIONS sip:"), []byte("SUBSCRIBE "), []byte("NOTIFY "), []byte("INFO "), []byte("PRACK "),
	[]byte("UPDATE "), []byte("MESSAGE "), []byte("REFER "), []byte("PUBLISH "), []byte("SIP/2.0 "),
}

func isSIP(p []byte) bool {
	if len(p) == 0 || !textStart[p[0]] {
		return false
	}
	for _, m := range sipMethods {
		if p[0] == m[0] && bytes.HasPrefix(p, m) {
			// Requests carry a SIP URI and end the line with SIP/2.0.
			if m[0] == 'S' {
				return true
			}
			line := p
			if i := bytes.IndexByte(p, '\n'); i >= 0 {
				line = p[:i]
			}
			return bytes.Contains(line, []byte("SIP/2.0"))
		}
	}
	return false
}

func tcpSignature(p []byte, sp, dp uint16, fromClient bool) (l7proto.ID, []byte) {
	// Most payloads start with a byte no text protocol starts with: they
	// skip the prefix comparisons (a flow with none of the signatures is
	// looked at MaxInspect times).
	if len(p) > 0 && textStart[p[0]] {
		if app, name := textSignature(p, sp, dp); app != l7proto.Unknown {
			return app, name
		}
	}
	switch {
	case len(p) >= 5 && (p[0] >= 0x14 && p[0] <= 0x17) && p[1] == 3 && p[2] <= 4:
		return l7proto.TLS, ServerName(p)
	case len(p) >= 8 && p[0] == 0 && (bytes.Equal(p[4:8], []byte("\xffSMB")) || bytes.Equal(p[4:8], []byte("\xfeSMB"))):
		return l7proto.SMB, nil
	case len(p) >= 4 && p[0] == 0x81 && hasPort(sp, dp, 139):
		return l7proto.NetBIOS, nil
	case len(p) >= 11 && p[0] == 3 && p[1] == 0 && int(binary.BigEndian.Uint16(p[2:])) == len(p) && (p[5] == 0xe0 || p[5] == 0xd0):
		return l7proto.RDP, nil
	case len(p) >= 19 && bytes.Equal(p[:16], bgpMarker):
		return l7proto.BGP, nil
	case len(p) > 5 && p[3] == 0 && p[4] == 10 && int(p[0])|int(p[1])<<8|int(p[2])<<16 == len(p)-4 && !fromClient:
		return l7proto.MySQL, nil
	case len(p) >= 8 && fromClient && int(binary.BigEndian.Uint32(p)) == len(p) &&
		(binary.BigEndian.Uint32(p[4:]) == 0x00030000 || binary.BigEndian.Uint32(p[4:]) == 80877103):
		return l7proto.PostgreSQL, nil
	case len(p) >= 3 && p[0] == 0xff && p[1] >= 0xfb && p[1] <= 0xfe:
		return l7proto.Telnet, nil
	}
	return l7proto.Unknown, nil
}

// textPrefixes are the first bytes of the text protocols textSignature
// knows besides the HTTP and SIP methods.
var textPrefixes = [...]string{"HTTP/1.", "SSH-", "220", "EHLO ", "HELO ", "+OK", "* OK"}

// textStart marks the bytes a text protocol's first line can start with.
var textStart = func() (t [256]bool) {
	for _, m := range httpMethods {
		t[m[0]] = true
	}
	for _, m := range sipMethods {
		t[m[0]] = true
	}
	for _, m := range textPrefixes {
		t[m[0]] = true
	}
	return t
}()

// textSignature matches the text protocols: HTTP, SSH, SIP, SMTP, FTP,
// POP3, IMAP.
func textSignature(p []byte, sp, dp uint16) (l7proto.ID, []byte) {
	for _, m := range httpMethods {
		if p[0] == m[0] && bytes.HasPrefix(p, m) && !isSIP(p) {
			return l7proto.HTTP, httpHost(p)
		}
	}
	switch {
	case bytes.HasPrefix(p, []byte("HTTP/1.")):
		return l7proto.HTTP, nil
	case bytes.HasPrefix(p, []byte("SSH-")):
		return l7proto.SSH, nil
	case isSIP(p):
		return l7proto.SIP, nil
	case bytes.HasPrefix(p, []byte("220")) && len(p) > 4 && (p[3] == ' ' || p[3] == '-'):
		line := p
		if i := bytes.IndexByte(p, '\n'); i >= 0 {
			line = p[:i]
		}
		switch {
		case bytes.Contains(line, []byte("SMTP")):
			return l7proto.SMTP, nil
		case bytes.Contains(line, []byte("FTP")):
			return l7proto.FTP, nil
		case hasPort(sp, dp, 21):
			return l7proto.FTP, nil
		}
		return l7proto.SMTP, nil
	case bytes.HasPrefix(p, []byte("EHLO ")) || bytes.HasPrefix(p, []byte("HELO ")):
		return l7proto.SMTP, nil
	case bytes.HasPrefix(p, []byte("+OK")) && hasPort(sp, dp, 110, 995):
		return l7proto.POP3, nil
	case bytes.HasPrefix(p, []byte("* OK")):
		return l7proto.IMAP, nil
	}
	return l7proto.Unknown, nil
}

var bgpMarker = bytes.Repeat([]byte{0xff}, 16)

func (s *State) udpSignature(p []byte, sp, dp uint16) l7proto.ID {
	switch {
	case hasPort(sp, dp, 67, 68) && len(p) >= 240 && binary.BigEndian.Uint32(p[236:]) == 0x63825363:
		return l7proto.DHCP
	case hasPort(sp, dp, 546, 547) && len(p) >= 4 && p[0] >= 1 && p[0] <= 13:
		return l7proto.DHCPv6
	case hasPort(sp, dp, 53, 5353, 5355) && isDNS(p):
		switch {
		case hasPort(sp, dp, 5353):
			return l7proto.MDNS
		case hasPort(sp, dp, 5355):
			return l7proto.LLMNR
		}
		return l7proto.DNS
	case isSIP(p):
		return l7proto.SIP
	case bytes.HasPrefix(p, []byte("M-SEARCH * HTTP/1.1")) || bytes.HasPrefix(p, []byte("NOTIFY * HTTP/1.1")):
		return l7proto.SSDP
	case len(p) >= 20 && p[0]&0xc0 == 0 && binary.BigEndian.Uint32(p[4:]) == 0x2112a442:
		return l7proto.STUN
	case len(p) >= 1200 && p[0]&0xc0 == 0xc0 && isQUICVersion(binary.BigEndian.Uint32(p[1:])):
		return l7proto.QUIC
	case hasPort(sp, dp, 123) && len(p) >= 48 && (p[0]>>3)&7 >= 1 && (p[0]>>3)&7 <= 4 && p[0]&7 != 0:
		return l7proto.NTP
	case hasPort(sp, dp, 161, 162) && len(p) >= 2 && p[0] == 0x30:
		return l7proto.SNMP
	case hasPort(sp, dp, 514) && len(p) >= 3 && p[0] == '<' && p[1] >= '0' && p[1] <= '9':
		return l7proto.Syslog
	case hasPort(sp, dp, 137, 138):
		return l7proto.NetBIOS
	case hasPort(sp, dp, 500, 4500) && len(p) >= 28:
		return l7proto.IPsec
	case hasPort(sp, dp, 51820) && len(p) >= 4 && p[0] >= 1 && p[0] <= 4 && p[1] == 0 && p[2] == 0 && p[3] == 0:
		return l7proto.WireGuard
	case len(p) >= 8 && p[0]>>6 == 2 && p[1] >= 200 && p[1] <= 204:
		return l7proto.RTCP
	case len(p) >= 12 && p[0]>>6 == 2 && isRTPPayloadType(p[1]&0x7f) && sp >= 1024 && dp >= 1024:
		// One plausible header is not enough: the same SSRC must come
		// back, as nDPI requires.
		ssrc := binary.BigEndian.Uint32(p[8:])
		if s.rtpHits > 0 && ssrc == s.ssrc {
			return l7proto.RTP
		}
		s.rtpHits++
		s.ssrc = ssrc
	}
	return l7proto.Unknown
}

func isRTPPayloadType(pt byte) bool { return pt <= 34 || pt >= 96 }

func isQUICVersion(v uint32) bool {
	return v == 1 || v == 0x6b3343cf || v&0xffffff00 == 0xff000000 || v == 0
}

// isDNS checks that p looks like a DNS header with a sane question count.
func isDNS(p []byte) bool {
	if len(p) < 12 {
		return false
	}
	qd := binary.BigEndian.Uint16(p[4:])
	opcode := (p[2] >> 3) & 0xf
	return qd <= 16 && opcode <= 6 && (qd > 0 || p[2]&0x80 != 0)
}

// httpHost returns the value of the Host header of an HTTP request.
func httpHost(p []byte) []byte {
	for len(p) > 0 {
		i := bytes.IndexByte(p, '\n')
		if i < 0 {
			return nil
		}
		p = p[i+1:]
		if len(p) >= 5 && (p[0]|0x20) == 'h' && (p[1]|0x20) == 'o' && (p[2]|0x20) == 's' && (p[3]|0x20) == 't' && p[4] == ':' {
			v := p[5:]
			if j := bytes.IndexByte(v, '\r'); j >= 0 {
				v = v[:j]
			} else if j := bytes.IndexByte(v, '\n'); j >= 0 {
				v = v[:j]
			}
			v = bytes.TrimSpace(v)
			if k := bytes.LastIndexByte(v, ':'); k > 0 && bytes.IndexByte(v, ']') < k {
				v = v[:k] // drop the port
			}
			return validName(v)
		}
		if len(p) >= 2 && p[0] == '\r' && p[1] == '\n' {
			return nil // end of headers
		}
	}
	return nil
}

// ServerName returns the SNI of a TLS ClientHello record, or nil.
func ServerName(p []byte) []byte {
	// Record: type 22, version, length; handshake: type 1, length (3).
	if len(p) < 9 || p[0] != 0x16 || p[5] != 1 {
		return nil
	}
	b := p[9:]
	if len(b) < 34 {
		return nil
	}
	b = b[34:] // version, random
	var ok bool
	if b, ok = skip8(b); !ok { // session id
		return nil
	}
	if b, ok = skip16(b); !ok { // cipher suites
		return nil
	}
	if b, ok = skip8(b); !ok { // compression methods
		return nil
	}
	if len(b) < 2 {
		return nil
	}
	n := int(binary.BigEndian.Uint16(b))
	b = b[2:]
	if n < len(b) {
		b = b[:n]
	}
	for len(b) >= 4 {
		typ, l := binary.BigEndian.Uint16(b), int(binary.BigEndian.Uint16(b[2:]))
		b = b[4:]
		if l > len(b) {
			return nil
		}
		if typ == 0 { // server_name
			e := b[:l]
			if len(e) < 5 || e[2] != 0 {
				return nil
			}
			nl := int(binary.BigEndian.Uint16(e[3:]))
			if 5+nl > len(e) {
				return nil
			}
			return validName(e[5 : 5+nl])
		}
		b = b[l:]
	}
	return nil
}

func skip8(b []byte) ([]byte, bool) {
	if len(b) < 1 || 1+int(b[0]) > len(b) {
		return nil, false
	}
	return b[1+int(b[0]):], true
}

func skip16(b []byte) ([]byte, bool) {
	if len(b) < 2 {
		return nil, false
	}
	n := 2 + int(binary.BigEndian.Uint16(b))
	if n > len(b) {
		return nil, false
	}
	return b[n:], true
}

// validName accepts host names of printable characters only, so that
// nothing odd from the wire reaches logs, tables or the UI.
func validName(n []byte) []byte {
	if len(n) == 0 || len(n) > 253 {
		return nil
	}
	for _, c := range n {
		if c <= ' ' || c >= 0x7f {
			return nil
		}
	}
	return n
}
