package statsapi

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/multimeter-fw/multimeter/services/analysis/flow"
	"github.com/multimeter-fw/multimeter/services/apierr"
	"github.com/multimeter-fw/multimeter/services/apiparam"
	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/stats"
)

// Limits of the filter parameter.
const (
	maxFilterBytes = 200
	maxFilterTerms = 8
)

// textFilter is a list's filter=... parameter, the text an operator types
// into a table's filter box: whitespace-separated terms that must all
// match. A term is an address or a subnet in CIDR notation (matching
// addresses in it), or text matched case-insensitively against the
// entity's address (a part such as "10.1." or "2001:db8:"); on
// connections a term may also be a port number, an L4 protocol or an
// application protocol.
type textFilter struct {
	terms []filterTerm
}

type filterTerm struct {
	text   string       // lower case
	prefix netip.Prefix // valid when the term is an address or a subnet
	port   int          // -1 when the term is not a port number
}

// parseTextFilter reads filter=; nil when absent or blank.
func parseTextFilter(q apiparam.Query) (*textFilter, error) {
	v, err := q.Value("filter")
	if err != nil {
		return nil, err
	}
	if len(v) > maxFilterBytes {
		return nil, apierr.BadParam("filter", "longer than %d bytes", maxFilterBytes)
	}
	fields := strings.Fields(v)
	if len(fields) == 0 {
		return nil, nil
	}
	if len(fields) > maxFilterTerms {
		return nil, apierr.BadParam("filter", "more than %d terms", maxFilterTerms)
	}
	f := &textFilter{}
	for _, s := range fields {
		t := filterTerm{text: strings.ToLower(s), port: -1}
		if p, err := netip.ParsePrefix(s); err == nil {
			t.prefix = p.Masked()
		} else if a, err := netip.ParseAddr(s); err == nil && a.Zone() == "" {
			t.prefix = netip.PrefixFrom(a, a.BitLen())
		}
		if n, err := strconv.ParseUint(s, 10, 16); err == nil {
			t.port = int(n)
		}
		f.terms = append(f.terms, t)
	}
	return f, nil
}

// addrMatches reports whether one term matches an address.
func (t *filterTerm) addrMatches(a decode.Addr) bool {
	if t.prefix.IsValid() {
		return t.prefix.Contains(a.Netip())
	}
	return strings.Contains(a.String(), t.text)
}

// matchAddr keeps an entity named by an address.
func (f *textFilter) matchAddr(a decode.Addr) bool {
	for i := range f.terms {
		if !f.terms[i].addrMatches(a) {
			return false
		}
	}
	return true
}

// matchMAC keeps a MAC whose text holds every term (dashes read as
// colons, as in 00-11-22-...).
func (f *textFilter) matchMAC(m decode.MAC) bool {
	s := m.String()
	for i := range f.terms {
		if !strings.Contains(s, strings.ReplaceAll(f.terms[i].text, "-", ":")) {
			return false
		}
	}
	return true
}

// matchConn keeps a connection every term matches by either address,
// either port, the L4 protocol or the application.
func (f *textFilter) matchConn(k *flow.Key, at *flow.Conn) bool {
	for i := range f.terms {
		t := &f.terms[i]
		switch {
		case t.addrMatches(k.A) || t.addrMatches(k.B):
		case t.port >= 0 && (int(k.PortA) == t.port || int(k.PortB) == t.port):
		case t.text == protoName(k.Proto) || t.text == strings.ToLower(at.App.String()):
		default:
			return false
		}
	}
	return true
}

// andFilter keeps what both keep; nil filters keep everything.
func andFilter[K stats.Key, A any](a, b stats.Filter[K, A]) stats.Filter[K, A] {
	switch {
	case a == nil:
		return b
	case b == nil:
		return a
	}
	return func(k *K, at *A) bool { return a(k, at) && b(k, at) }
}
