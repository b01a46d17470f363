// Package live captures packets from monitor ports: one AF_PACKET
// TPACKET_V3 memory-mapped ring per I/O worker, the workers of a port
// joined in a hash fanout group so each flow (both directions) stays on
// one worker. Frames are handed to the worker's Handler in place, valid
// until the ring block is released, with no allocation per packet.
//
//	src, err := live.Open(live.Config{Ports: []live.PortConfig{{Name: "eth1"}}}, log)
//	defer src.Close()
//	err = src.Run(ctx, func(worker int) capture.Handler { ... })
//
// In bridge mode ports are paired: each worker copies every frame it
// receives into a transmit ring on the partner port and kicks the kernel
// once per block, before the Handler sees the frames, so forwarding never
// waits on analysis. SetMode switches between sink and bridge while
// running. Frames this host transmits on a port (forwarded ones included)
// are not captured on it.
//
// Open turns receive offloads (GRO, LRO) off on the ports, so that every
// frame is seen as it was on the wire, and Close turns them back on.
//
// Ports reports link state and speed from sysfs and the kernel's drop and
// freeze counters; Stats adds the workers' own counters.
package live

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"slices"
	"sync"
	"sync/atomic"

	"golang.org/x/sys/unix"

	"github.com/multimeter-fw/multimeter/services/capture"
	"github.com/multimeter-fw/multimeter/services/decode"
)

// Errors callers can test for.
var (
	ErrClosed  = errors.New("live: source closed")
	ErrRunning = errors.New("live: source already running")
)

var (
	_ capture.Source       = (*Source)(nil)
	_ capture.PortReporter = (*Source)(nil)
)

// Source is a set of monitor ports with their rings open.
type Source struct {
	cfg   Config
	log   *slog.Logger
	mode  atomic.Int32
	ports []*port
	// ethtoolFD changes offloads in the ports' namespace, from Open to
	// Close; -1 when KeepOffloads is set.
	ethtoolFD int
	// stopping tells busy workers of the current Run to return; idle
	// ones are woken by stopFD.
	stopping atomic.Bool

	mu      sync.Mutex // guards the fields below
	running bool
	stopFD  int           // eventfd that stops the current Run's workers
	done    chan struct{} // closed when the current Run has returned
	closed  bool
}

// port is one monitor port: a ring per worker and, when it has a partner,
// a transmit ring per worker towards the partner.
type port struct {
	cfg      PortConfig
	link     decode.LinkType
	partner  int // index into Source.ports, -1 for none
	rings    []*rxRing
	txs      []*txRing
	counters []workerCounters
	offloads offloads // turned off by Open, restored by Close
}

// Open opens the rings of every configured port (this needs CAP_NET_RAW,
// and CAP_NET_ADMIN for the transmit buffers of bridged ports). log may be
// nil.
func Open(cfg Config, log *slog.Logger) (_ *Source, err error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	s := &Source{cfg: cfg, log: log, stopFD: -1, ethtoolFD: -1}
	s.mode.Store(int32(cfg.Mode))
	defer func() {
		if err != nil {
			s.release()
		}
	}()
	if !cfg.KeepOffloads {
		if s.ethtoolFD, err = ethtoolSocket(); err != nil {
			return nil, fmt.Errorf("live: %w", err)
		}
	}
	ifaces := make(map[string]*net.Interface, len(cfg.Ports))
	for _, pc := range cfg.Ports {
		if up, err := setUp(pc.Name); err != nil {
			return nil, fmt.Errorf("live: monitor port %q: %w", pc.Name, err)
		} else if up {
			log.Info("monitor port brought up", "port", pc.Name)
		}
		ifi, err := net.InterfaceByName(pc.Name)
		if err != nil {
			return nil, fmt.Errorf("live: monitor port %q: %w", pc.Name, err)
		}
		ifaces[pc.Name] = ifi
	}
	for _, pc := range cfg.Ports {
		p := &port{cfg: pc, partner: -1, counters: make([]workerCounters, cfg.WorkersPerPort)}
		s.ports = append(s.ports, p)
		if s.ethtoolFD >= 0 {
			// Best effort: a port with offloads on still captures,
			// only with merged frames.
			var offErr error
			if p.offloads, offErr = disableReceiveOffloads(s.ethtoolFD, pc.Name); offErr != nil {
				log.Warn("monitor port receive offloads", "port", pc.Name, "err", offErr)
			}
		}
		p.link = decode.LinkEthernet
		if len(ifaces[pc.Name].HardwareAddr) != 6 {
			p.link = decode.LinkRaw // layer-3 devices (tun, WireGuard) have no Ethernet header
		}
		if err := p.open(ifaces[pc.Name].Index, cfg); err != nil {
			return nil, fmt.Errorf("live: monitor port %q: %w", pc.Name, err)
		}
		if pc.Partner != "" {
			partner := ifaces[pc.Partner]
			for range cfg.WorkersPerPort {
				tx, err := openTX(partner.Index, partner.MTU, cfg.TXFrames)
				if err != nil {
					return nil, fmt.Errorf("live: bridge %q to %q: %w", pc.Name, pc.Partner, err)
				}
				p.txs = append(p.txs, tx)
			}
		}
	}
	for _, p := range s.ports {
		p.partner = slices.IndexFunc(s.ports, func(q *port) bool { return q.cfg.Name == p.cfg.Partner })
	}
	return s, nil
}

// open opens the port's rings, all in one fanout group.
func (p *port) open(ifindex int, cfg Config) error {
	group := -1
	for range cfg.WorkersPerPort {
		r, g, err := openRX(ifindex, cfg, group)
		if err != nil {
			return err
		}
		p.rings = append(p.rings, r)
		group = g
	}
	return nil
}

