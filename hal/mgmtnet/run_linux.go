package mgmtnet

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"slices"
	"strings"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/insomniacslk/dhcp/dhcpv4/nclient4"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// State is what the management port looks like now.
type State struct {
	Interface string
	Hostname  string
	Mode      string
	Addresses []netip.Prefix // IPv4 addresses on the port
}

// Options say which port to configure and how. OnChange, if set, is
// called from Run's goroutine with the first state and on every change of
// the port's addresses.
type Options struct {
	Interface  string
	Config     Config
	OnChange   func(State)
	ResolvConf string        // default /etc/resolv.conf
	LinkWait   time.Duration // how long to wait for the port to appear; default 10 s
}

// Run sets the host name, configures the port and keeps it configured
// (renewing a DHCP lease, retrying when there is no server) until ctx is
// cancelled.
func Run(ctx context.Context, opts Options, log *slog.Logger) error {
	if opts.ResolvConf == "" {
		opts.ResolvConf = "/etc/resolv.conf"
	}
	if opts.LinkWait == 0 {
		opts.LinkWait = 10 * time.Second
	}
	cfg := opts.Config
	if cfg.Mode == "" {
		cfg.Mode = ModeDHCP
	}
	if err := loopbackUp(); err != nil {
		log.Warn("loopback", "err", err)
	}
	link, err := waitLink(ctx, opts.Interface, opts.LinkWait)
	if err != nil {
		return err
	}
	hostname := cfg.Hostname
	if hostname == "" {
		hostname = DefaultHostname(link.Attrs().HardwareAddr)
	}
	if err := unix.Sethostname([]byte(hostname)); err != nil {
		return fmt.Errorf("mgmtnet: sethostname %s: %w", hostname, err)
	}
	if err := netlink.LinkSetUp(link); err != nil {
		return fmt.Errorf("mgmtnet: link up %s: %w", opts.Interface, err)
	}
	state := State{Interface: opts.Interface, Hostname: hostname, Mode: cfg.Mode}
	updates := make(chan netlink.AddrUpdate, 16)
	done := make(chan struct{})
	defer close(done)
	if err := netlink.AddrSubscribeWithOptions(updates, done, netlink.AddrSubscribeOptions{
		ErrorCallback: func(err error) {
			if ctx.Err() == nil {
				log.Warn("address updates", "err", err)
			}
		},
	}); err != nil {
		return fmt.Errorf("mgmtnet: subscribe to address changes: %w", err)
	}
	notify := func() {
		addrs, err := ipv4Addrs(link)
		if err != nil {
			log.Warn("list addresses", "iface", opts.Interface, "err", err)
			return
		}
		if state.Addresses != nil && slices.Equal(addrs, state.Addresses) {
			return
		}
		state.Addresses = addrs
		if opts.OnChange != nil {
			opts.OnChange(state)
		}
	}
	notify()

	if cfg.Mode == ModeStatic {
		static, err := cfg.Static()
		if err != nil {
			return err
		}
		if err := applyStatic(link, static, opts.ResolvConf); err != nil {
			return err
		}
		log.Info("management port configured", "iface", opts.Interface, "address", static.Address, "gateway", static.Gateway)
	} else {
		dhcpDone := make(chan struct{})
		defer func() { <-dhcpDone }()
		dctx, cancel := context.WithCancel(ctx)
		defer cancel()
		go func() {
			defer close(dhcpDone)
			runDHCP(dctx, link, hostname, opts.ResolvConf, log)
		}()
	}
	for {
		select {
		case <-ctx.Done():
			return nil
		case u, ok := <-updates:
			if !ok {
				return errors.New("mgmtnet: address subscription closed")
			}
			if u.LinkIndex == link.Attrs().Index {
				notify()
			}
		}
	}
}

func loopbackUp() error {
	lo, err := netlink.LinkByName("lo")
	if err != nil {
		return fmt.Errorf("mgmtnet: lo: %w", err)
	}
	if err := netlink.LinkSetUp(lo); err != nil {
		return fmt.Errorf("mgmtnet: lo up: %w", err)
	}
	return nil
}

