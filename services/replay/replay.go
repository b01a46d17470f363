// Package replay analyses uploaded captures in the pcap analysis slots
// (mm-id=:1 and up), the way the reference's three upload commands drive
// it:
//
//	svc, err := replay.New(replay.Config{Slots: 4, BufferDir: dir}, registry, log)
//	st, err := svc.Prepare(replay.Upload{FileName: "abc.pcapng", FileSize: n, Slot: 1, ForceSlot: true, UseReplayBuffer: true})
//	st, err = svc.Start(st.Slot)
//	st, err = svc.Analyze(ctx, st.Slot, replay.Input{Body: body}) // returns when the capture is analysed
//
// The capture streams from the request body straight into the slot's
// analysis instance: nothing is copied to disk first, and the slot's
// statistics can be queried while it streams. The reader is slowed down
// rather than a packet lost. With a replay buffer the slot's packets are
// also recorded into a ring buffer of its own (lossless as well), so that
// they can be extracted like the main instance's (Buffer).
//
// Uploads are bounded by Config.MaxBytes (ErrTooLarge); a file that is not
// a capture, or breaks off, ends the analysis with ErrBadCapture, keeping
// what was analysed before.
package replay

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/multimeter-fw/multimeter/services/capture/filesource"
	"github.com/multimeter-fw/multimeter/services/engine"
	"github.com/multimeter-fw/multimeter/services/pcapfile"
	"github.com/multimeter-fw/multimeter/services/ringbuf"
	"github.com/multimeter-fw/multimeter/services/stats"
)

// Config shapes the service. Zero values mean the defaults.
type Config struct {
	// Slots is the number of pcap analysis slots (1..Slots); it must
	// match the registry's. Default 1.
	Slots int
	// MaxBytes is the largest capture accepted. Default 4 GiB.
	MaxBytes int64
	// BufferDir holds the replay ring buffers, one directory per slot.
	// Empty: no replay buffers (UseReplayBuffer is refused).
	BufferDir string
	// BufferQueueBytes is each replay buffer's memory queue. Default 16 MiB.
	BufferQueueBytes int64
}

// Defaults.
const (
	DefaultMaxBytes         = 4 << 30
	DefaultBufferQueueBytes = 16 << 20
	maxFileName             = 255
)

func (c *Config) fillDefaults() {
	if c.Slots <= 0 {
		c.Slots = 1
	}
	if c.MaxBytes <= 0 {
		c.MaxBytes = DefaultMaxBytes
	}
	if c.BufferQueueBytes <= 0 {
		c.BufferQueueBytes = DefaultBufferQueueBytes
	}
}

// Error is what went wrong, for the client: Kind is one of the Err
// values below, Msg says it in full, Field names the Upload field at
// fault (JSON name), if one is.
type Error struct {
	Kind  error
	Field string
	Msg   string
}

func (e *Error) Error() string {
	if e.Field != "" {
		return "replay: " + e.Field + ": " + e.Msg
	}
	return "replay: " + e.Msg
}

func (e *Error) Unwrap() error { return e.Kind }

func errorf(kind error, format string, args ...any) error {
	return &Error{Kind: kind, Msg: fmt.Sprintf(format, args...)}
}

func fieldError(field, format string, args ...any) error {
	return &Error{Kind: ErrInvalid, Field: field, Msg: fmt.Sprintf(format, args...)}
}

// Kinds of Error, which callers map to HTTP statuses.
var (
	// ErrInvalid: a field of the announcement is wrong (400).
	ErrInvalid = errors.New("invalid upload")
	// ErrTooLarge: the capture exceeds Config.MaxBytes (413).
	ErrTooLarge = errors.New("capture larger than the upload limit")
	// ErrNoSlot: no upload was announced for the slot (404).
	ErrNoSlot = errors.New("no such upload")
	// ErrState: the slot's upload is not in a state that allows the
	// command, such as a second upload into a running slot (409).
	ErrState = errors.New("not possible in this state")
	// ErrBadCapture: the upload is not a pcap/pcapng capture, breaks
	// off inside a packet, or is not the size announced (400).
	ErrBadCapture = errors.New("broken capture")
)

// Upload announces an upload; the JSON names are the reference's.
type Upload struct {
	FileName string `json:"fileName"`
	// FileSize is the capture's size in bytes; an upload of another
	// size fails (its packets are analysed all the same). 0: unknown.
	FileSize int64 `json:"fileSize"`
	// Slot is the pcap analysis slot (mm-id=:Slot). Unless ForceSlot is
	// set, a busy slot is replaced by the first idle one.
	Slot            int  `json:"replaySlotID"`
	ForceSlot       bool `json:"forceSlotID"`
	UseReplayBuffer bool `json:"useReplayBuffer"`
}

