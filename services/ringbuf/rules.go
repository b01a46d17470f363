package ringbuf

import (
	"net/netip"
	"strings"

	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/filter"
	"github.com/multimeter-fw/multimeter/services/tap"
)

type action uint8

const (
	actFull action = iota
	actDiscard
	actSnap
	actL3
	actL4
	actL4Data
)

type compiledRule struct {
	match  *filter.Filter // nil: all packets
	negate bool
	action action
	length int
}

// ruleSet is a compiled rule list; it is replaced whole when the
// configuration changes.
type ruleSet []compiledRule

func compileRules(rs []Rule) (ruleSet, error) {
	out := make(ruleSet, 0, len(rs))
	for _, r := range rs {
		cr, err := r.compile()
		if err != nil {
			return nil, err
		}
		out = append(out, cr)
	}
	return out, nil
}

// apply returns how many bytes of the frame to record; keep is false when
// the packet is discarded. Packets no rule matches are kept whole.
func (rs ruleSet) apply(p *decode.Packet, frame []byte, m *tap.Meta) (capLen int, keep bool) {
	for i := range rs {
		r := &rs[i]
		hit := r.match == nil || r.match.Match(p, m)
		if hit == r.negate {
			continue
		}
		return r.cut(p, len(frame))
	}
	return len(frame), true
}

// cut applies r's action to a frame of n bytes.
func (r *compiledRule) cut(p *decode.Packet, n int) (int, bool) {
	switch r.action {
	case actDiscard:
		return 0, false
	case actSnap:
		return min(n, r.length), true
	case actL3:
		if p.L4Off > 0 {
			return min(n, int(p.L4Off)), true
		}
	case actL4:
		if p.PayloadOff > 0 {
			return min(n, int(p.PayloadOff)), true
		}
	case actL4Data:
		if p.PayloadOff > 0 {
			return min(n, int(p.PayloadOff)+r.length), true
		}
	}
	// Full, or a header cut on a packet without that header (ARP, non-IP):
	// nothing to cut at.
	return n, true
}

func isIPOrPrefix(s string) bool {
	if strings.Contains(s, "/") {
		_, err := netip.ParsePrefix(s)
		return err == nil
	}
	_, err := netip.ParseAddr(s)
	return err == nil
}

// quote makes v one value token of the filter language.
func quote(v string) string {
	if strings.ContainsAny(v, " \t()!&|=<>") {
		return `"` + strings.ReplaceAll(v, `"`, "") + `"`
	}
	return v
}