// Run runs one I/O worker per ring until ctx is cancelled (a clean stop:
// it returns nil) or Close is called. Worker w of port i (in configuration
// order) is numbered i*WorkersPerPort+w for newHandler. Run may be called
// again after it returned; the rings keep their place.
func (s *Source) Run(ctx context.Context, newHandler func(worker int) capture.Handler) error {
	stopFD, err := s.start()
	if err != nil {
		return err
	}
	defer s.finish()

	errs := make(chan error, len(s.ports)*s.cfg.WorkersPerPort)
	var wg sync.WaitGroup
	for i, p := range s.ports {
		for j, r := range p.rings {
			w := &worker{
				mode:    &s.mode,
				stop:    &s.stopping,
				portIdx: p.cfg.Index,
				link:    p.link,
				rx:      r,
				h:       newHandler(i*s.cfg.WorkersPerPort + j),
				c:       &p.counters[j],
				log:     s.log,
			}
			if p.txs != nil {
				w.tx = p.txs[j]
			}
			w.pollFDs[0] = unix.PollFd{Fd: int32(r.fd), Events: unix.POLLIN}
			w.pollFDs[1] = unix.PollFd{Fd: int32(stopFD), Events: unix.POLLIN}
			wg.Go(func() {
				if err := w.run(); err != nil {
					errs <- fmt.Errorf("live: port %q: %w", p.cfg.Name, err)
					s.signalStop()
				}
			})
		}
	}
	finished := make(chan struct{})
	go func() {
		select {
		case <-ctx.Done():
			s.signalStop()
		case <-finished:
		}
	}()
	wg.Wait()
	close(finished)
	close(errs)
	return errors.Join(drain(errs)...)
}

func drain(errs <-chan error) []error {
	var all []error
	for err := range errs {
		all = append(all, err)
	}
	return all
}

// start marks the source running and creates the eventfd that stops it.
func (s *Source) start() (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	switch {
	case s.closed:
		return -1, ErrClosed
	case s.running:
		return -1, ErrRunning
	}
	fd, err := unix.Eventfd(0, unix.EFD_CLOEXEC|unix.EFD_NONBLOCK)
	if err != nil {
		return -1, fmt.Errorf("live: eventfd: %w", err)
	}
	s.running, s.stopFD, s.done = true, fd, make(chan struct{})
	s.stopping.Store(false)
	return fd, nil
}

func (s *Source) finish() {
	s.mu.Lock()
	defer s.mu.Unlock()
	unix.Close(s.stopFD)
	s.running, s.stopFD = false, -1
	close(s.done)
}

// signalStop stops every worker of the current Run: busy ones see the
// flag after their block, idle ones wake on the eventfd, which stays
// readable because nobody reads it.
func (s *Source) signalStop() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.running {
		s.stopping.Store(true)
		var one [8]byte
		binary.NativeEndian.PutUint64(one[:], 1)
		unix.Write(s.stopFD, one[:])
	}
}

// Close stops a running Run, waits for it, and releases the rings. The
// counters stay readable.
func (s *Source) Close() error {
	s.mu.Lock()
	if s.closed {
		s.mu.Unlock()
		return nil
	}
	s.closed = true
	done := s.done
	running := s.running
	s.mu.Unlock()
	if running {
		s.signalStop()
		<-done
	}
	s.release()
	return nil
}

func (s *Source) release() {
	for _, p := range s.ports {
		for _, r := range p.rings {
			r.close()
		}
		for _, t := range p.txs {
			t.close()
		}
		if err := restoreReceiveOffloads(s.ethtoolFD, p.cfg.Name, p.offloads); err != nil {
			s.log.Warn("monitor port receive offloads", "port", p.cfg.Name, "err", err)
		}
	}
	if s.ethtoolFD >= 0 {
		unix.Close(s.ethtoolFD)
		s.ethtoolFD = -1
	}
}

// SetMode switches between sink and bridge mode; blocks the workers start
// after it returns are handled in the new mode.
func (s *Source) SetMode(m Mode) error {
	switch m {
	case Sink:
	case Bridge:
		if !s.paired() {
			return errors.New("live: bridge mode needs at least one pair of partner ports")
		}
	default:
		return fmt.Errorf("live: invalid mode %v", m)
	}
	s.mode.Store(int32(m))
	return nil
}

func (s *Source) paired() bool {
	for _, p := range s.ports {
		if p.partner >= 0 {
			return true
		}
	}
	return false
}

// Mode returns the current mode.
func (s *Source) Mode() Mode { return Mode(s.mode.Load()) }

// MayWaitForAnalysis reports whether a worker may wait a little for an
// analyzer that paused (the engine's queue is full): in sink mode the ring
// holds the frames meanwhile; in bridge mode the worker forwards the next
// block only after handing on this one, and forwarding must not wait.
func (s *Source) MayWaitForAnalysis() bool { return s.Mode() == Sink }

// setUp brings a monitor port administratively up and reports whether it
// was down: monitor ports carry no address, so nothing else configures
// them, and a port that is down receives nothing.
func setUp(name string) (bool, error) {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return false, fmt.Errorf("socket for interface flags: %w", err)
	}
	defer unix.Close(fd)
	ifr, err := unix.NewIfreq(name)
	if err != nil {
		return false, err
	}
	if err := unix.IoctlIfreq(fd, unix.SIOCGIFFLAGS, ifr); err != nil {
		return false, fmt.Errorf("interface flags: %w", err)
	}
	flags := ifr.Uint16()
	if flags&unix.IFF_UP != 0 {
		return false, nil
	}
	ifr.SetUint16(flags | unix.IFF_UP)
	if err := unix.IoctlIfreq(fd, unix.SIOCSIFFLAGS, ifr); err != nil {
		return false, fmt.Errorf("set the interface up: %w", err)
	}
	return true, nil
}
