// Package ringbuf is the packet ring buffer: it records the packets the
// analysis hands it (it is a tap.Sink) into segment files on one or more
// storage devices, indexes them, and deletes the oldest whole segments when
// a device's share is full. Extraction reads it through Snapshot.
//
//	m, err := ringbuf.OpenManager(ringbuf.Options{ConfigPath: p, Storage: dirs}, log)
//	detach := engine.Attach(m)     // every packet goes to every ring buffer
//	...
//	b, _ := m.Buffer(0)
//	snap := b.Snapshot()           // segments, finished and being written
//	err = m.Apply(newConfig)       // rules and layout, without a restart
//
// The write path: each analyzer shard fills its own batch (rules applied,
// packets encoded as pcapng blocks, index entries noted) from a fixed pool
// of aligned buffers, the memory queue. A full or stale batch goes to the
// writer of the next storage device in turn, which writes it with one
// aligned write (O_DIRECT by default) to the segment file of its lane (the
// shard's files on that device) and adds its entries to the segment's live
// index. Segment files are written under a temporary name and renamed, with
// their index, when rotated. When the pool is empty, packets are dropped and
// counted: recording never blocks the analysis. See DESIGN.md.
package ringbuf

import (
	"errors"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/ringbuf/segment"
	"github.com/multimeter-fw/multimeter/services/tap"
)

// Limits of the write path.
const (
	// MaxShards is the number of analyzer shards told apart; more are
	// folded onto these lanes.
	MaxShards = 256
	// MaxPorts bounds monitor port numbers (interface ids).
	MaxPorts = 1024
	// maxCapLen is the most bytes recorded of a frame.
	maxCapLen = 65535
)

// ErrClosed is returned by operations on a closed Buffer.
var ErrClosed = errors.New("ringbuf: closed")

// Buffer is one ring buffer. It is a tap.Sink.
type Buffer struct {
	cfg   BufferConfig
	log   *slog.Logger
	rules atomic.Pointer[ruleSet]

	devices []*device
	writers []*writer
	pool    *batchPool

	shardMu sync.Mutex // serialises creating shard states
	shards  [MaxShards]atomic.Pointer[shardState]
	ports   [MaxPorts]atomic.Uint32 // link type + 1 of each port seen

	st     counters
	closed atomic.Bool
	stop   chan struct{}
	wg     sync.WaitGroup
}

var _ tap.Sink = (*Buffer)(nil)

// counters are the statistics kept with atomics.
type counters struct {
	packets, bytes       atomic.Uint64 // recorded: packets and captured bytes
	origBytes            atomic.Uint64 // their length on the wire
	fileBytes            atomic.Uint64 // written to disk, framing included
	dropPackets, dropped atomic.Uint64 // dropped packets and their wire bytes
	ignored              atomic.Uint64 // discarded by a rule
	truncated            atomic.Uint64 // cut by a rule
	inFlight             atomic.Int64  // bytes queued, not yet written
	durable              atomic.Uint64 // packets written and fsynced
	writeErrors          atomic.Uint64
	rate                 atomic.Uint64 // bytes/s written, over the last seconds (float64 bits)
}

// shardState is one analyzer shard's open batch.
type shardState struct {
	mu      sync.Mutex
	id      int
	cur     *batch
	nextDev int
	// Each shard locks its own state per packet: padding keeps two
	// shards' states off the same cache lines (and their neighbours,
	// which CPUs fetch in pairs), or every lock bounces between cores.
	_ [128]byte
}

