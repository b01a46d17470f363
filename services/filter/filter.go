// Package filter parses and compiles the capture filter language
// (shared/spec/filter-language.md): the `expression=` of pcap extraction,
// live captures, ring buffer rules and the UI's live table filters.
//
//	f, err := filter.Parse("ip==10.0.0.0/8 and !(port==22)")
//	if err != nil {
//		// *SyntaxError: "position 14: expected value after '=='"
//	}
//	if f.Match(&pkt, &meta) { ... } // allocates nothing
//	plan := f.Plan()                 // index terms for ring buffer extraction
//
// An expression compiles once into a tree evaluated over a decoded packet
// and the analysis' metadata. The same tree yields the index terms (in
// conjunctive form) that let extraction skip data that cannot match.
package filter

import (
	"fmt"
	"strings"

	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/tap"
)

// SyntaxError reports where an expression stops making sense. Pos counts
// bytes from 1.
type SyntaxError struct {
	Pos int
	Msg string
}

func (e *SyntaxError) Error() string { return fmt.Sprintf("position %d: %s", e.Pos, e.Msg) }

// Filter is a compiled expression. It is immutable and safe for concurrent
// use.
type Filter struct {
	root *node // nil: matches every packet
}

// Parse compiles an expression. An empty (or blank) expression matches
// every packet.
func Parse(expr string) (*Filter, error) {
	p := parser{lex: lexer{src: expr}}
	if strings.TrimSpace(expr) == "" {
		return &Filter{}, nil
	}
	root, err := p.parse()
	if err != nil {
		return nil, err
	}
	return &Filter{root: root}, nil
}

// MustParse is Parse for expressions written into the program; it panics
// on a syntax error.
func MustParse(expr string) *Filter {
	f, err := Parse(expr)
	if err != nil {
		panic(fmt.Sprintf("filter.MustParse(%q): %v", expr, err))
	}
	return f
}

// MatchAll reports whether the filter accepts every packet (the empty
// expression).
func (f *Filter) MatchAll() bool { return f.root == nil }

// Match reports whether the packet matches. m may be nil (no analysis
// metadata: l7Protocol is Unknown, group 0, no SIP numbers).
func (f *Filter) Match(p *decode.Packet, m *tap.Meta) bool {
	if f.root == nil {
		return true
	}
	if m == nil {
		var none tap.Meta
		return f.root.match(p, &none)
	}
	return f.root.match(p, m)
}

// String returns the expression in canonical form: lower-case keywords,
// canonical values, and only the parentheses the meaning needs. Parsing it
// again yields the same filter.
func (f *Filter) String() string {
	if f.root == nil {
		return ""
	}
	var b strings.Builder
	f.root.format(&b, precOr)
	return b.String()
}
