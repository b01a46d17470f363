package filter

import (
	"github.com/multimeter-fw/multimeter/services/decode"
)

// TermKind says which index a Term looks up.
type TermKind uint8

// Indexed packet properties.
const (
	TermIP    TermKind = iota + 1 // source or destination address (outer ones of tunnels too)
	TermPort                      // TCP/UDP/SCTP source or destination port
	TermProto                     // IP protocol
	TermVLAN                      // any 802.1Q tag
	TermApp                       // L7 protocol (l7proto.ID)
)

// Term selects the packets whose property lies in a set: for TermIP the
// addresses in the prefix Addr/Bits (Bits 128: one address); for the
// others the values Lo..Hi inclusive.
type Term struct {
	Kind   TermKind
	Addr   decode.Addr
	Bits   int
	Lo, Hi uint32
}

// Clause is a disjunction: a packet satisfies it when it satisfies one of
// its terms.
type Clause []Term

// Plan is a necessary condition in conjunctive form: every packet the
// filter matches satisfies every clause. An empty Plan means the index
// cannot narrow the search. A packet satisfying the plan still has to be
// checked with Match.
type Plan []Clause

// Limits that keep the conjunctive form small; past them a sub-expression
// contributes no terms, which only loosens the plan.
const (
	maxClauses    = 64
	maxClauseLen  = 256
	maxRangeWidth = 1 << 16
)

// Plan returns the index terms of the filter.
func (f *Filter) Plan() Plan {
	if f.root == nil {
		return nil
	}
	return f.root.plan()
}

func (n *node) plan() Plan {
	switch n.kind {
	case nodeAnd:
		var out Plan
		for _, k := range n.kids {
			out = append(out, k.plan()...)
		}
		if len(out) > maxClauses {
			out = out[:maxClauses]
		}
		return out
	case nodeOr:
		// (a1 ∧ a2) ∨ (b1 ∧ b2) = ∧ of (ai ∨ bj) for every pair.
		acc := Plan{nil}
		for _, k := range n.kids {
			kp := k.plan()
			if len(kp) == 0 || len(acc)*len(kp) > maxClauses {
				return nil
			}
			next := make(Plan, 0, len(acc)*len(kp))
			for _, a := range acc {
				for _, c := range kp {
					if len(a)+len(c) > maxClauseLen {
						return nil
					}
					merged := make(Clause, 0, len(a)+len(c))
					next = append(next, append(append(merged, a...), c...))
				}
			}
			acc = next
		}
		return acc
	case nodeNot:
		return nil
	}
	return n.cmpPlan()
}

// cmpPlan returns the terms a comparison implies. Negative comparisons
// imply nothing an index can use.
func (n *node) cmpPlan() Plan {
	if n.op == cmpNe {
		return nil
	}
	switch n.field {
	case fieldIP:
		p := Plan{{{Kind: TermIP, Addr: n.addr, Bits: n.bits}}}
		if n.hasPort {
			p = append(p, Clause{{Kind: TermPort, Lo: uint32(n.num), Hi: uint32(n.num)}})
		}
		return p
	case fieldPort:
		return n.rangePlan(TermPort)
	case fieldVLAN, fieldOuterVLAN:
		return n.rangePlan(TermVLAN)
	case fieldL4:
		return Plan{{{Kind: TermProto, Lo: uint32(n.num), Hi: uint32(n.num)}}}
	case fieldL7:
		return Plan{{{Kind: TermApp, Lo: uint32(n.num), Hi: uint32(n.num)}}}
	}
	return nil
}

func (n *node) rangePlan(kind TermKind) Plan {
	max := fieldInfo[n.field].max
	lo, hi := uint64(0), max
	switch n.op {
	case cmpEq:
		lo, hi = n.num, n.num
	case cmpLt:
		if n.num == 0 {
			return Plan{{}} // matches nothing: an empty clause is never satisfied
		}
		hi = n.num - 1
	case cmpLe:
		hi = n.num
	case cmpGt:
		if n.num >= max {
			return Plan{{}}
		}
		lo = n.num + 1
	case cmpGe:
		lo = n.num
	}
	if hi-lo >= maxRangeWidth {
		return nil
	}
	return Plan{{{Kind: kind, Lo: uint32(lo), Hi: uint32(hi)}}}
}
