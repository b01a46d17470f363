// Package apiparam parses the REST API's query parameters the same way for
// every endpoint: names match case-insensitively (starttime == startTime),
// parameters nobody asks for are ignored (existing scripts send them), and
// a value that does not parse is a 400 naming the parameter.
//
//	q := apiparam.Parse(r.URL.RawQuery)
//	iv, err := apiparam.ParseInterval(q)
//	lo, err := apiparam.ParseList(q)
//
// Typed helpers cover the spec's parameters, so handlers never look at raw
// strings.
package apiparam

import (
	"net/url"
	"strconv"
	"strings"

	"github.com/multimeter-fw/multimeter/services/apierr"
)

// Query holds a request's parameters by lower-cased name. When a name is
// given more than once, in any spelling, the first value counts.
type Query struct {
	values map[string]value
}

type value struct {
	text      string
	malformed bool // bad percent-encoding: an error only if someone reads it
}

// Parse splits a raw query string. It never fails: a malformed value is
// reported by the helper that reads it, so that a broken parameter nobody
// uses is ignored like any other unknown one.
func Parse(raw string) Query {
	q := Query{values: make(map[string]value)}
	for part := range strings.SplitSeq(raw, "&") {
		if part == "" {
			continue
		}
		rawName, rawValue, _ := strings.Cut(part, "=")
		name, err := url.QueryUnescape(rawName)
		if err != nil {
			continue // a name nobody can ask for
		}
		key := strings.ToLower(name)
		if _, seen := q.values[key]; seen {
			continue
		}
		text, err := url.QueryUnescape(rawValue)
		q.values[key] = value{text: text, malformed: err != nil}
	}
	return q
}

// FromMap builds a Query from single values, as websocket subscriptions
// carry them. Two spellings of one name keep the smaller value, so the
// outcome does not depend on map order.
func FromMap(m map[string]string) Query {
	q := Query{values: make(map[string]value, len(m))}
	for name, text := range m {
		key := strings.ToLower(name)
		if old, seen := q.values[key]; !seen || text < old.text {
			q.values[key] = value{text: text}
		}
	}
	return q
}

// Has reports whether the parameter was given, possibly empty.
func (q Query) Has(name string) bool {
	_, ok := q.values[strings.ToLower(name)]
	return ok
}

// Value returns the parameter's text, "" when absent.
func (q Query) Value(name string) (string, error) {
	v := q.values[strings.ToLower(name)]
	if v.malformed {
		return "", apierr.BadParam(name, "malformed percent-encoding")
	}
	return v.text, nil
}

// Bool parses true/false (also 1/0, any case). Absent or empty means def.
func (q Query) Bool(name string, def bool) (bool, error) {
	v, err := q.Value(name)
	if err != nil || v == "" {
		return def, err
	}
	switch strings.ToLower(v) {
	case "true", "1":
		return true, nil
	case "false", "0":
		return false, nil
	}
	return false, apierr.BadParam(name, "want true or false, got %s", quote(v))
}

// Int parses a decimal integer in [lo, hi]. Absent or empty means def.
func (q Query) Int(name string, def, lo, hi int64) (int64, error) {
	v, err := q.Value(name)
	if err != nil || v == "" {
		return def, err
	}
	n, err := strconv.ParseInt(v, 10, 64)
	if err != nil {
		return 0, apierr.BadParam(name, "want an integer, got %s", quote(v))
	}
	if n < lo || n > hi {
		return 0, apierr.BadParam(name, "%d out of range [%d, %d]", n, lo, hi)
	}
	return n, nil
}

// quote shows a client's value in an error without echoing a huge or
// binary string back.
func quote(v string) string {
	const max = 40
	if len(v) > max {
		return strconv.Quote(v[:max]) + "..."
	}
	return strconv.Quote(v)
}
