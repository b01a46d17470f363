package filter

import (
	"strings"
)

// Precedence levels for printing: a child binding looser than its context
// gets parentheses.
const (
	precOr = iota
	precAnd
	precUnary
)

func (n *node) format(b *strings.Builder, ctx int) {
	switch n.kind {
	case nodeOr, nodeAnd:
		prec, sep := precOr, " or "
		if n.kind == nodeAnd {
			prec, sep = precAnd, " and "
		}
		if ctx > prec {
			b.WriteByte('(')
		}
		for i, k := range n.kids {
			if i > 0 {
				b.WriteString(sep)
			}
			k.format(b, prec+1)
		}
		if ctx > prec {
			b.WriteByte(')')
		}
	case nodeNot:
		b.WriteString("!(")
		n.kids[0].format(b, precOr)
		b.WriteByte(')')
	default:
		b.WriteString(fieldInfo[n.field].name)
		b.WriteString(cmpText[n.op])
		v := n.valueString()
		if strings.ContainsFunc(v, func(r rune) bool { return r < 0x80 && isDelim(byte(r)) }) {
			v = `"` + v + `"`
		}
		b.WriteString(v)
	}
}
