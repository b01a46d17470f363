package extract

import (
	"context"
	"encoding/binary"
	"sync"
	"sync/atomic"
	"time"

	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/filter"
	"github.com/multimeter-fw/multimeter/services/tap"
)

// DefaultLiveQueue is the memory a live capture may hold when its client
// reads slower than packets arrive.
const DefaultLiveQueue = 32 << 20

// liveHeader is the fixed part of a queued packet: timestamp, port, link
// type, original length, sequence number, captured length.
const liveHeader = 8 + 4 + 4 + 4 + 8 + 4

// Live is a live capture: a tap.Sink that keeps the packets its filter
// selects in a bounded queue, which Run streams to a writer. Packets that
// do not fit are dropped and counted, so a slow client never slows the
// analysis.
type Live struct {
	filter     *filter.Filter
	start, end time.Time // wall clock; zero: open
	endTs      int64     // packet time that ends the capture; 0: none

	mu     sync.Mutex
	queue  []byte // ring of records
	head   int    // next record to read
	used   int
	ended  bool
	notify chan struct{}

	captured, dropped, ignored atomic.Uint64
	bytes                      atomic.Uint64
}

// NewLive returns a live capture of the packets f selects, from start
// (zero: now) until end (zero: until Run's context ends), holding at most
// queueBytes in memory.
func NewLive(f *filter.Filter, start, end time.Time, queueBytes int) *Live {
	if queueBytes <= 0 {
		queueBytes = DefaultLiveQueue
	}
	l := &Live{filter: f, start: start, end: end, queue: make([]byte, queueBytes), notify: make(chan struct{}, 1)}
	if !end.IsZero() {
		l.endTs = end.UnixNano()
	}
	return l
}

var _ tap.Sink = (*Live)(nil)

// Packet implements tap.Sink.
func (l *Live) Packet(shard int, p *decode.Packet, frame []byte, m *tap.Meta) {
	if !l.start.IsZero() && time.Now().Before(l.start) {
		l.ignored.Add(1)
		return
	}
	if l.endTs != 0 && p.Timestamp >= l.endTs {
		// The first packet at or after endTime ends the capture.
		l.mu.Lock()
		l.ended = true
		l.mu.Unlock()
		l.wake()
		return
	}
	if !l.filter.Match(p, m) {
		l.ignored.Add(1)
		return
	}
	need := liveHeader + len(frame)
	l.mu.Lock()
	if l.ended || l.used+need > len(l.queue) {
		l.mu.Unlock()
		l.dropped.Add(1)
		return
	}
	var h [liveHeader]byte
	binary.LittleEndian.PutUint64(h[0:], uint64(p.Timestamp))
	binary.LittleEndian.PutUint32(h[8:], uint32(p.Port))
	binary.LittleEndian.PutUint32(h[12:], uint32(p.Link))
	binary.LittleEndian.PutUint32(h[16:], max(p.OrigLen, uint32(len(frame))))
	binary.LittleEndian.PutUint64(h[20:], m.Seq)
	binary.LittleEndian.PutUint32(h[28:], uint32(len(frame)))
	tail := (l.head + l.used) % len(l.queue)
	l.put(tail, h[:])
	l.put((tail+liveHeader)%len(l.queue), frame)
	l.used += need
	l.mu.Unlock()
	l.captured.Add(1)
	l.bytes.Add(uint64(len(frame)))
	l.wake()
}

func (l *Live) wake() {
	select {
	case l.notify <- struct{}{}:
	default:
	}
}

// put copies b into the ring at pos, wrapping around.
func (l *Live) put(pos int, b []byte) {
	n := copy(l.queue[pos:], b)
	copy(l.queue, b[n:])
}

// get copies from the ring at pos into b.
func (l *Live) get(pos int, b []byte) {
	n := copy(b, l.queue[pos:])
	copy(b[n:], l.queue)
}

// Run streams queued packets to w until ctx ends, the end time passes, or
// a packet at or after it arrives. It writes everything captured before it
// returns.
func (l *Live) Run(ctx context.Context, w PacketWriter) error {
	var timer <-chan time.Time
	if !l.end.IsZero() {
		t := time.NewTimer(time.Until(l.end))
		defer t.Stop()
		timer = t.C
	}
	flush := time.NewTicker(time.Second)
	defer flush.Stop()
	var h [liveHeader]byte
	data := make([]byte, 0, 65536)
	for {
		l.mu.Lock()
		for l.used > 0 {
			l.get(l.head, h[:])
			n := int(binary.LittleEndian.Uint32(h[28:]))
			data = data[:n]
			l.get((l.head+liveHeader)%len(l.queue), data)
			l.head = (l.head + liveHeader + n) % len(l.queue)
			l.used -= liveHeader + n
			l.mu.Unlock()
			p := Packet{Timestamp: int64(binary.LittleEndian.Uint64(h[0:])), Iface: binary.LittleEndian.Uint32(h[8:]),
				Link: decode.LinkType(binary.LittleEndian.Uint32(h[12:])), OrigLen: binary.LittleEndian.Uint32(h[16:]),
				Seq: binary.LittleEndian.Uint64(h[20:]), Data: data}
			if err := w.WritePacket(&p); err != nil {
				return err
			}
			l.mu.Lock()
		}
		ended := l.ended
		l.mu.Unlock()
		if ended {
			return w.Flush()
		}
		select {
		case <-ctx.Done():
			l.stop()
			return w.Flush()
		case <-timer:
			l.stop()
			timer = nil
		case <-flush.C:
			// Keep a slow trickle moving to the client.
			if err := w.Flush(); err != nil {
				return err
			}
		case <-l.notify:
		}
	}
}

// stop ends the capture: later packets are not taken, queued ones are
// still written.
func (l *Live) stop() {
	l.mu.Lock()
	l.ended = true
	l.mu.Unlock()
	l.wake()
}

// Counters returns packets captured, dropped (queue full) and ignored
// (not selected by the filter, or before the start time).
func (l *Live) Counters() (captured, dropped, ignored uint64) {
	return l.captured.Load(), l.dropped.Load(), l.ignored.Load()
}
