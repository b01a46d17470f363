package live

import "testing"

func TestReadLink(t *testing.T) {
	tests := []struct {
		iface string
		want  linkState
	}{
		{"eth0", linkState{up: true, speedMbps: 1000}},
		{"eth1", linkState{}},             // down, speed -1
		{"tun0", linkState{up: true}},     // operstate unknown, carrier up, no speed file
		{"nospeed0", linkState{up: true}}, // driver reports speed -1
		{"dormant0", linkState{}},         // carrier but waiting (e.g. 802.1X)
		{"missing0", linkState{}},         // not on this box
	}
	for _, tt := range tests {
		t.Run(tt.iface, func(t *testing.T) {
			if got := readLink("testdata/sys", tt.iface); got != tt.want {
				t.Errorf("readLink(testdata/sys, %s) = %+v; want %+v", tt.iface, got, tt.want)
			}
		})
	}
}
