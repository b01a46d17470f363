package banner

import (
	"net/netip"
	"strings"
	"testing"
)

func TestRender(t *testing.T) {
	base := Info{Product: "Multimeter", Version: "1.2.3", Model: "virtual", ModelTitle: "Virtual Edition",
		Slot: "a", Kernel: "6.1.0-56-amd64", Hostname: "multimeter-3456", Interface: "eth0", Mode: "dhcp"}
	withAddr := base
	withAddr.Addresses = []netip.Prefix{netip.MustParsePrefix("10.0.2.15/24")}
	warned := withAddr
	warned.Warnings = []string{"data partition not mounted"}
	tests := []struct {
		name string
		in   Info
		want []string
	}{
		{"no address", base, []string{"Multimeter 1.2.3 - Virtual Edition (model virtual)", "Management address: none yet on eth0 (dhcp)", "URL: waiting", "Firmware slot: a"}},
		{"address", withAddr, []string{"Management address: 10.0.2.15/24 on eth0 (dhcp)", "URL: https://10.0.2.15/", "Hostname: multimeter-3456"}},
		{"warning", warned, []string{"WARNING: data partition not mounted"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := Render(tt.in)
			for _, w := range tt.want {
				if !strings.Contains(got, w) {
					t.Errorf("Render(%+v) = %q; want it to contain %q", tt.in, got, w)
				}
			}
		})
	}
}
