// Package filesource replays pcap and pcapng captures as a capture.Source:
// a file given to `multimeterd --replay` feeds the main instance as if it
// were monitor port N, and an uploaded capture streams from an io.Reader
// into an analysis slot. Every link type services/decode understands is
// accepted, with micro- or nanosecond timestamps, at full speed (the
// analysis may slow the reader down: nothing is dropped) or at the pace
// the packets were recorded (then it behaves like a live port). A file is
// memory-mapped where it can be and its packets read in place; one cut
// short during a replay ends the replay with ErrShrunk.
//
//	src, err := filesource.Open("mix.pcap", filesource.Config{Port: 0})
//	err = engine.Run(ctx, src)
package filesource

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/multimeter-fw/multimeter/services/capture"
	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/mmapfile"
	"github.com/multimeter-fw/multimeter/services/pcapfile"
)

// ErrShrunk reports a file that was cut short while it was replayed.
var ErrShrunk = errors.New("filesource: the file was cut short while it was read")

// ErrConsumed is returned by Run of a reader source that already ran.
var ErrConsumed = errors.New("filesource: reader already consumed")

// Config shapes a replay. The zero value replays at full speed as port 0.
type Config struct {
	// Port is the monitor port the packets arrive on: those of a pcapng's
	// first interface; interface k's arrive on Port + k*PortStride.
	Port uint16
	// PortStride keeps the interfaces of files replayed at once apart:
	// of n files, file i has Port i and PortStride n, so its interfaces
	// arrive on i, i+n, i+2n ... Default 1.
	PortStride uint16
	// Paced replays at the recorded pace (times Speed).
	Paced bool
	// Speed multiplies the pace; default 1.
	Speed float64
}

// Stats count what a replay read.
type Stats struct {
	Packets     uint64 // handed to the analysis
	Bytes       uint64 // their original lengths
	Unsupported uint64 // packets of a link type we cannot decode
	Truncated   bool   // the file ended inside a record
}

// Source replays one capture.
type Source struct {
	cfg  Config
	name string
	path string // a file, mapped into memory to be read where it can be
	open func() (io.ReadCloser, error)

	mu       sync.Mutex
	consumed bool
	once     bool // reader sources run once
	// next is the record the next Run starts at: the first one the last
	// Run did not hand to the analysis. A restart of processing goes on
	// from there; Rewind starts over.
	next int
	// handed is the first record no Run has handed on yet: after a
	// Rewind, the records before it are handed on as Repeat.
	handed int

	packets, bytes, unsupported atomic.Uint64
	truncated                   atomic.Bool
	ifaces                      atomic.Uint32 // the highest pcapng interface id seen, plus 1
}

var _ capture.Source = (*Source)(nil)
var _ capture.PortReporter = (*Source)(nil)

// Open returns a source replaying the file at path; it checks now that
// the file is a capture.
func Open(path string, cfg Config) (*Source, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	f, err := os.Open(path)
	if err != nil {
		return nil, fmt.Errorf("filesource: open %s: %w", path, err)
	}
	_, err = pcapfile.NewReader(f)
	f.Close()
	if err != nil {
		return nil, fmt.Errorf("filesource: %s: %w", path, err)
	}
	return &Source{
		cfg:  cfg,
		name: filepath.Base(path),
		path: path,
		open: func() (io.ReadCloser, error) { return os.Open(path) },
	}, nil
}

// FromReader returns a source replaying the capture r streams (an
// upload). It can run once.
func FromReader(r io.Reader, name string, cfg Config) (*Source, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	return &Source{cfg: cfg, name: name, once: true, open: func() (io.ReadCloser, error) { return io.NopCloser(r), nil }}, nil
}

func (c *Config) validate() error {
	if c.Speed < 0 || c.Speed > 1e6 {
		return fmt.Errorf("filesource: speed %v out of range", c.Speed)
	}
	if c.Speed == 0 {
		c.Speed = 1
	}
	if c.PortStride == 0 {
		c.PortStride = 1
	}
	return nil
}

// CanWait tells the engine that a full-speed replay may be slowed down
// rather than lose packets.
func (s *Source) CanWait() bool { return !s.cfg.Paced }

// PacketClock tells the engine to run on the packets' clock.
func (s *Source) PacketClock() bool { return true }

// Stats returns what the replays read so far.
func (s *Source) Stats() Stats {
	return Stats{Packets: s.packets.Load(), Bytes: s.bytes.Load(), Unsupported: s.unsupported.Load(), Truncated: s.truncated.Load()}
}

// Ports describes the replayed ports: the file's, and one for each further
// pcapng interface seen so far.
func (s *Source) Ports() []capture.PortInfo {
	ports := []capture.PortInfo{{Port: s.cfg.Port, Name: s.name, LinkUp: true, Partner: -1}}
	for k := uint32(1); k < s.ifaces.Load(); k++ {
		if port, ok := s.port(k); ok {
			ports = append(ports, capture.PortInfo{Port: port, Name: fmt.Sprintf("%s#%d", s.name, k), LinkUp: true, Partner: -1})
		}
	}
	return ports
}

// port is the monitor port of the capture's interface k.
func (s *Source) port(k uint32) (uint16, bool) {
	port := uint32(s.cfg.Port) + k*uint32(s.cfg.PortStride)
	return uint16(port), port <= 0xffff
}

