package engine

import (
	"slices"

	"github.com/multimeter-fw/multimeter/services/decode"
)

// groups assigns packets to virtual link groups by the ordered rules.
type groups struct {
	rules []GroupRule
}

func newGroups(rules []GroupRule) groups { return groups{rules: rules} }

// match returns the group of the first rule p matches, or 0.
func (g *groups) match(p *decode.Packet) uint16 {
	for i := range g.rules {
		if ruleMatches(&g.rules[i], p) {
			return uint16(i + 1)
		}
	}
	return 0
}

func ruleMatches(r *GroupRule, p *decode.Packet) bool {
	if len(r.Interfaces) > 0 && !slices.Contains(r.Interfaces, p.Port) {
		return false
	}
	if len(r.VLANs) > 0 {
		v, ok := p.OuterVLAN()
		if !ok || !slices.Contains(r.VLANs, v) {
			return false
		}
	}
	if len(r.MPLSLabels) > 0 && (p.MPLSCount == 0 || !slices.Contains(r.MPLSLabels, p.MPLS[0])) {
		return false
	}
	if len(r.VNIs) > 0 && (p.Tunnel != decode.TunnelVXLAN || !slices.Contains(r.VNIs, p.VNI)) {
		return false
	}
	return true
}
