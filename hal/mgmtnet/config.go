// Package mgmtnet configures the appliance's management port: DHCP by
// default, or a static IPv4 address, gateway and DNS servers, plus the
// host name, all from a small JSON file on the data partition. It reports
// every change of the port's addresses so the console banner can follow.
//
//	cfg, err := mgmtnet.Load("/perm/network.json") // defaults when absent
//	err = mgmtnet.Run(ctx, mgmtnet.Options{Interface: "eth0", Config: cfg, OnChange: show}, log)
package mgmtnet

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"strings"

	"github.com/multimeter-fw/multimeter/services/atomicfile"
)

// FileName is the configuration's file name on the data partition.
const FileName = "network.json"

// Modes of addressing.
const (
	ModeDHCP   = "dhcp"
	ModeStatic = "static"
)

// Config is the persistent management network configuration. The zero
// value means DHCP and the default host name.
type Config struct {
	Mode     string   `json:"mode,omitempty"`     // "dhcp" (default) or "static"
	Address  string   `json:"address,omitempty"`  // static: IPv4 address with prefix length, "192.0.2.10/24"
	Gateway  string   `json:"gateway,omitempty"`  // static: default gateway, optional
	DNS      []string `json:"dns,omitempty"`      // static: name servers
	Hostname string   `json:"hostname,omitempty"` // empty: multimeter-XXXX from the MAC
}

// Static is a validated static configuration.
type Static struct {
	Address netip.Prefix
	Gateway netip.Addr // invalid when there is none
	DNS     []netip.Addr
}

// Validate reports every mistake in the configuration.
func (c Config) Validate() error {
	var errs []error
	switch c.Mode {
	case "", ModeDHCP:
		if c.Address != "" || c.Gateway != "" || len(c.DNS) > 0 {
			errs = append(errs, errors.New("address, gateway and dns need mode \"static\""))
		}
	case ModeStatic:
		if _, err := c.Static(); err != nil {
			errs = append(errs, err)
		}
	default:
		errs = append(errs, fmt.Errorf("mode %q: want %q or %q", c.Mode, ModeDHCP, ModeStatic))
	}
	if c.Hostname != "" && !ValidHostname(c.Hostname) {
		errs = append(errs, fmt.Errorf("hostname %q: want letters, digits and '-', at most 63 characters", c.Hostname))
	}
	if err := errors.Join(errs...); err != nil {
		return fmt.Errorf("mgmtnet: %w", err)
	}
	return nil
}

// Static parses the static addressing fields.
func (c Config) Static() (Static, error) {
	var s Static
	p, err := netip.ParsePrefix(c.Address)
	if err != nil || !p.Addr().Is4() {
		return s, fmt.Errorf("address %q: want an IPv4 address with prefix length, like 192.0.2.10/24", c.Address)
	}
	if p.Bits() < 1 || p.Bits() > 31 || p.Addr() == p.Masked().Addr() || isBroadcast(p) {
		return s, fmt.Errorf("address %q: not a host address of its subnet", c.Address)
	}
	s.Address = p
	if c.Gateway != "" {
		gw, err := netip.ParseAddr(c.Gateway)
		if err != nil || !gw.Is4() {
			return s, fmt.Errorf("gateway %q: want an IPv4 address", c.Gateway)
		}
		if !p.Masked().Contains(gw) || gw == p.Addr() {
			return s, fmt.Errorf("gateway %s: not another host of %s", gw, p.Masked())
		}
		s.Gateway = gw
	}
	for _, d := range c.DNS {
		a, err := netip.ParseAddr(d)
		if err != nil {
			return s, fmt.Errorf("dns %q: want an IP address", d)
		}
		s.DNS = append(s.DNS, a)
	}
	return s, nil
}

func isBroadcast(p netip.Prefix) bool {
	a := p.Addr().As4()
	host := ^uint32(0) >> p.Bits()
	v := uint32(a[0])<<24 | uint32(a[1])<<16 | uint32(a[2])<<8 | uint32(a[3])
	return v&host == host
}

// ValidHostname reports whether name is a single DNS label.
func ValidHostname(name string) bool {
	if len(name) == 0 || len(name) > 63 || name[0] == '-' || name[len(name)-1] == '-' {
		return false
	}
	for _, r := range name {
		if !(r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || r >= '0' && r <= '9' || r == '-') {
			return false
		}
	}
	return true
}

// DefaultHostname is multimeter-XXXX, XXXX being the last two bytes of
// the management port's MAC address in hex.
func DefaultHostname(mac net.HardwareAddr) string {
	if len(mac) < 2 {
		return "multimeter"
	}
	return fmt.Sprintf("multimeter-%02x%02x", mac[len(mac)-2], mac[len(mac)-1])
}

// Load reads the configuration at path; a missing file is the default
// configuration. An invalid file is an error (and the caller falls back
// to the defaults rather than leaving the appliance unreachable).
func Load(path string) (Config, error) {
	data, err := os.ReadFile(path)
	if errors.Is(err, fs.ErrNotExist) {
		return Config{}, nil
	}
	if err != nil {
		return Config{}, fmt.Errorf("mgmtnet: %w", err)
	}
	return Parse(data)
}

// Parse decodes and validates a configuration.
func Parse(data []byte) (Config, error) {
	var c Config
	dec := json.NewDecoder(strings.NewReader(string(data)))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&c); err != nil {
		return Config{}, fmt.Errorf("mgmtnet: parse: %w", err)
	}
	return c, c.Validate()
}

// Save validates c and replaces the file at path atomically. An invalid
// configuration is rejected and the file is left as it was.
func Save(path string, c Config) error {
	if err := c.Validate(); err != nil {
		return err
	}
	data, err := json.MarshalIndent(c, "", "  ")
	if err != nil {
		return fmt.Errorf("mgmtnet: %w", err)
	}
	return atomicfile.WriteFile(path, append(data, '\n'), 0o644)
}