// OpenBuffer opens (or creates) a ring buffer, recovering segments a
// crash left behind.
func OpenBuffer(cfg BufferConfig, log *slog.Logger) (*Buffer, error) {
	if err := cfg.validate(); err != nil {
		return nil, fmt.Errorf("ringbuf: ring buffer %d: %w", cfg.ID, err)
	}
	if len(cfg.Devices) == 0 {
		return nil, fmt.Errorf("ringbuf: ring buffer %d has no storage device", cfg.ID)
	}
	cfg.fillDefaults()
	rules, err := compileRules(cfg.Rules)
	if err != nil {
		return nil, err
	}
	b := &Buffer{cfg: cfg, log: log.With("ringbuffer", cfg.ID), stop: make(chan struct{})}
	b.rules.Store(&rules)
	for i, dc := range cfg.Devices {
		d, err := openDevice(dc, cfg.ID, i, cfg.defaultShare, b.log)
		if err != nil {
			return nil, err
		}
		b.devices = append(b.devices, d)
	}
	nbatches := int(max(cfg.QueueBytes/cfg.BatchBytes, 2))
	b.pool = newBatchPool(nbatches)
	mem := alignedAlloc(nbatches * int(cfg.BatchBytes))
	// Touch the queue's memory now: page faults belong to start-up, not
	// to the packet path.
	for i := 0; i < len(mem); i += 4096 {
		mem[i] = 0
	}
	for i := range nbatches {
		buf := mem[i*int(cfg.BatchBytes) : i*int(cfg.BatchBytes) : (i+1)*int(cfg.BatchBytes)]
		b.pool.put(&batch{buf: buf, limit: int(cfg.BatchBytes) - segment.SyncReserve, done: make(chan error, 1)})
	}
	for _, d := range b.devices {
		w := newWriter(b, d, nbatches)
		b.writers = append(b.writers, w)
	}
	for _, w := range b.writers {
		b.wg.Add(1)
		go func() {
			defer b.wg.Done()
			defer close(w.exited)
			w.run()
		}()
	}
	b.wg.Add(1)
	go func() {
		defer b.wg.Done()
		b.sealStale()
	}()
	return b, nil
}

// ID is the ring buffer's id (captureBufferSlotId).
func (b *Buffer) ID() int { return b.cfg.ID }

// Config returns the configuration in use, defaults filled in.
func (b *Buffer) Config() BufferConfig { return b.cfg }

// SetRules replaces the rule list; packets after the call see the new one.
func (b *Buffer) SetRules(rs []Rule) error {
	compiled, err := compileRules(rs)
	if err != nil {
		return err
	}
	b.rules.Store(&compiled)
	b.cfg.Rules = rs
	return nil
}

// Packet records one packet (tap.Sink). It allocates nothing and never
// blocks (unless the buffer is Lossless): when the memory queue is full
// the packet is dropped and counted. A Repeat was recorded when it was
// first analysed.
func (b *Buffer) Packet(shard int, p *decode.Packet, frame []byte, m *tap.Meta) {
	if p.Repeat {
		return
	}
	n, keep := (*b.rules.Load()).apply(p, frame, m)
	if !keep {
		b.st.ignored.Add(1)
		return
	}
	orig := max(p.OrigLen, uint32(len(frame)))
	if n < len(frame) {
		b.st.truncated.Add(1)
	}
	if n > maxCapLen {
		n = maxCapLen
	}
	if int(p.Port) >= MaxPorts {
		b.drop(1, uint64(orig))
		return
	}
	b.notePort(p)
	s := b.shardState(shard)
	// No defer: this runs per packet, and the unlock is cheaper inline.
	s.mu.Lock()
	if b.closed.Load() {
		s.mu.Unlock()
		return
	}
	need := segment.MaxEPBLen(n)
	if s.cur != nil && len(s.cur.buf)+need > s.cur.limit {
		b.seal(s)
	}
	if s.cur == nil {
		bt := b.takeBatch(s)
		if bt == nil {
			s.mu.Unlock()
			b.drop(1, uint64(orig))
			return
		}
		bt.reset(s.id, s.nextDev)
		s.nextDev = (s.nextDev + 1) % len(b.devices)
		s.cur = bt
	}
	s.cur.add(p, frame[:n], orig, m)
	s.mu.Unlock()
}

// takeBatch returns a free batch of the memory queue, or nil when there
// is none. A lossless buffer waits for one (until it is closed) without
// holding s.mu, so that the other shards' open batches can be sealed and
// written meanwhile. s.mu is held.
func (b *Buffer) takeBatch(s *shardState) *batch {
	if bt := b.pool.get(); bt != nil || !b.cfg.Lossless {
		return bt
	}
	s.mu.Unlock()
	defer s.mu.Lock()
	return b.pool.wait(b.stop)
}

