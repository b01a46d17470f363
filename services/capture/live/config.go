package live

import (
	"errors"
	"fmt"
	"strings"
	"time"
)

// Mode says what happens to a received frame besides analysis.
type Mode int32

// Modes. In sink mode the ports only receive; in bridge mode every frame
// received on a port with a partner is also transmitted on the partner.
const (
	Sink Mode = iota
	Bridge
)

func (m Mode) String() string {
	switch m {
	case Sink:
		return "sink"
	case Bridge:
		return "bridge"
	}
	return fmt.Sprintf("Mode(%d)", int32(m))
}

// ParseMode parses "sink" or "bridge".
func ParseMode(s string) (Mode, error) {
	switch s {
	case "sink":
		return Sink, nil
	case "bridge":
		return Bridge, nil
	}
	return 0, fmt.Errorf("live: unknown mode %q (want sink or bridge)", s)
}

// PortConfig is one monitor port.
type PortConfig struct {
	Name    string // network interface, e.g. "eth1"
	Index   uint16 // monitor port number carried in every packet (decode.Packet.Port)
	Partner string // interface this port is bridged to; empty for none
}

// PortsOf numbers monitor ports as an operator lists them: the
// interfaces first, in order, then those of the bridged pairs ("a,b") not
// listed already; the two interfaces of a pair are each other's partner.
// Validate checks the rest.
func PortsOf(ifaces, bridges []string) ([]PortConfig, error) {
	var ports []PortConfig
	index := map[string]int{}
	add := func(name string) int {
		if i, ok := index[name]; ok {
			return i
		}
		index[name] = len(ports)
		ports = append(ports, PortConfig{Name: name, Index: uint16(len(ports))})
		return len(ports) - 1
	}
	for _, name := range ifaces {
		if _, dup := index[name]; dup {
			return nil, fmt.Errorf("live: interface %q given twice", name)
		}
		add(name)
	}
	for _, b := range bridges {
		x, y, ok := strings.Cut(b, ",")
		if !ok || x == "" || y == "" || strings.Contains(y, ",") {
			return nil, fmt.Errorf("live: bridge %q: want two interfaces as a,b", b)
		}
		i, j := add(x), add(y)
		if ports[i].Partner != "" || ports[j].Partner != "" {
			return nil, fmt.Errorf("live: bridge %q: an interface can be in one pair only", b)
		}
		ports[i].Partner, ports[j].Partner = y, x
	}
	return ports, nil
}

// Config describes the monitor ports and their rings. The zero value of
// every field but Ports means the default.
type Config struct {
	Ports []PortConfig
	// Mode at start; SetMode changes it while running.
	Mode Mode
	// WorkersPerPort is the number of I/O workers (and kernel rings) per
	// port; the kernel spreads flows across them by a symmetric flow hash.
	// Default 1.
	WorkersPerPort int
	// BlockSize and BlockCount shape each worker's TPACKET_V3 ring. The
	// block size must be a power of two and at least one page; it also
	// bounds the largest frame captured. Defaults 1 MiB and 64.
	BlockSize  int
	BlockCount int
	// BlockTimeout is how long the kernel waits before handing over a
	// partly filled block: the latency of analysis (and of forwarding in
	// bridge mode) at low packet rates. Whole milliseconds, default 2 ms.
	BlockTimeout time.Duration
	// TXFrames is the number of frames in each worker's transmit ring
	// towards its port's partner (bridge mode). A power of two; default
	// 4096.
	TXFrames int
	// SysfsRoot is where link state and speed are read; default "/sys".
	SysfsRoot string
	// KeepOffloads leaves GRO and LRO as they are. By default Open turns
	// them off on every port (and Close restores them): merged frames
	// would be counted as one packet and could not be bridged.
	KeepOffloads bool
}

// Defaults.
const (
	DefaultWorkersPerPort = 1
	DefaultBlockSize      = 1 << 20
	DefaultBlockCount     = 64
	DefaultBlockTimeout   = 2 * time.Millisecond
	DefaultTXFrames       = 4096
	DefaultSysfsRoot      = "/sys"
)

// Limits Validate enforces, so that a typo cannot ask the kernel for
// gigabytes of pinned memory per ring.
const (
	minBlockSize    = 4096
	maxBlockSize    = 64 << 20
	maxBlockCount   = 1 << 16
	maxRingBytes    = 4 << 30
	maxWorkers      = 64
	maxTXFrames     = 1 << 16
	maxBlockTimeout = time.Minute
)

