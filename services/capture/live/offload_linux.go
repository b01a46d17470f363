package live

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Receive offloads merge consecutive TCP segments into one large frame
// before packet sockets see it: a monitor port would count one packet for
// many, report lengths no wire carried, and in bridge mode fail to
// forward frames larger than the partner's MTU. Open turns GRO and LRO off
// on every port and Close restores what it changed.

// ethtoolValue is struct ethtool_value.
type ethtoolValue struct {
	cmd  uint32
	data uint32
}

// ifreqData is struct ifreq with the ifr_data member of the union.
type ifreqData struct {
	name [unix.IFNAMSIZ]byte
	data uintptr
	_    [16]byte // rest of the union
}

const ethFlagLRO = 1 << 15 // ETH_FLAG_LRO

// offloads remembers which receive offloads Open turned off on a port.
type offloads struct {
	gro, lro bool
}

// ethtool runs one ETHTOOL_G*/S* command that takes an ethtool_value.
func ethtool(fd int, iface string, cmd, data uint32) (uint32, error) {
	v := &ethtoolValue{cmd: cmd, data: data} // on the heap: the kernel writes through a uintptr
	var ifr ifreqData
	copy(ifr.name[:], iface)
	ifr.data = uintptr(unsafe.Pointer(v))
	_, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr)))
	if errno != 0 {
		return 0, errno
	}
	return v.data, nil
}

// ethtoolSocket opens the socket ethtool commands go through; it names
// interfaces in the network namespace it was opened in.
func ethtoolSocket() (int, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return -1, fmt.Errorf("socket for ethtool: %w", err)
	}
	return fd, nil
}

// disableReceiveOffloads turns GRO and LRO off on iface and reports which
// were on. Offloads a driver does not report are left alone.
func disableReceiveOffloads(fd int, iface string) (offloads, error) {
	var was offloads
	if on, err := ethtool(fd, iface, unix.ETHTOOL_GGRO, 0); err == nil && on != 0 {
		if _, err := ethtool(fd, iface, unix.ETHTOOL_SGRO, 0); err != nil {
			return was, fmt.Errorf("ethtool %s gro off: %w", iface, err)
		}
		was.gro = true
	}
	if flags, err := ethtool(fd, iface, unix.ETHTOOL_GFLAGS, 0); err == nil && flags&ethFlagLRO != 0 {
		if _, err := ethtool(fd, iface, unix.ETHTOOL_SFLAGS, flags&^ethFlagLRO); err != nil {
			return was, fmt.Errorf("ethtool %s lro off: %w", iface, err)
		}
		was.lro = true
	}
	return was, nil
}

// restoreReceiveOffloads turns back on what disableReceiveOffloads turned
// off.
func restoreReceiveOffloads(fd int, iface string, was offloads) error {
	if was.gro {
		if _, err := ethtool(fd, iface, unix.ETHTOOL_SGRO, 1); err != nil {
			return fmt.Errorf("ethtool %s gro on: %w", iface, err)
		}
	}
	if was.lro {
		flags, err := ethtool(fd, iface, unix.ETHTOOL_GFLAGS, 0)
		if err == nil {
			_, err = ethtool(fd, iface, unix.ETHTOOL_SFLAGS, flags|ethFlagLRO)
		}
		if err != nil {
			return fmt.Errorf("ethtool %s lro on: %w", iface, err)
		}
	}
	return nil
}