func (b *Buffer) drop(packets, bytes uint64) {
	b.st.dropPackets.Add(packets)
	b.st.dropped.Add(bytes)
}

// notePort remembers the link type of a port the first time it is seen.
func (b *Buffer) notePort(p *decode.Packet) {
	slot := &b.ports[p.Port]
	if slot.Load() == 0 {
		slot.CompareAndSwap(0, uint32(p.Link)+1)
	}
}

// links returns the link type of every port up to the highest seen.
func (b *Buffer) links() []decode.LinkType {
	var out []decode.LinkType
	for i := range b.ports {
		if v := b.ports[i].Load(); v != 0 {
			for len(out) < i {
				out = append(out, decode.LinkEthernet)
			}
			out = append(out, decode.LinkType(v-1))
		}
	}
	return out
}

func (b *Buffer) shardState(shard int) *shardState {
	i := shard % MaxShards
	if i < 0 {
		i += MaxShards
	}
	if s := b.shards[i].Load(); s != nil {
		return s
	}
	b.shardMu.Lock()
	defer b.shardMu.Unlock()
	if s := b.shards[i].Load(); s != nil {
		return s
	}
	s := &shardState{id: i, nextDev: i % len(b.devices)}
	b.shards[i].Store(s)
	return s
}

// seal hands the shard's open batch to its device's writer. s.mu is held.
func (b *Buffer) seal(s *shardState) {
	bt := s.cur
	s.cur = nil
	if bt == nil {
		return
	}
	if bt.packets == 0 {
		b.pool.put(bt)
		return
	}
	// Close the chunk here, on the shard's goroutine: the checksum is the
	// one pass over the data the device writer would otherwise make.
	bt.buf = segment.AppendSync(bt.buf, 0, uint32(bt.packets))
	b.st.inFlight.Add(int64(len(bt.buf)))
	// The queue holds as many items as there are batches, plus room for
	// control requests: this never blocks.
	b.writers[bt.dev].queue <- item{batch: bt}
}

// sealAll hands every open batch to the writers.
func (b *Buffer) sealAll(olderThan time.Duration) {
	now := time.Now()
	for i := range b.shards {
		s := b.shards[i].Load()
		if s == nil {
			continue
		}
		s.mu.Lock()
		if s.cur != nil && (olderThan == 0 || now.Sub(s.cur.started) >= olderThan) {
			b.seal(s)
		}
		s.mu.Unlock()
	}
}

// sealStale makes sure no packet waits in memory longer than the flush
// interval, so it is on disk and searchable soon, and samples the write
// rate.
func (b *Buffer) sealStale() {
	every := b.cfg.flushEvery()
	t := time.NewTicker(max(every/4, 10*time.Millisecond))
	defer t.Stop()
	lastBytes, lastTime := b.st.fileBytes.Load(), time.Now()
	for {
		select {
		case <-b.stop:
			return
		case now := <-t.C:
			b.sealAll(every)
			if d := now.Sub(lastTime); d >= 2*time.Second {
				cur := b.st.fileBytes.Load()
				b.st.rate.Store(uint64(float64(cur-lastBytes) / d.Seconds()))
				lastBytes, lastTime = cur, now
			}
		}
	}
}

// Flush writes every packet handed over so far and fsyncs the segment
// files: when it returns, those packets survive a crash and are
// searchable.
func (b *Buffer) Flush() error { return b.writeOut(true) }

// WriteOut writes every packet handed over so far, without waiting for
// the disk to make it durable: when it returns, they are searchable.
func (b *Buffer) WriteOut() error { return b.writeOut(false) }

func (b *Buffer) writeOut(sync bool) error {
	if b.closed.Load() {
		return ErrClosed
	}
	b.sealAll(0)
	var errs []error
	for _, w := range b.writers {
		done := make(chan error, 1)
		w.queue <- item{flush: done, sync: sync}
		select {
		case err := <-done:
			errs = append(errs, err)
		case <-w.exited:
			return ErrClosed
		}
	}
	return errors.Join(errs...)
}