// withDefaults returns c with every unset field at its default.
func (c Config) withDefaults() Config {
	if c.WorkersPerPort == 0 {
		c.WorkersPerPort = DefaultWorkersPerPort
	}
	if c.BlockSize == 0 {
		c.BlockSize = DefaultBlockSize
	}
	if c.BlockCount == 0 {
		c.BlockCount = DefaultBlockCount
	}
	if c.BlockTimeout == 0 {
		c.BlockTimeout = DefaultBlockTimeout
	}
	if c.TXFrames == 0 {
		c.TXFrames = DefaultTXFrames
	}
	if c.SysfsRoot == "" {
		c.SysfsRoot = DefaultSysfsRoot
	}
	return c
}

// Validate reports the first mistake in c (after defaults are applied).
func (c Config) Validate() error {
	c = c.withDefaults()
	if len(c.Ports) == 0 {
		return errors.New("live: no ports configured")
	}
	if c.Mode != Sink && c.Mode != Bridge {
		return fmt.Errorf("live: invalid mode %v", c.Mode)
	}
	if c.WorkersPerPort < 1 || c.WorkersPerPort > maxWorkers {
		return fmt.Errorf("live: workers per port %d not in [1, %d]", c.WorkersPerPort, maxWorkers)
	}
	if !powerOfTwo(c.BlockSize) || c.BlockSize < minBlockSize || c.BlockSize > maxBlockSize {
		return fmt.Errorf("live: block size %d is not a power of two in [%d, %d]", c.BlockSize, minBlockSize, maxBlockSize)
	}
	if c.BlockCount < 2 || c.BlockCount > maxBlockCount {
		return fmt.Errorf("live: block count %d not in [2, %d]", c.BlockCount, maxBlockCount)
	}
	if int64(c.BlockSize)*int64(c.BlockCount) > maxRingBytes {
		return fmt.Errorf("live: ring of %d blocks of %d bytes exceeds %d bytes", c.BlockCount, c.BlockSize, int64(maxRingBytes))
	}
	if c.BlockTimeout < time.Millisecond || c.BlockTimeout > maxBlockTimeout || c.BlockTimeout%time.Millisecond != 0 {
		return fmt.Errorf("live: block timeout %v is not whole milliseconds in [1ms, %v]", c.BlockTimeout, maxBlockTimeout)
	}
	if !powerOfTwo(c.TXFrames) || c.TXFrames > maxTXFrames {
		return fmt.Errorf("live: TX frames %d is not a power of two up to %d", c.TXFrames, maxTXFrames)
	}
	return validatePorts(c.Ports, c.Mode)
}

func validatePorts(ports []PortConfig, mode Mode) error {
	byName := make(map[string]PortConfig, len(ports))
	indices := make(map[uint16]string, len(ports))
	for _, p := range ports {
		if err := validIfaceName(p.Name); err != nil {
			return err
		}
		if _, dup := byName[p.Name]; dup {
			return fmt.Errorf("live: interface %q configured twice", p.Name)
		}
		if other, dup := indices[p.Index]; dup {
			return fmt.Errorf("live: ports %q and %q share index %d", other, p.Name, p.Index)
		}
		byName[p.Name] = p
		indices[p.Index] = p.Name
	}
	paired := false
	for _, p := range ports {
		if p.Partner == "" {
			continue
		}
		partner, ok := byName[p.Partner]
		switch {
		case p.Partner == p.Name:
			return fmt.Errorf("live: port %q is its own partner", p.Name)
		case !ok:
			return fmt.Errorf("live: partner %q of port %q is not a configured port", p.Partner, p.Name)
		case partner.Partner != p.Name:
			return fmt.Errorf("live: port %q names %q as partner, but %q names %q", p.Name, p.Partner, p.Partner, partner.Partner)
		}
		paired = true
	}
	if mode == Bridge && !paired {
		return errors.New("live: bridge mode needs at least one pair of partner ports")
	}
	return nil
}

// validIfaceName applies the kernel's rules for interface names.
func validIfaceName(name string) error {
	if name == "" || len(name) >= 16 || name == "." || name == ".." {
		return fmt.Errorf("live: invalid interface name %q", name)
	}
	for _, r := range name {
		if r == '/' || r == ':' || r <= ' ' || r == 0x7f {
			return fmt.Errorf("live: invalid interface name %q", name)
		}
	}
	return nil
}

func powerOfTwo(n int) bool { return n > 0 && n&(n-1) == 0 }
