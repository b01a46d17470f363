package filter

import (
	"fmt"

	"github.com/multimeter-fw/multimeter/services/decode"
)

type nodeKind uint8

const (
	nodeAnd nodeKind = iota
	nodeOr
	nodeNot
	nodeCmp
)

// node is one operator or comparison of a compiled expression.
type node struct {
	kind nodeKind
	kids []*node // and, or: two or more; not: one

	// Comparison.
	field   field
	op      cmpOp
	num     uint64 // number, port of ip's address:port, protocol, SIP hash
	addr    decode.Addr
	bits    int  // ip: prefix length in the 128-bit (IPv4-mapped) space
	hasPort bool // ip: address:port
	mac     decode.MAC
	sip     string // sipNumber: normalized number, for String
}

// maxDepth bounds nesting so hostile input cannot exhaust the stack.
const maxDepth = 100

type parser struct {
	lex   lexer
	depth int
}

func (p *parser) errorf(pos int, format string, args ...any) error {
	return &SyntaxError{Pos: pos + 1, Msg: fmt.Sprintf(format, args...)}
}

func (p *parser) parse() (*node, error) {
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.lex.next(); t.kind != tokEOF {
		if t.kind == tokRParen {
			return nil, p.errorf(t.pos, "unexpected ')'")
		}
		return nil, p.errorf(t.pos, "expected 'and', 'or' or end of expression, found %q", t.text)
	}
	return n, nil
}

func (p *parser) or() (*node, error) {
	return p.chain(nodeOr, tokOr, p.and)
}

func (p *parser) and() (*node, error) {
	return p.chain(nodeAnd, tokAnd, p.unary)
}

// chain parses operands joined by op into one flat node.
func (p *parser) chain(kind nodeKind, op tokKind, operand func() (*node, error)) (*node, error) {
	first, err := operand()
	if err != nil {
		return nil, err
	}
	kids := []*node{first}
	for p.lex.peek().kind == op {
		p.lex.next()
		n, err := operand()
		if err != nil {
			return nil, err
		}
		kids = append(kids, n)
	}
	if len(kids) == 1 {
		return first, nil
	}
	return &node{kind: kind, kids: flatten(kind, kids)}, nil
}

// flatten merges operands of the same operator: (a and b) and c is a and b and c.
func flatten(kind nodeKind, kids []*node) []*node {
	out := make([]*node, 0, len(kids))
	for _, k := range kids {
		if k.kind == kind {
			out = append(out, k.kids...)
		} else {
			out = append(out, k)
		}
	}
	return out
}

func (p *parser) unary() (*node, error) {
	p.depth++
	defer func() { p.depth-- }()
	t := p.lex.next()
	if p.depth > maxDepth {
		return nil, p.errorf(t.pos, "expression nested too deeply")
	}
	switch t.kind {
	case tokNot:
		open := p.lex.next()
		if open.kind != tokLParen {
			return nil, p.errorf(open.pos, "expected '(' after '!'")
		}
		n, err := p.group(open)
		if err != nil {
			return nil, err
		}
		if n.kind == nodeNot { // !(!(x)) is x
			return n.kids[0], nil
		}
		return &node{kind: nodeNot, kids: []*node{n}}, nil
	case tokLParen:
		return p.group(t)
	case tokIdent:
		return p.comparison(t)
	case tokEOF:
		return nil, p.errorf(t.pos, "expected field name or '(' at end of expression")
	}
	return nil, p.errorf(t.pos, "expected field name or '(', found %q", t.text)
}

// group parses the inside of parentheses whose '(' was open.
func (p *parser) group(open token) (*node, error) {
	n, err := p.or()
	if err != nil {
		return nil, err
	}
	if t := p.lex.next(); t.kind != tokRParen {
		if t.kind == tokEOF {
			return nil, p.errorf(t.pos, "missing ')' for '(' at position %d", open.pos+1)
		}
		return nil, p.errorf(t.pos, "expected ')' or 'and'/'or', found %q", t.text)
	}
	return n, nil
}

func (p *parser) comparison(name token) (*node, error) {
	f, ok := lookupField(name.text)
	if !ok {
		return nil, p.errorf(name.pos, "unknown field %q", name.text)
	}
	op := p.lex.next()
	if op.kind != tokCmp {
		return nil, p.errorf(op.pos, "expected comparison operator after %q", name.text)
	}
	if op.cmp > cmpNe && !fieldInfo[f].ordered {
		return nil, p.errorf(op.pos, "operator '%s' does not apply to %s (only == and !=)", op.text, fieldInfo[f].name)
	}
	text, pos, ok, err := p.lex.value()
	if err != nil {
		return nil, err
	}
	if !ok {
		return nil, p.errorf(pos, "expected value after '%s'", op.text)
	}
	n := &node{kind: nodeCmp, field: f, op: op.cmp}
	if err := n.setValue(text); err != nil {
		return nil, p.errorf(pos, "%v", err)
	}
	return n, nil
}
