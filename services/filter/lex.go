package filter

import (
	"strings"
)

type tokKind uint8

const (
	tokEOF tokKind = iota
	tokIdent
	tokAnd
	tokOr
	tokNot
	tokLParen
	tokRParen
	tokCmp
	tokBad
)

// token is one lexeme; pos is its byte offset in the source.
type token struct {
	kind tokKind
	pos  int
	text string
	cmp  cmpOp
}

type lexer struct {
	src string
	pos int
}

func isSpace(c byte) bool { return c == ' ' || c == '\t' || c == '\n' || c == '\r' }

func isIdentStart(c byte) bool { return c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '_' }

func isIdentPart(c byte) bool { return isIdentStart(c) || c >= '0' && c <= '9' }

// isDelim reports characters that end an unquoted value.
func isDelim(c byte) bool {
	return isSpace(c) || strings.IndexByte("()!&|=<>\"", c) >= 0
}

func (l *lexer) skipSpace() {
	for l.pos < len(l.src) && isSpace(l.src[l.pos]) {
		l.pos++
	}
}

// next returns the next operator, parenthesis or identifier.
func (l *lexer) next() token {
	l.skipSpace()
	start := l.pos
	if l.pos >= len(l.src) {
		return token{kind: tokEOF, pos: start}
	}
	two := ""
	if l.pos+1 < len(l.src) {
		two = l.src[l.pos : l.pos+2]
	}
	switch two {
	case "&&":
		l.pos += 2
		return token{kind: tokAnd, pos: start, text: two}
	case "||":
		l.pos += 2
		return token{kind: tokOr, pos: start, text: two}
	case "==", "!=", "<=", ">=":
		l.pos += 2
		return token{kind: tokCmp, pos: start, text: two, cmp: cmpFromText(two)}
	}
	c := l.src[l.pos]
	switch c {
	case '(':
		l.pos++
		return token{kind: tokLParen, pos: start, text: "("}
	case ')':
		l.pos++
		return token{kind: tokRParen, pos: start, text: ")"}
	case '!':
		l.pos++
		return token{kind: tokNot, pos: start, text: "!"}
	case '<', '>':
		l.pos++
		return token{kind: tokCmp, pos: start, text: string(c), cmp: cmpFromText(string(c))}
	}
	if isIdentStart(c) {
		for l.pos < len(l.src) && isIdentPart(l.src[l.pos]) {
			l.pos++
		}
		text := l.src[start:l.pos]
		switch strings.ToLower(text) {
		case "and":
			return token{kind: tokAnd, pos: start, text: text}
		case "or":
			return token{kind: tokOr, pos: start, text: text}
		case "eq", "ne":
			return token{kind: tokCmp, pos: start, text: text, cmp: cmpFromText(strings.ToLower(text))}
		}
		return token{kind: tokIdent, pos: start, text: text}
	}
	// Anything else: take the run up to the next delimiter so the message
	// can quote it.
	l.pos++
	for l.pos < len(l.src) && !isDelim(l.src[l.pos]) {
		l.pos++
	}
	return token{kind: tokBad, pos: start, text: l.src[start:l.pos]}
}

// peek returns the next token without consuming it.
func (l *lexer) peek() token {
	save := l.pos
	t := l.next()
	l.pos = save
	return t
}

// value reads a comparison's right-hand side: a double-quoted string or a
// run of characters up to whitespace or an operator. ok is false when
// there is none.
func (l *lexer) value() (text string, pos int, ok bool, err error) {
	l.skipSpace()
	pos = l.pos
	if l.pos >= len(l.src) {
		return "", pos, false, nil
	}
	if l.src[l.pos] == '"' {
		end := strings.IndexByte(l.src[l.pos+1:], '"')
		if end < 0 {
			return "", pos, false, &SyntaxError{Pos: pos + 1, Msg: "unterminated quoted value"}
		}
		text = l.src[l.pos+1 : l.pos+1+end]
		l.pos += end + 2
		return text, pos, true, nil
	}
	for l.pos < len(l.src) && !isDelim(l.src[l.pos]) {
		l.pos++
	}
	text = l.src[pos:l.pos]
	if text == "" || strings.EqualFold(text, "and") || strings.EqualFold(text, "or") {
		// A keyword where the value should be: the value is missing.
		l.pos = pos
		return "", pos, false, nil
	}
	return text, pos, true, nil
}
