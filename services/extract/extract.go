// Package extract gets packets out as pcap: from the ring buffer for a
// time window and filter expression, or live from now on; it serves
// GET /API/data/modules/capture (see spec/rest-api.md).
//
//	req, err := extract.ParseRequest(r.URL.Query(), time.Now())
//	svc := extract.NewService(extract.Config{Instance: inst}, log)
//	info, err := svc.Run(ctx, req, w)   // streams a pcap into w
//
// Ring buffer extraction plans from the filter (see Search): catalog time
// ranges and bloom filters, then each segment's time directory, then the
// most selective posting lists, then the full filter; results are merged
// by timestamp across segments, lanes and storage devices. Running and
// recent captures are listed, with their counters, in a Registry, from
// which they can be stopped.
package extract

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/multimeter-fw/multimeter/services/ringbuf"
	"github.com/multimeter-fw/multimeter/services/tap"
)

// Instance is one analysis instance (mm-id slot): its ring buffers and its
// packet tap.
type Instance interface {
	// Buffer returns the ring buffer with an id (captureBufferSlotId).
	Buffer(id int) (*ringbuf.Buffer, bool)
	// Attach makes sink receive every analysed packet until detach is
	// called.
	Attach(sink tap.Sink) (detach func())
	// PcapDir is where captureToMedia writes.
	PcapDir() (string, error)
}

// Config wires the Service. Zero values mean defaults.
type Config struct {
	// Instances resolves an mm-id slot to its instance.
	Instances func(slot int) (Instance, bool)
	// Hostname is this device's name: mm-id may name it.
	Hostname string
	// LiveQueueBytes bounds each live capture's queue.
	LiveQueueBytes int
}

// Service runs captures.
type Service struct {
	cfg      Config
	log      *slog.Logger
	Registry *Registry
}

// NewService returns a Service.
func NewService(cfg Config, log *slog.Logger) *Service {
	return &Service{cfg: cfg, log: log, Registry: NewRegistry()}
}

// Errors callers map to HTTP statuses.
var (
	// ErrNotFound: no such analysis slot or ring buffer (404).
	ErrNotFound = errors.New("extract: not found")
	// ErrUnavailable: no storage for pcap files (503).
	ErrUnavailable = errors.New("extract: unavailable")
)

// Run performs a capture. With ToMedia it writes a pcap file into the
// storage device's pcap area and returns its name in the info; otherwise
// it streams the capture into w.
func (s *Service) Run(ctx context.Context, req *Request, w io.Writer) (CaptureInfo, error) {
	if req.Device != "" && req.Device != s.cfg.Hostname {
		return CaptureInfo{}, &ParamError{Param: "mm-id", Err: fmt.Errorf("unknown device %q", req.Device)}
	}
	inst, ok := s.cfg.Instances(req.Slot)
	if !ok {
		return CaptureInfo{}, fmt.Errorf("%w: analysis slot %d", ErrNotFound, req.Slot)
	}
	var buf *ringbuf.Buffer
	if req.FromCaptureBuffer {
		if buf, ok = inst.Buffer(req.BufferID); !ok {
			return CaptureInfo{}, &ParamError{Param: "captureBufferSlotId", Err: fmt.Errorf("%w: no ring buffer %d", ErrNotFound, req.BufferID)}
		}
	}
	var file *os.File
	var final string
	if req.ToMedia {
		dir, err := inst.PcapDir()
		if err != nil {
			return CaptureInfo{}, fmt.Errorf("%w: %w", ErrUnavailable, err)
		}
		final = filepath.Join(dir, fmt.Sprintf("capture-%s.%s", time.Now().UTC().Format("20060102-150405.000000"), req.Format))
		if file, err = os.CreateTemp(dir, ".capture-*.tmp"); err != nil {
			return CaptureInfo{}, fmt.Errorf("extract: create pcap file: %w", err)
		}
		w = file
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pw := NewWriter(w, req.Format, req.SnapLen)
	info := CaptureInfo{Expression: req.Expression, Live: !req.FromCaptureBuffer, ToMedia: req.ToMedia}
	var err error
	if req.FromCaptureBuffer {
		var captured atomic.Uint64
		e := s.Registry.add(info, cancel, func() (uint64, uint64, uint64) { return captured.Load(), 0, 0 })
		err = clientLeft(ctx, req, s.fromBuffer(ctx, buf, req, pw, &captured))
		info = s.finish(e, file, final, err)
	} else {
		live := NewLive(req.Filter, req.Start, req.End, s.cfg.LiveQueueBytes)
		e := s.Registry.add(info, cancel, live.Counters)
		detach := inst.Attach(live)
		err = clientLeft(ctx, req, live.Run(ctx, pw))
		detach()
		info = s.finish(e, file, final, err)
	}
	if errors.Is(err, context.Canceled) {
		err = nil // the client went away or the capture was stopped
	}
	return info, err
}

// clientLeft is err, or context.Canceled when err is the stream's write
// failing because the client went away: a live capture runs until the
// operator presses Ctrl-C, which ends it as asked, not as a failure.
func clientLeft(ctx context.Context, req *Request, err error) error {
	if err != nil && !req.ToMedia && ctx.Err() != nil {
		return context.Canceled
	}
	return err
}

// finish closes and names the media file and records the outcome.
func (s *Service) finish(e *entry, file *os.File, final string, err error) CaptureInfo {
	name := ""
	if file != nil {
		err = errors.Join(err, file.Sync(), file.Close())
		if err == nil || errors.Is(err, context.Canceled) {
			if rerr := os.Rename(file.Name(), final); rerr != nil {
				err = errors.Join(err, rerr)
			} else {
				name = filepath.Base(final)
			}
		}
		if name == "" {
			os.Remove(file.Name())
		}
	}
	info := s.Registry.done(e, name, err)
	s.log.Info("capture finished", "id", info.ID, "state", info.State, "captured", info.Captured, "file", name)
	return info
}

// fromBuffer extracts [Start, End) from a ring buffer.
func (s *Service) fromBuffer(ctx context.Context, buf *ringbuf.Buffer, req *Request, pw PacketWriter, captured *atomic.Uint64) error {
	q := Query{Filter: req.Filter}
	if !req.Start.IsZero() {
		q.Start = req.Start.UnixNano()
	}
	end := req.End
	if end.IsZero() {
		end = time.Now()
	}
	q.End = end.UnixNano()
	// Packets up to the end time may still be in memory: write them out.
	if err := buf.WriteOut(); err != nil && !errors.Is(err, ringbuf.ErrClosed) {
		s.log.Warn("ring buffer write-out before extraction", "err", err)
	}
	_, err := Search(ctx, buf.Snapshot(), q, func(p *Packet) error {
		captured.Add(1)
		return pw.WritePacket(p)
	})
	return errors.Join(err, pw.Flush())
}