// waitLink waits for the port's driver to register it: modules probe
// devices asynchronously.
func waitLink(ctx context.Context, name string, wait time.Duration) (netlink.Link, error) {
	deadline := time.Now().Add(wait)
	for {
		link, err := netlink.LinkByName(name)
		if err == nil {
			return link, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("mgmtnet: management port %s: %w", name, err)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func ipv4Addrs(link netlink.Link) ([]netip.Prefix, error) {
	addrs, err := netlink.AddrList(link, netlink.FAMILY_V4)
	if err != nil {
		return nil, err
	}
	out := []netip.Prefix{}
	for _, a := range addrs {
		ip, ok := netip.AddrFromSlice(a.IP.To4())
		if !ok {
			continue
		}
		ones, _ := a.Mask.Size()
		out = append(out, netip.PrefixFrom(ip, ones))
	}
	slices.SortFunc(out, func(a, b netip.Prefix) int { return a.Addr().Compare(b.Addr()) })
	return out, nil
}

func applyStatic(link netlink.Link, s Static, resolvConf string) error {
	addr := &netlink.Addr{IPNet: prefixToIPNet(s.Address)}
	if err := netlink.AddrReplace(link, addr); err != nil {
		return fmt.Errorf("mgmtnet: add %s to %s: %w", s.Address, link.Attrs().Name, err)
	}
	if s.Gateway.IsValid() {
		if err := netlink.RouteReplace(&netlink.Route{LinkIndex: link.Attrs().Index, Gw: s.Gateway.AsSlice()}); err != nil {
			return fmt.Errorf("mgmtnet: default route via %s: %w", s.Gateway, err)
		}
	}
	return writeResolvConf(resolvConf, s.DNS)
}

func prefixToIPNet(p netip.Prefix) *net.IPNet {
	return &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}
}

func writeResolvConf(path string, servers []netip.Addr) error {
	var b strings.Builder
	for _, s := range servers {
		fmt.Fprintf(&b, "nameserver %s\n", s)
	}
	if err := os.WriteFile(path, []byte(b.String()), 0o644); err != nil {
		return fmt.Errorf("mgmtnet: %w", err)
	}
	return nil
}

// runDHCP obtains a lease, applies it, renews it halfway through its
// lifetime and starts over when renewal fails or no server answers.
func runDHCP(ctx context.Context, link netlink.Link, hostname, resolvConf string, log *slog.Logger) {
	name := link.Attrs().Name
	backoff := time.Second
	for ctx.Err() == nil {
		client, err := nclient4.New(name, nclient4.WithTimeout(2*time.Second), nclient4.WithRetry(3))
		if err != nil {
			log.Warn("dhcp client", "iface", name, "err", err)
			sleep(ctx, backoff)
			continue
		}
		mods := []dhcpv4.Modifier{
			dhcpv4.WithOption(dhcpv4.OptHostName(hostname)),
			dhcpv4.WithRequestedOptions(dhcpv4.OptionSubnetMask, dhcpv4.OptionRouter, dhcpv4.OptionDomainNameServer),
		}
		lease, err := client.Request(ctx, mods...)
		if err == nil {
			backoff = time.Second
		}
		for err == nil {
			life := applyLease(link, lease.ACK, resolvConf, log)
			if !sleep(ctx, life/2) {
				break
			}
			lease, err = client.Renew(ctx, lease, mods...)
		}
		client.Close()
		if ctx.Err() != nil {
			return
		}
		log.Warn("dhcp", "iface", name, "err", err, "retry", backoff)
		sleep(ctx, backoff)
		backoff = min(2*backoff, 30*time.Second)
	}
}

// applyLease configures the leased address, route and DNS servers and
// returns the lease time. The address carries the lease time as its
// lifetime so it goes away if renewals keep failing.
func applyLease(link netlink.Link, ack *dhcpv4.DHCPv4, resolvConf string, log *slog.Logger) time.Duration {
	life := ack.IPAddressLeaseTime(time.Hour)
	mask := ack.SubnetMask()
	if mask == nil {
		mask = net.CIDRMask(32, 32)
	}
	addr := &netlink.Addr{
		IPNet:       &net.IPNet{IP: ack.YourIPAddr, Mask: mask},
		ValidLft:    int(life.Seconds()),
		PreferedLft: int(life.Seconds()),
	}
	if err := netlink.AddrReplace(link, addr); err != nil {
		log.Warn("dhcp: add address", "addr", addr.IPNet, "err", err)
	}
	if gw := ack.Router(); len(gw) > 0 {
		if err := netlink.RouteReplace(&netlink.Route{LinkIndex: link.Attrs().Index, Gw: gw[0]}); err != nil {
			log.Warn("dhcp: default route", "gateway", gw[0], "err", err)
		}
	}
	var dns []netip.Addr
	for _, ip := range ack.DNS() {
		if a, ok := netip.AddrFromSlice(ip.To4()); ok {
			dns = append(dns, a)
		}
	}
	if err := writeResolvConf(resolvConf, dns); err != nil {
		log.Warn("dhcp: resolv.conf", "err", err)
	}
	log.Info("dhcp lease", "iface", link.Attrs().Name, "addr", addr.IPNet, "lease", life)
	return max(life, 20*time.Second)
}

// sleep waits d or until ctx is done; it reports whether d elapsed.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
