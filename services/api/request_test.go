package api

import (
	"errors"
	"net/http"
	"strings"
	"testing"

	"github.com/multimeter-fw/multimeter/services/apierr"
)

func TestDecodeJSON(t *testing.T) {
	type body struct {
		Mode  string `json:"mode"`
		Count int    `json:"count"`
	}
	tests := []struct {
		in   string
		want body
		err  string // part of the 400's message; "" for none
	}{
		{`{"mode": "bridge", "count": 2}`, body{Mode: "bridge", Count: 2}, ""},
		{` {} `, body{}, ""},
		{`null`, body{}, "null"},
		{` null `, body{}, "null"},
		{``, body{}, "EOF"},
		{`{"mode": "bridge"`, body{}, "unexpected EOF"},
		{`{"mode": "bridge"} {}`, body{}, "data after the object"},
		{`{"mode": "bridge", "mdoe": 1}`, body{}, `unknown field "mdoe"`},
		{`{"count": "two"}`, body{}, "want int"},
		{`[]`, body{}, "cannot unmarshal array"},
	}
	for _, tt := range tests {
		var got body
		err := DecodeJSON(strings.NewReader(tt.in), &got)
		if tt.err == "" {
			if err != nil || got != tt.want {
				t.Errorf("DecodeJSON(%q) = %+v, %v; want %+v", tt.in, got, err, tt.want)
			}
			continue
		}
		e, ok := errors.AsType[*apierr.Error](err)
		if !ok || e.Status != http.StatusBadRequest || !strings.Contains(err.Error(), tt.err) {
			t.Errorf("DecodeJSON(%q) error = %v; want a 400 about %q", tt.in, err, tt.err)
		}
	}
}