// Upload states, in order.
const (
	StatePrepared = "prepared" // announced, waiting for the start command
	StateStarted  = "started"  // analysis ready, waiting for the capture
	StateRunning  = "running"  // the capture streams in
	StateDone     = "done"
	StateStopped  = "stopped"
	StateFailed   = "failed"
)

// Status is what a slot's upload and analysis have come to.
type Status struct {
	Upload
	State string `json:"state"`
	Error string `json:"error,omitempty"`
	// BytesReceived counts the capture's bytes read so far.
	BytesReceived int64 `json:"bytesReceived"`
	// PacketsRead were handed to the analysis; UnsupportedPackets have a
	// link type the analysis does not decode.
	PacketsRead        uint64 `json:"packetsRead"`
	UnsupportedPackets uint64 `json:"unsupportedPackets"`
	// Analysis summarises the slot's statistics store.
	Analysis Analysis `json:"analysis"`
	// ReplayBuffer is the slot's ring buffer, when it has one.
	ReplayBuffer *ringbuf.Stats `json:"replayBuffer,omitempty"`
	Prepared     time.Time      `json:"prepared"`
	Started      time.Time      `json:"started,omitzero"`
	Ended        time.Time      `json:"ended,omitzero"`
}

// Analysis is a summary of a slot's statistics store.
type Analysis struct {
	Packets     uint64 `json:"packets"` // analysed, over all interfaces
	Bytes       uint64 `json:"bytes"`
	IPs         int    `json:"ips"`
	Connections int    `json:"connections"`
	// LastSecond is the last complete second on the capture's clock
	// (Unix seconds).
	LastSecond int64 `json:"lastSecond"`
}

// Service runs the uploads of every pcap analysis slot.
type Service struct {
	cfg   Config
	log   *slog.Logger
	slots *engine.Registry

	mu       sync.Mutex
	sessions map[int]*session
	closed   bool
	running  sync.WaitGroup // Analyze calls in progress
}

// session is one slot's upload.
type session struct {
	up       Upload
	state    string
	err      string
	eng      *engine.Engine
	buf      *ringbuf.Buffer // nil without a replay buffer
	detach   func()
	src      *filesource.Source
	cancel   context.CancelFunc // while running
	stopped  bool
	received atomic.Int64

	prepared, started, ended time.Time
}

// New returns the service for the pcap slots of slots. Replay buffers a
// previous run left in BufferDir are deleted: slot analyses do not
// survive a restart.
func New(cfg Config, slots *engine.Registry, log *slog.Logger) (*Service, error) {
	cfg.fillDefaults()
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	if cfg.BufferDir != "" {
		abs, err := filepath.Abs(cfg.BufferDir)
		if err != nil {
			return nil, fmt.Errorf("replay: buffer directory: %w", err)
		}
		cfg.BufferDir = abs
		if err := os.MkdirAll(abs, 0o750); err != nil {
			return nil, fmt.Errorf("replay: buffer directory: %w", err)
		}
		old, _ := filepath.Glob(filepath.Join(abs, "slot-*"))
		for _, dir := range old {
			if err := os.RemoveAll(dir); err != nil {
				return nil, fmt.Errorf("replay: remove old replay buffer: %w", err)
			}
		}
	}
	return &Service{cfg: cfg, log: log, slots: slots, sessions: map[int]*session{}}, nil
}

// MaxBytes is the upload limit.
func (s *Service) MaxBytes() int64 { return s.cfg.MaxBytes }

func (u *Upload) validate(cfg *Config) error {
	switch {
	case u.FileName == "" || len(u.FileName) > maxFileName || strings.ContainsAny(u.FileName, "/\\\x00"):
		return fieldError("fileName", "%q: want a file name of 1-%d characters without a path", u.FileName, maxFileName)
	case u.FileSize < 0:
		return fieldError("fileSize", "%d is negative", u.FileSize)
	case u.FileSize > cfg.MaxBytes:
		return errorf(ErrTooLarge, "a capture of %d bytes exceeds the upload limit of %d bytes", u.FileSize, cfg.MaxBytes)
	case u.Slot < 1 || u.Slot > cfg.Slots:
		return fieldError("replaySlotID", "%d: the pcap analysis slots are 1-%d", u.Slot, cfg.Slots)
	case u.UseReplayBuffer && cfg.BufferDir == "":
		return fieldError("useReplayBuffer", "no storage for replay buffers")
	}
	return nil
}

