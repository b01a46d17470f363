// Package banner renders the console banner: what the appliance is and
// where to reach it. The init prints it after boot and again whenever the
// management address changes.
package banner

import (
	"fmt"
	"net/netip"
	"strings"
)

// Info is everything the banner shows.
type Info struct {
	Product    string
	Version    string
	Model      string // profile name, e.g. virtual
	ModelTitle string // e.g. Virtual Edition
	Slot       string
	Kernel     string
	Hostname   string
	Interface  string
	Mode       string // dhcp or static
	Addresses  []netip.Prefix
	Warnings   []string // e.g. the data partition could not be mounted
}

const rule = "==============================================================================="

// Render returns the banner text, ending in a newline. Its "Management
// address:" and "URL:" lines are what operators (and tests) look for.
func Render(in Info) string {
	var b strings.Builder
	b.WriteString("\n" + rule + "\n")
	fmt.Fprintf(&b, "  %s %s - %s (model %s)\n", in.Product, in.Version, in.ModelTitle, in.Model)
	fmt.Fprintf(&b, "  Firmware slot: %s   Kernel: %s\n", orNone(in.Slot), in.Kernel)
	fmt.Fprintf(&b, "  Hostname: %s\n", in.Hostname)
	if len(in.Addresses) == 0 {
		fmt.Fprintf(&b, "  Management address: none yet on %s (%s)\n", in.Interface, in.Mode)
		b.WriteString("  URL: waiting for an address\n")
	}
	for _, a := range in.Addresses {
		fmt.Fprintf(&b, "  Management address: %s on %s (%s)\n", a, in.Interface, in.Mode)
	}
	for _, a := range in.Addresses {
		fmt.Fprintf(&b, "  URL: https://%s/\n", a.Addr())
	}
	for _, w := range in.Warnings {
		fmt.Fprintf(&b, "  WARNING: %s\n", w)
	}
	b.WriteString(rule + "\n")
	return b.String()
}

func orNone(s string) string {
	if s == "" {
		return "none"
	}
	return s
}