// Close writes what is queued, finishes the open segments (index written,
// renamed) and stops the writers. Packets handed over after Close are
// ignored.
func (b *Buffer) Close() error {
	if b.closed.Swap(true) {
		return nil
	}
	b.sealAll(0)
	close(b.stop)
	for _, w := range b.writers {
		w.queue <- item{stop: true}
	}
	b.wg.Wait()
	var errs []error
	for _, w := range b.writers {
		w.mu.Lock()
		errs = append(errs, w.err)
		w.mu.Unlock()
	}
	return errors.Join(errs...)
}

// InFlight returns the bytes queued in memory, not yet written.
func (b *Buffer) InFlight() int64 { return b.st.inFlight.Load() }

// Stats are a ring buffer's figures.
type Stats struct {
	ID int `json:"id"`
	// Recorded packets, their captured bytes, their length on the wire,
	// and the bytes written to disk (pcapng framing and index included).
	Packets      uint64 `json:"packets"`
	Bytes        uint64 `json:"bytes"`
	WireBytes    uint64 `json:"wireBytes"`
	BytesWritten uint64 `json:"bytesWritten"`
	// BytesInFlight is queued in memory, not yet on disk.
	BytesInFlight int64 `json:"bytesInFlight"`
	// Dropped for lack of queue memory, disk space or a write error.
	DroppedPackets uint64 `json:"droppedPackets"`
	DroppedBytes   uint64 `json:"droppedBytes"`
	// IgnoredPackets were discarded by a rule; TruncatedPackets were cut.
	IgnoredPackets   uint64 `json:"ignoredPackets"`
	TruncatedPackets uint64 `json:"truncatedPackets"`
	// FlushedPackets are on disk and fsynced.
	FlushedPackets uint64 `json:"flushedPackets"`
	WriteErrors    uint64 `json:"writeErrors"`
	// Oldest and Newest are the time span the buffer covers (ns).
	Oldest int64 `json:"oldest"`
	Newest int64 `json:"newest"`
	// DiskUsage and DiskLimit over all the buffer's devices.
	DiskUsage int64 `json:"diskUsage"`
	DiskLimit int64 `json:"diskLimit"`
	Segments  int   `json:"segments"`
	// WriteRate in bytes per second over the last seconds.
	WriteRate float64 `json:"writeRate"`
}

// Stats returns the current figures.
func (b *Buffer) Stats() Stats {
	s := Stats{
		ID:               b.cfg.ID,
		Packets:          b.st.packets.Load(),
		Bytes:            b.st.bytes.Load(),
		WireBytes:        b.st.origBytes.Load(),
		BytesWritten:     b.st.fileBytes.Load(),
		BytesInFlight:    b.st.inFlight.Load(),
		DroppedPackets:   b.st.dropPackets.Load(),
		DroppedBytes:     b.st.dropped.Load(),
		IgnoredPackets:   b.st.ignored.Load(),
		TruncatedPackets: b.st.truncated.Load(),
		FlushedPackets:   b.st.durable.Load(),
		WriteErrors:      b.st.writeErrors.Load(),
		WriteRate:        float64(b.st.rate.Load()),
	}
	first := true
	for _, seg := range b.Snapshot().Segments {
		if seg.Packets == 0 {
			continue
		}
		if first || seg.MinTs < s.Oldest {
			s.Oldest = seg.MinTs
		}
		if first || seg.MaxTs > s.Newest {
			s.Newest = seg.MaxTs
		}
		first = false
	}
	for _, d := range b.devices {
		used, limit, segs := d.usage()
		s.DiskUsage += used
		s.DiskLimit += limit
		s.Segments += segs
	}
	return s
}

// dirName is where a ring buffer keeps its segments on a device.
func dirName(root string, id int) string {
	return filepath.Join(root, fmt.Sprintf("ringbuffer-%d", id))
}

func alignedAlloc(n int) []byte {
	b := make([]byte, n+segment.Align)
	off := 0
	if r := int(uintptrOf(b) % segment.Align); r != 0 {
		off = segment.Align - r
	}
	return b[off : off+n : off+n]
}

func removeIfExists(path string) error {
	if err := os.Remove(path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}