// Prepare announces an upload into a slot: the slot gets a fresh, empty
// analysis instance (and loses its previous replay buffer). A slot whose
// upload is running is busy: with ForceSlot that is an error (ErrState),
// otherwise the first idle slot is taken instead.
func (s *Service) Prepare(up Upload) (Status, error) {
	if err := up.validate(&s.cfg); err != nil {
		return Status{}, err
	}
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.closed {
		return Status{}, errorf(ErrState, "shutting down")
	}
	if s.busy(up.Slot) {
		if up.ForceSlot {
			return Status{}, errorf(ErrState, "replay slot %d is busy analysing %s", up.Slot, s.sessions[up.Slot].up.FileName)
		}
		free := slices.IndexFunc(s.slotNumbers(), func(n int) bool { return !s.busy(n) })
		if free < 0 {
			return Status{}, errorf(ErrState, "every replay slot is busy")
		}
		up.Slot = s.slotNumbers()[free]
	}
	if old := s.sessions[up.Slot]; old != nil {
		delete(s.sessions, up.Slot)
		if err := s.release(up.Slot, old); err != nil {
			s.log.Warn("previous replay buffer", "slot", up.Slot, "err", err)
		}
	}
	eng, err := s.slots.Open(up.Slot, true)
	if err != nil {
		return Status{}, fmt.Errorf("replay: slot %d: %w", up.Slot, err)
	}
	ss := &session{up: up, state: StatePrepared, eng: eng, prepared: time.Now()}
	s.sessions[up.Slot] = ss
	s.log.Info("upload prepared", "slot", up.Slot, "file", up.FileName, "size", up.FileSize, "replayBuffer", up.UseReplayBuffer)
	return ss.status(), nil
}

func (s *Service) slotNumbers() []int {
	out := make([]int, s.cfg.Slots)
	for i := range out {
		out[i] = i + 1
	}
	return out
}

// busy reports whether slot n's upload is under way. s.mu is held.
func (s *Service) busy(n int) bool {
	ss := s.sessions[n]
	return ss != nil && ss.state == StateRunning
}

// release detaches and deletes a finished session's replay buffer.
func (s *Service) release(slot int, ss *session) error {
	if ss.detach != nil {
		ss.detach()
	}
	if ss.buf == nil {
		return nil
	}
	return errors.Join(ss.buf.Close(), os.RemoveAll(s.bufferDir(slot)))
}

func (s *Service) bufferDir(slot int) string {
	return filepath.Join(s.cfg.BufferDir, fmt.Sprintf("slot-%d", slot))
}

// Start readies a prepared slot for its capture: the replay buffer, if
// asked for, is opened and attached to the slot's analysis. Starting a
// started slot again changes nothing.
func (s *Service) Start(slot int) (Status, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, err := s.session(slot)
	if err != nil {
		return Status{}, err
	}
	switch ss.state {
	case StatePrepared:
	case StateStarted, StateRunning:
		return ss.status(), nil
	default:
		return Status{}, errorf(ErrState, "the upload into replay slot %d is %s; announce a new one first (POST /API/system/replay/upload)", slot, ss.state)
	}
	if ss.up.UseReplayBuffer {
		buf, err := s.openBuffer(slot)
		if err != nil {
			return Status{}, err
		}
		ss.buf = buf
		ss.detach = ss.eng.Attach(buf)
	}
	ss.state, ss.started = StateStarted, time.Now()
	return ss.status(), nil
}

// openBuffer creates an empty replay buffer for slot. It can hold
// captures up to the upload limit: pcapng framing and the index take
// room beyond the packets, up to half again for the smallest frames.
func (s *Service) openBuffer(slot int) (*ringbuf.Buffer, error) {
	dir := s.bufferDir(slot)
	if err := os.RemoveAll(dir); err != nil {
		return nil, fmt.Errorf("replay: replay buffer: %w", err)
	}
	if err := os.MkdirAll(dir, 0o750); err != nil {
		return nil, fmt.Errorf("replay: replay buffer: %w", err)
	}
	buf, err := ringbuf.OpenBuffer(ringbuf.BufferConfig{
		Devices:      []ringbuf.DeviceConfig{{Path: dir, MaxBytes: 2*s.cfg.MaxBytes + 64<<20}},
		SegmentBytes: 64 << 20,
		QueueBytes:   s.cfg.BufferQueueBytes,
		FlushMillis:  200,
		Lossless:     true,
	}, s.log.With("slot", slot))
	if err != nil {
		return nil, fmt.Errorf("replay: replay buffer of slot %d: %w", slot, err)
	}
	return buf, nil
}