// Rewind makes the next Run replay the capture from its start, and the
// counters count from there. A stream (FromReader) cannot start over:
// Rewind leaves it as it is.
func (s *Source) Rewind() {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.once {
		return
	}
	s.next = 0
	s.packets.Store(0)
	s.bytes.Store(0)
	s.unsupported.Store(0)
	s.truncated.Store(false)
}

// Run replays the capture into one worker's handler, from where the last
// Run stopped (see Rewind). It returns nil at the end of the capture or
// when ctx is cancelled, and an error for a file that is not a capture or
// breaks off in the middle of a block.
func (s *Source) Run(ctx context.Context, newHandler func(worker int) capture.Handler) (err error) {
	s.mu.Lock()
	if s.once && s.consumed {
		s.mu.Unlock()
		return ErrConsumed
	}
	s.consumed = true
	skip, handed := s.next, s.handed
	s.mu.Unlock()
	r, mem, closeFile, err := s.reader()
	if err != nil {
		return fmt.Errorf("filesource: %s: %w", s.name, err)
	}
	defer closeFile()
	if mem != nil {
		// A mapped file cut short while it is read faults on the pages it
		// lost: an error of this replay, not a crash of the process.
		defer debug.SetPanicOnFault(debug.SetPanicOnFault(true))
		defer func() {
			if v := recover(); v != nil {
				if !faultIn(v, mem) {
					panic(v)
				}
				err = fmt.Errorf("%w: %s", ErrShrunk, s.name)
			}
		}()
	}
	h := newHandler(0)
	defer h.Flush()
	var p decode.Packet
	var pace pacer
	var packets, bytes uint64
	n := 0 // the record at hand
	defer func() {
		s.packets.Add(packets)
		s.bytes.Add(bytes)
		s.mu.Lock()
		s.next = max(n, skip) // stopped while skipping: still from there
		s.handed = max(s.handed, s.next)
		s.mu.Unlock()
	}()
	for ; ; n++ {
		if n&255 == 0 {
			s.packets.Add(packets)
			s.bytes.Add(bytes)
			packets, bytes = 0, 0
			if ctx.Err() != nil {
				return nil
			}
		}
		frame, link, err := r.Next(&p)
		if err != nil {
			switch {
			case errors.Is(err, io.EOF):
				return nil
			case errors.Is(err, io.ErrUnexpectedEOF):
				s.truncated.Store(true)
				return nil
			}
			return fmt.Errorf("filesource: %s: packet %d: %w", s.name, n+1, err)
		}
		if n < skip {
			continue // handed to the analysis by an earlier Run
		}
		if !decode.Supported(link) {
			s.unsupported.Add(1)
			continue
		}
		k := uint32(p.Port) // the pcapng interface id; 0 in a pcap
		if k > 0 {
			port, ok := s.port(k)
			if !ok {
				s.unsupported.Add(1)
				continue
			}
			p.Port = port
			if k >= s.ifaces.Load() {
				s.ifaces.Store(k + 1) // only this goroutine writes it
			}
		} else {
			p.Port = s.cfg.Port
		}
		if s.cfg.Paced && !pace.wait(ctx, p.Timestamp, s.cfg.Speed, h.Flush) {
			return nil
		}
		packets++
		bytes += uint64(p.OrigLen)
		p.Repeat = n < handed
		h.Handle(&p, link, frame)
	}
}

// reader opens the capture: a file mapped into memory where it can be
// (mem is the mapping), else streamed.
func (s *Source) reader() (r *pcapfile.Reader, mem []byte, closeFile func(), err error) {
	if s.path != "" {
		// Frames are then read where the page cache holds them: read(2)
		// would copy every byte into a buffer first, which costs more
		// than decoding the packet.
		if m, err := mmapfile.Open(s.path); err == nil {
			m.Sequential()
			r, err := pcapfile.NewBytesReader(m.Data())
			if err != nil {
				m.Close()
				return nil, nil, nil, err
			}
			return r, m.Data(), func() { m.Close() }, nil
		}
	}
	rc, err := s.open()
	if err != nil {
		return nil, nil, nil, err
	}
	if r, err = pcapfile.NewReader(rc); err != nil {
		rc.Close()
		return nil, nil, nil, err
	}
	return r, nil, func() { rc.Close() }, nil
}

// faultIn reports whether v is the panic of a memory fault inside mem.
func faultIn(v any, mem []byte) bool {
	f, ok := v.(interface{ Addr() uintptr })
	if !ok {
		return false
	}
	base := uintptr(unsafe.Pointer(unsafe.SliceData(mem)))
	return f.Addr() >= base && f.Addr()-base < uintptr(len(mem))
}

// pacer sleeps so that packets leave at their recorded pace.
type pacer struct {
	startWall time.Time
	startPkt  int64
	timer     *time.Timer
}

// wait returns when the packet at ts is due, calling idle before it
// sleeps; false means ctx ended.
func (pc *pacer) wait(ctx context.Context, ts int64, speed float64, idle func()) bool {
	if pc.startWall.IsZero() {
		pc.startWall, pc.startPkt = time.Now(), ts
		return true
	}
	due := pc.startWall.Add(time.Duration(float64(ts-pc.startPkt) / speed))
	d := time.Until(due)
	if d <= 0 {
		return ctx.Err() == nil
	}
	idle()
	if pc.timer == nil {
		pc.timer = time.NewTimer(d)
	} else {
		pc.timer.Reset(d)
	}
	select {
	case <-pc.timer.C:
		return true
	case <-ctx.Done():
		return false
	}
}
