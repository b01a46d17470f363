package role

import (
	"encoding/json"
	"testing"
)

func TestAllows(t *testing.T) {
	tests := []struct {
		have, need Set
		want       bool
	}{
		{0, 0, true},
		{0, Stats, false},
		{Stats, Stats, true},
		{Stats, Pcap, false},
		{Stats, Stats | Pcap, false},
		{Stats | Pcap, Stats | Pcap, true},
		{Pcap, Pcap, true},
		{Admin, Stats | Pcap, true},
		{Admin, Admin, true},
		{Stats | Pcap, Admin, false},
	}
	for _, tt := range tests {
		if got := tt.have.Allows(tt.need); got != tt.want {
			t.Errorf("Set(%s).Allows(%s) = %v; want %v", tt.have, tt.need, got, tt.want)
		}
	}
}

func TestGrant(t *testing.T) {
	tests := []struct{ owner, token, want Set }{
		{Admin, Stats, Stats},
		{Admin, Admin | Pcap, Admin | Pcap},
		{Stats, Stats | Pcap, Stats},
		{Stats | Pcap, Pcap, Pcap},
		{Stats, Admin, 0},
		{0, Stats, 0},
	}
	for _, tt := range tests {
		if got := tt.owner.Grant(tt.token); got != tt.want {
			t.Errorf("Set(%s).Grant(%s) = %s; want %s", tt.owner, tt.token, got, tt.want)
		}
	}
}

func TestParseAndJSON(t *testing.T) {
	tests := []struct {
		names   []string
		want    Set
		wantErr bool
	}{
		{nil, 0, false},
		{[]string{"stats"}, Stats, false},
		{[]string{"pcap", "stats", "pcap"}, Stats | Pcap, false},
		{[]string{"admin"}, Admin, false},
		{[]string{"Admin"}, 0, true},
		{[]string{"root"}, 0, true},
	}
	for _, tt := range tests {
		got, err := Parse(tt.names)
		if (err != nil) != tt.wantErr || got != tt.want {
			t.Errorf("Parse(%q) = %s, %v; want %s, error %v", tt.names, got, err, tt.want, tt.wantErr)
			continue
		}
		if tt.wantErr {
			continue
		}
		b, err := json.Marshal(got)
		if err != nil {
			t.Fatal(err)
		}
		var back Set
		if err := json.Unmarshal(b, &back); err != nil || back != got {
			t.Errorf("JSON round trip of %s via %s = %s, %v", got, b, back, err)
		}
	}
	var s Set
	if err := json.Unmarshal([]byte(`"admin"`), &s); err == nil {
		t.Errorf(`Unmarshal("admin") = nil error; want an error (roles are a list)`)
	}
}