// session returns slot's session. s.mu is held.
func (s *Service) session(slot int) (*session, error) {
	ss := s.sessions[slot]
	if ss == nil {
		return nil, errorf(ErrNoSlot, "no upload announced for replay slot %d (POST /API/system/replay/upload first)", slot)
	}
	return ss, nil
}

// Input is an uploaded capture as it streams in.
type Input struct {
	// Name is the capture's file name; empty: the announced one.
	Name string
	Body io.Reader
	// Interrupt, if set, makes a Body.Read that blocks return (with an
	// error), such as setting an HTTP connection's read deadline; it is
	// called when the analysis is stopped or ctx ends. Without it a stop
	// waits for the client's next bytes.
	Interrupt func()
}

// Analyze streams a capture into slot's analysis and returns when it is
// analysed, stopped (Stop), or ctx ends. The slot must be started. The
// returned status is final; its statistics stay queryable.
func (s *Service) Analyze(ctx context.Context, slot int, upload Input) (Status, error) {
	s.mu.Lock()
	ss, err := s.session(slot)
	switch {
	case err != nil:
	case s.closed:
		err = errorf(ErrState, "shutting down")
	case ss.state == StatePrepared:
		err = errorf(ErrState, "replay slot %d is not started (POST /API/data/pcap?mm-id=:%d with {\"command\":\"start\"})", slot, slot)
	case ss.state != StateStarted:
		err = errorf(ErrState, "the upload into replay slot %d is %s; announce a new one first (POST /API/system/replay/upload)", slot, ss.state)
	}
	if err != nil {
		s.mu.Unlock()
		return Status{}, err
	}
	name := upload.Name
	if name == "" {
		name = ss.up.FileName
	}
	in := &limitReader{r: upload.Body, n: &ss.received, max: s.cfg.MaxBytes}
	src, err := filesource.FromReader(in, name, filesource.Config{})
	if err != nil {
		s.mu.Unlock()
		return Status{}, fmt.Errorf("replay: %w", err)
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if upload.Interrupt != nil {
		defer context.AfterFunc(ctx, upload.Interrupt)()
	}
	ss.src, ss.cancel, ss.state = src, cancel, StateRunning
	s.running.Add(1)
	defer s.running.Done()
	s.mu.Unlock()

	runErr := ss.eng.Run(ctx, src)
	var flushErr error
	if ss.buf != nil {
		flushErr = ss.buf.Flush()
	}

	s.mu.Lock()
	defer s.mu.Unlock()
	ss.cancel, ss.ended = nil, time.Now()
	err = outcome(ss, in, runErr, ctx.Err())
	if err == nil && flushErr != nil {
		err = fmt.Errorf("replay: replay buffer of slot %d: %w", slot, flushErr)
	}
	switch {
	case err != nil:
		ss.state, ss.err = StateFailed, err.Error()
	case ss.stopped:
		ss.state = StateStopped
	default:
		ss.state = StateDone
	}
	st := ss.status()
	s.log.Info("upload analysed", "slot", slot, "file", name, "state", st.State, "bytes", st.BytesReceived,
		"packets", st.PacketsRead, "err", st.Error)
	return st, err
}

// outcome tells why an analysis ended: nil for a capture read to its
// end or a stop, else what went wrong.
func outcome(ss *session, in *limitReader, runErr, ctxErr error) error {
	switch {
	case errors.Is(in.err, ErrTooLarge):
		return errorf(ErrTooLarge, "the capture exceeds the upload limit of %d bytes", in.max)
	case ss.stopped:
		return nil
	case in.err != nil:
		return errorf(ErrBadCapture, "the upload broke off after %d bytes: %v", in.n.Load(), in.err)
	case ctxErr != nil:
		return errorf(ErrBadCapture, "the upload broke off after %d bytes: %v", in.n.Load(), ctxErr)
	case errors.Is(runErr, pcapfile.ErrFormat):
		return errorf(ErrBadCapture, "%s is not a pcap or pcapng capture", ss.src.Ports()[0].Name)
	case runErr != nil:
		return &Error{Kind: ErrBadCapture, Msg: fmt.Sprintf("%s: %v", ss.src.Ports()[0].Name, runErr)}
	case ss.src.Stats().Truncated:
		return errorf(ErrBadCapture, "%s ends inside a packet, after %d packets (those were analysed)", ss.src.Ports()[0].Name, ss.src.Stats().Packets)
	case ss.up.FileSize > 0 && in.n.Load() != ss.up.FileSize:
		// A capture cut off at a block boundary reads as whole: only
		// the announced size tells that packets are missing.
		return errorf(ErrBadCapture, "%s has %d bytes where %d were announced (the %d packets received were analysed)",
			ss.src.Ports()[0].Name, in.n.Load(), ss.up.FileSize, ss.src.Stats().Packets)
	}
	return nil
}

// Stop ends a slot's upload: a running analysis stops where it is (its
// statistics are kept), a slot waiting for its capture will take none.
func (s *Service) Stop(slot int) (Status, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, err := s.session(slot)
	if err != nil {
		return Status{}, err
	}
	switch ss.state {
	case StateRunning:
		ss.stopped = true
		ss.cancel()
		st := ss.status()
		st.State = StateStopped // Analyze records it as it returns
		return st, nil
	case StatePrepared, StateStarted:
		ss.state, ss.ended = StateStopped, time.Now()
	}
	return ss.status(), nil
}

// Status returns slot's upload.
func (s *Service) Status(slot int) (Status, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss, err := s.session(slot)
	if err != nil {
		return Status{}, err
	}
	return ss.status(), nil
}

// List returns every slot's upload, by slot.
func (s *Service) List() []Status {
	s.mu.Lock()
	defer s.mu.Unlock()
	out := []Status{}
	for _, n := range s.slotNumbers() {
		if ss := s.sessions[n]; ss != nil {
			out = append(out, ss.status())
		}
	}
	return out
}

// Buffer returns slot's replay buffer.
func (s *Service) Buffer(slot int) (*ringbuf.Buffer, bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	ss := s.sessions[slot]
	if ss == nil || ss.buf == nil {
		return nil, false
	}
	return ss.buf, true
}

// Close stops the running analyses, waits for them and closes the replay
// buffers (their files stay until the next start).
func (s *Service) Close() error {
	s.mu.Lock()
	s.closed = true
	for _, ss := range s.sessions {
		if ss.cancel != nil {
			ss.cancel()
		}
	}
	s.mu.Unlock()
	s.running.Wait()
	s.mu.Lock()
	defer s.mu.Unlock()
	var errs []error
	for _, ss := range s.sessions {
		if ss.detach != nil {
			ss.detach()
		}
		if ss.buf != nil {
			errs = append(errs, ss.buf.Close())
		}
	}
	return errors.Join(errs...)
}

// status snapshots the session. The service's lock is held.
func (ss *session) status() Status {
	st := Status{Upload: ss.up, State: ss.state, Error: ss.err, BytesReceived: ss.received.Load(),
		Prepared: ss.prepared, Started: ss.started, Ended: ss.ended, Analysis: summarise(ss.eng.Stats())}
	if ss.src != nil {
		rs := ss.src.Stats()
		st.PacketsRead, st.UnsupportedPackets = rs.Packets, rs.Unsupported
	}
	if ss.buf != nil {
		bs := ss.buf.Stats()
		st.ReplayBuffer = &bs
	}
	return st
}

func summarise(st *engine.Stats) Analysis {
	a := Analysis{IPs: st.IP.IPs.Len(0), Connections: st.Conns.Conns.Len(0), LastSecond: st.Store.Now()}
	ports, _ := st.Interfaces.Ports.List(stats.ListQuery{Query: stats.Query{SkipHistory: true}}, nil)
	for _, p := range ports {
		a.Packets += p.AllTime.RxPackets
		a.Bytes += p.AllTime.RxBytes
	}
	return a
}

// limitReader counts what it reads and passes on at most max bytes: a
// read beyond them fails with ErrTooLarge. It remembers its first error,
// so that a reader's failure can be told from a broken capture after the
// parser wrapped it.
type limitReader struct {
	r   io.Reader
	n   *atomic.Int64
	max int64
	err error
}

func (l *limitReader) Read(b []byte) (int, error) {
	if l.err != nil {
		return 0, l.err
	}
	n, err := l.r.Read(b)
	if over := l.n.Add(int64(n)) - l.max; over > 0 {
		// The bytes up to the limit are still analysed.
		l.n.Add(-over)
		l.err = ErrTooLarge
		return n - int(over), nil
	}
	if err != nil && !errors.Is(err, io.EOF) {
		l.err = err
	}
	return n, err
}
