// Package livetest builds throwaway network namespaces with veth pairs for
// the live capture tests and benchmark, sends frames into them, and runs
// tcpdump beside the code under test. Everything here needs root.
//
//	ns, err := livetest.NewNetns("mmtest")
//	defer ns.Close()
//	ns.AddVeth("mon0", "feed0")
//	err = ns.Do(func() error { src, err = live.Open(cfg, nil); return err })
package livetest

import (
	"bytes"
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"

	"golang.org/x/sys/unix"
)

// Netns is a network namespace made by NewNetns, with IPv6 disabled so
// that the kernel sends nothing on its interfaces by itself.
type Netns struct {
	Name string
}

// NewNetns creates a namespace named prefix-<random>.
func NewNetns(prefix string) (*Netns, error) {
	var b [4]byte
	rand.Read(b[:])
	n := &Netns{Name: prefix + "-" + hex.EncodeToString(b[:])}
	if err := run("ip", "netns", "add", n.Name); err != nil {
		return nil, err
	}
	err := n.Do(func() error {
		// /proc/sys/net shows the namespace of the thread that opens it.
		for _, f := range []string{"all", "default"} {
			if err := os.WriteFile("/proc/sys/net/ipv6/conf/"+f+"/disable_ipv6", []byte("1"), 0o644); err != nil {
				return fmt.Errorf("disable IPv6 in %s: %w", n.Name, err)
			}
		}
		return nil
	})
	if err != nil {
		n.Close()
		return nil, err
	}
	return n, nil
}

// Close deletes the namespace and the interfaces in it.
func (n *Netns) Close() error { return run("ip", "netns", "del", n.Name) }

// AddVeth creates the veth pair a, b with the given MTU in the namespace
// and brings both up.
func (n *Netns) AddVeth(a, b string, mtu int) error {
	m := strconv.Itoa(mtu)
	if err := run("ip", "-n", n.Name, "link", "add", a, "mtu", m, "type", "veth", "peer", "name", b, "mtu", m); err != nil {
		return err
	}
	return n.SetUp(true, a, b)
}

// SetUp sets the interfaces administratively up or down.
func (n *Netns) SetUp(up bool, ifaces ...string) error {
	state := "down"
	if up {
		state = "up"
	}
	for _, i := range ifaces {
		if err := run("ip", "-n", n.Name, "link", "set", i, state); err != nil {
			return err
		}
	}
	return nil
}

// Command returns a command that runs in the namespace (ip netns exec,
// which also gives it a /sys of the namespace).
func (n *Netns) Command(ctx context.Context, name string, args ...string) *exec.Cmd {
	return exec.CommandContext(ctx, "ip", append([]string{"netns", "exec", n.Name, name}, args...)...)
}

// Do runs fn on an OS thread that has entered the namespace. Sockets fn
// opens stay in the namespace; goroutines it starts do not run there.
func (n *Netns) Do(fn func() error) error {
	runtime.LockOSThread()
	self, err := os.Open("/proc/thread-self/ns/net")
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("open own netns: %w", err)
	}
	defer self.Close()
	target, err := os.Open("/run/netns/" + n.Name)
	if err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("open netns %s: %w", n.Name, err)
	}
	defer target.Close()
	if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
		runtime.UnlockOSThread()
		return fmt.Errorf("setns %s: %w", n.Name, err)
	}
	fnErr := fn()
	if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
		// The thread stays locked and dies with this goroutine rather
		// than running other goroutines in the wrong namespace.
		return fmt.Errorf("setns back from %s: %w", n.Name, err)
	}
	runtime.UnlockOSThread()
	return fnErr
}

// MountSysfs mounts a sysfs that shows the namespace's interfaces on dir
// and returns the function that unmounts it.
func (n *Netns) MountSysfs(dir string) (unmount func() error, err error) {
	err = n.Do(func() error { return unix.Mount("sysfs", dir, "sysfs", unix.MS_RDONLY, "") })
	if err != nil {
		return nil, fmt.Errorf("mount sysfs of %s on %s: %w", n.Name, dir, err)
	}
	return func() error { return unix.Unmount(dir, unix.MNT_DETACH) }, nil
}

// LinkStats are an interface's counters as the kernel reports them.
type LinkStats struct {
	RXPackets, RXBytes, RXDropped uint64
	TXPackets, TXBytes, TXDropped uint64
}

// Link reports an interface's operational state ("UP", "DOWN",
// "LOWERLAYERDOWN" …) and counters, as ip shows them.
func (n *Netns) Link(iface string) (state string, st LinkStats, err error) {
	out, err := exec.Command("ip", "-n", n.Name, "-s", "-j", "link", "show", "dev", iface).Output()
	if err != nil {
		return "", st, fmt.Errorf("ip link show %s: %w", iface, err)
	}
	type dir struct{ Packets, Bytes, Dropped uint64 }
	var links []struct {
		Operstate string
		Stats64   struct{ RX, TX dir }
	}
	if err := json.Unmarshal(out, &links); err != nil || len(links) != 1 {
		return "", st, fmt.Errorf("ip link show %s: unexpected output %q", iface, out)
	}
	l := links[0]
	st = LinkStats{l.Stats64.RX.Packets, l.Stats64.RX.Bytes, l.Stats64.RX.Dropped, l.Stats64.TX.Packets, l.Stats64.TX.Bytes, l.Stats64.TX.Dropped}
	return l.Operstate, st, nil
}

// Sender transmits frames on one interface of a namespace through a
// packet socket, one write per frame.
type Sender struct{ fd int }

// NewSender opens a sender on iface in n.
func (n *Netns) NewSender(iface string) (*Sender, error) {
	var s *Sender
	err := n.Do(func() error {
		ifi, err := net.InterfaceByName(iface)
		if err != nil {
			return err
		}
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("socket AF_PACKET: %w", err)
		}
		if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: ifi.Index}); err != nil {
			unix.Close(fd)
			return fmt.Errorf("bind to %s: %w", iface, err)
		}
		s = &Sender{fd: fd}
		return nil
	})
	return s, err
}

// Send transmits one frame. It does not allocate.
func (s *Sender) Send(frame []byte) error {
	for {
		_, err := unix.Write(s.fd, frame)
		if err != unix.EINTR {
			return err
		}
	}
}

// Close closes the socket.
func (s *Sender) Close() error { return unix.Close(s.fd) }

func run(name string, args ...string) error {
	out, err := exec.Command(name, args...).CombinedOutput()
	if err != nil {
		return fmt.Errorf("%s %s: %w: %s", name, strings.Join(args, " "), err, bytes.TrimSpace(out))
	}
	return nil
}
