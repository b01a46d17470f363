package apiparam

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/multimeter-fw/multimeter/services/apierr"
)

// FuzzQuery feeds arbitrary query strings and instance headers through
// every typed helper: none may panic, and every failure must be a 400
// that names a parameter.
func FuzzQuery(f *testing.F) {
	f.Fuzz(func(t *testing.T, raw, header string) {
		q := Parse(raw)
		check := func(what string, err error) {
			if err == nil {
				return
			}
			e, ok := errors.AsType[*apierr.Error](err)
			if !ok || e.Status != 400 || e.Param == "" || !strings.Contains(e.Message, e.Param) {
				t.Fatalf("%s(%q) error %v is not a 400 naming its parameter", what, raw, err)
			}
		}
		iv, err := ParseInterval(q)
		check("ParseInterval", err)
		if err == nil && !iv.Start.IsZero() && !iv.End.IsZero() && iv.End.Before(iv.Start) {
			t.Fatalf("ParseInterval(%q) = %+v: end before start", raw, iv)
		}
		l, err := ParseList(q)
		check("ParseList", err)
		if err == nil && (l.Page < 0 || l.Count < 0 || l.Sort != strings.ToLower(l.Sort)) {
			t.Fatalf("ParseList(%q) = %+v", raw, l)
		}
		_, err = CSV(q)
		check("CSV", err)
		_, err = Group(q)
		check("Group", err)
		now := time.Unix(1700000000, 0)
		c, err := ParseCapture(q, now)
		check("ParseCapture", err)
		if err == nil && (c.SnapLen < 1 || c.SnapLen > 65535 || c.Start.IsZero() || (!c.End.IsZero() && c.End.Before(c.Start))) {
			t.Fatalf("ParseCapture(%q) = %+v", raw, c)
		}
		inst, err := ParseInstance(q, header)
		check("ParseInstance", err)
		if err == nil && (inst.Slot < 0 || strings.ContainsAny(inst.Device, ": /")) {
			t.Fatalf("ParseInstance(%q, %q) = %+v", raw, header, inst)
		}
	})
}
