package ringbuf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/multimeter-fw/multimeter/services/atomicfile"
	"github.com/multimeter-fw/multimeter/services/ringbuf/index"
	"github.com/multimeter-fw/multimeter/services/ringbuf/segment"
)

// syncEvery is how often written data is fsynced: what a crash can lose.
const syncEvery = time.Second

// ioDepth is how many chunk writes of a device are in flight at once.
// With one, the device idles from the end of each write until the writer
// goroutine is scheduled again and issues the next, and the analysis keeps
// the cores busy; with two, the next write is already queued.
const ioDepth = 2

// liveSeg is a segment being written: one lane (shard) on one device.
type liveSeg struct {
	seq      uint64
	shard    int
	part     string // file name while written
	data     string // file name when finished
	idx      string
	f        *os.File
	direct   bool
	size     int64 // bytes written
	reserved int64 // bytes reserved on the device
	links    int   // interfaces described
	builder  *index.Builder
	firstTs  int64
	opened   time.Time
	packets  uint64
	unsynced uint64     // packets written since the last fsync
	written  int64      // bytes handed to write-back (buffered mode)
	wbMu     sync.Mutex // guards written: chunk writes run concurrently

	// A chunk write failed: the indexer keeps the file up to cut (the
	// failed chunk's offset) and drops the chunks after it; the writer
	// finishes the segment when it sees failed.
	failed atomic.Bool
	cut    int64 // set by the indexer
}

// writer writes one device's batches; it owns that device's live
// segments. It places each batch in its segment and hands the write to
// ioDepth I/O goroutines (ioLoop); indexing runs in another goroutine
// (indexLoop), in file order, once each write has completed.
type writer struct {
	b       *Buffer
	d       *device
	queue   chan item
	ios     chan ioJob    // chunk writes, to the I/O goroutines
	slots   chan struct{} // a token per chunk write in flight
	jobs    chan indexJob
	lanes   map[int]*liveSeg // written by run
	scratch []byte           // aligned, for header chunks
	mu      sync.Mutex       // guards err
	err     error            // first write error, reported by Close
	exited  chan struct{}    // closed when run returns
}

// ioJob is one chunk write: a batch placed in its segment (at bt.off).
type ioJob struct {
	l  *liveSeg
	bt *batch
}

// indexJob is work for the indexer, done in order: index a batch once it
// is written (and return it to the pool), finish a segment, or signal
// done.
type indexJob struct {
	l      *liveSeg
	bt     *batch
	finish bool
	done   chan struct{}
}

func newWriter(b *Buffer, d *device, batches int) *writer {
	return &writer{b: b, d: d, queue: make(chan item, batches+MaxShards+8), jobs: make(chan indexJob, batches+MaxShards+8),
		ios: make(chan ioJob, ioDepth), slots: make(chan struct{}, ioDepth),
		lanes: map[int]*liveSeg{}, scratch: alignedAlloc(1 << 20), exited: make(chan struct{})}
}

// indexLoop indexes written batches and finishes segments.
func (w *writer) indexLoop() {
	for j := range w.jobs {
		switch {
		case j.bt != nil:
			w.indexWritten(j.l, j.bt)
		case j.finish:
			w.finishNow(j.l)
		case j.done != nil:
			close(j.done)
		}
	}
}

// ioLoop writes chunks.
func (w *writer) ioLoop() {
	for j := range w.ios {
		j.bt.done <- w.writeAt(j.l, j.bt.buf, j.bt.off)
		<-w.slots
	}
}

// drain waits until no chunk write is in flight.
func (w *writer) drain() {
	for range ioDepth {
		w.slots <- struct{}{}
	}
	for range ioDepth {
		<-w.slots
	}
}

// indexWritten waits for a batch's write, indexes its packets and counts
// them, and returns the batch to the pool. After a failed write, the
// segment ends before the failed chunk: the chunks after it are dropped
// even if their writes succeeded.
func (w *writer) indexWritten(l *liveSeg, bt *batch) {
	b := w.b
	err := <-bt.done
	if err != nil && !l.failed.Load() {
		w.fail("write segment", err)
		l.cut = bt.off
		l.failed.Store(true)
	}
	if l.failed.Load() {
		b.drop(uint64(bt.packets), bt.orig)
	} else {
		l.builder.Add(bt.entries)
		b.st.packets.Add(uint64(bt.packets))
		b.st.bytes.Add(bt.bytes)
		b.st.origBytes.Add(bt.orig)
		b.st.fileBytes.Add(uint64(len(bt.buf)))
	}
	w.release(bt)
}

// release returns a batch to the pool.
func (w *writer) release(bt *batch) {
	w.b.st.inFlight.Add(-int64(len(bt.buf)))
	w.b.pool.put(bt)
}

// indexed waits until the indexer has done everything queued before.
func (w *writer) indexed() {
	done := make(chan struct{})
	w.jobs <- indexJob{done: done}
	<-done
}

func (w *writer) run() {
	t := time.NewTicker(syncEvery)
	defer t.Stop()
	var workers sync.WaitGroup
	workers.Add(1 + ioDepth)
	go func() {
		defer workers.Done()
		w.indexLoop()
	}()
	for range ioDepth {
		go func() {
			defer workers.Done()
			w.ioLoop()
		}()
	}
	for {
		select {
		case it := <-w.queue:
			switch {
			case it.batch != nil:
				w.write(it.batch)
			case it.flush != nil && it.sync:
				err := w.syncAll()
				w.indexed()
				it.flush <- err
			case it.flush != nil:
				w.indexed()
				it.flush <- nil
			case it.stop:
				for _, l := range w.lanes {
					w.finish(l)
				}
				close(w.ios)
				close(w.jobs)
				workers.Wait()
				return
			}
		case <-t.C:
			w.syncAll()
			span := w.b.cfg.segmentSpan()
			for _, l := range w.lanes {
				if l.packets > 0 && time.Since(l.opened) >= span {
					w.finish(l)
				}
			}
		}
	}
}

func (w *writer) fail(op string, err error) {
	w.b.st.writeErrors.Add(1)
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = fmt.Errorf("ringbuf: %s: %w", op, err)
		w.b.log.Error("ring buffer write failed", "op", op, "err", err)
	}
}

// write places a batch at the end of its lane's segment, rotating first
// if needed, and queues its write and then its indexing.
func (w *writer) write(bt *batch) {
	b := w.b
	queued := false
	defer func() {
		if !queued {
			w.release(bt)
		}
	}()
	l := w.lanes[bt.shard]
	if l != nil && l.failed.Load() {
		w.finish(l)
		l = nil
	}
	if l != nil && l.packets > 0 && (l.size+int64(len(bt.buf))+segment.SyncReserve > b.cfg.SegmentBytes ||
		bt.lastTs-l.firstTs >= int64(b.cfg.segmentSpan())) {
		w.finish(l)
		l = nil
	}
	if l == nil {
		var err error
		if l, err = w.open(bt.shard); err != nil {
			w.fail("open segment", err)
			b.drop(uint64(bt.packets), bt.orig)
			return
		}
	}
	if bt.maxPort >= l.links {
		if err := w.describePorts(l); err != nil {
			w.fail("write interface descriptions", err)
			b.drop(uint64(bt.packets), bt.orig)
			return
		}
	}
	chunk := bt.buf // sealed: ends with its sync block
	need := int64(len(chunk))
	if !w.reserve(l, need) {
		b.drop(uint64(bt.packets), bt.orig)
		return
	}
	bt.off = l.size
	for i := range bt.entries {
		bt.entries[i].Offset += uint64(bt.off)
	}
	if l.packets == 0 {
		l.firstTs = bt.entries[0].Timestamp
	}
	l.size += need
	l.packets += uint64(bt.packets)
	l.unsynced += uint64(bt.packets)
	w.slots <- struct{}{} // wait while ioDepth writes are in flight
	w.ios <- ioJob{l: l, bt: bt}
	w.jobs <- indexJob{l: l, bt: bt}
	queued = true
}

// reserve makes room for n more bytes of l on the device.
func (w *writer) reserve(l *liveSeg, n int64) bool {
	if l.size+n <= l.reserved {
		return true
	}
	grow := max(n, int64(w.b.cfg.BatchBytes)*4)
	if !w.d.makeRoom(grow) {
		// Segments the indexer is finishing cannot be deleted yet: let it
		// catalogue them, then try again.
		w.indexed()
		if !w.d.makeRoom(n) {
			return false
		}
		grow = n
	}
	l.reserved += grow
	return true
}

// writeAt writes chunk at offset off of l's file.
func (w *writer) writeAt(l *liveSeg, chunk []byte, off int64) error {
	if _, err := l.f.WriteAt(chunk, off); err != nil {
		return err
	}
	if !l.direct {
		// Start write-back now rather than when the page cache fills, and
		// drop what is on disk from the cache: recording streams, and reads
		// of old data should not be evicted by it.
		fd := int(l.f.Fd())
		unix.SyncFileRange(fd, off, int64(len(chunk)), unix.SYNC_FILE_RANGE_WRITE)
		const lag = 8 << 20
		l.wbMu.Lock()
		defer l.wbMu.Unlock()
		if done := off + int64(len(chunk)) - lag; done > l.written {
			unix.SyncFileRange(fd, l.written, done-l.written,
				unix.SYNC_FILE_RANGE_WAIT_BEFORE|unix.SYNC_FILE_RANGE_WRITE|unix.SYNC_FILE_RANGE_WAIT_AFTER)
			unix.Fadvise(fd, l.written, done-l.written, unix.FADV_DONTNEED)
			l.written = done
		}
	}
	return nil
}

// open starts a new segment for a shard: section header, interface
// descriptions, first sync block.
func (w *writer) open(shard int) (*liveSeg, error) {
	d := w.d
	d.mu.Lock()
	seq := d.nextSeq
	d.nextSeq++
	d.mu.Unlock()
	base := filepath.Join(d.dir, segBase(seq, shard))
	l := &liveSeg{seq: seq, shard: shard, part: base + extPart, data: base + extData, idx: base + extIdx, opened: time.Now()}
	flags := os.O_CREATE | os.O_EXCL | os.O_RDWR
	var err error
	if w.b.cfg.IO == IODirect {
		l.f, err = os.OpenFile(l.part, flags|syscall.O_DIRECT, 0o640)
		if errors.Is(err, syscall.EINVAL) {
			w.b.log.Warn("O_DIRECT not supported, writing through the page cache", "dir", d.dir)
			w.b.cfg.IO = IOBuffered
		} else {
			l.direct = true
		}
	}
	if l.f == nil {
		l.direct = false
		if l.f, err = os.OpenFile(l.part, flags, 0o640); err != nil {
			return nil, err
		}
	}
	links := w.b.links()
	hdr := segment.AppendSHB(w.scratch[:0])
	for i, lt := range links {
		hdr = segment.AppendIDB(hdr, lt, fmt.Sprintf("port%d", i))
	}
	hdr = segment.AppendSync(hdr, 0, 0)
	if !w.reserve(l, int64(len(hdr))) {
		l.f.Close()
		os.Remove(l.part)
		return nil, errors.New("storage device full")
	}
	if err := w.writeAt(l, hdr, l.size); err != nil {
		l.f.Close()
		os.Remove(l.part)
		d.release(l.reserved)
		return nil, err
	}
	l.size = int64(len(hdr))
	l.links = len(links)
	l.builder = index.NewBuilder(links)
	w.lanes[shard] = l
	d.mu.Lock()
	d.live[seq] = l
	d.mu.Unlock()
	return l, nil
}

// describePorts writes interface descriptions for ports that appeared
// since the segment began.
func (w *writer) describePorts(l *liveSeg) error {
	links := w.b.links()
	hdr := w.scratch[:0]
	for i := l.links; i < len(links); i++ {
		hdr = segment.AppendIDB(hdr, links[i], fmt.Sprintf("port%d", i))
	}
	hdr = segment.AppendSync(hdr, 0, 0)
	if !w.reserve(l, int64(len(hdr))) {
		return errors.New("storage device full")
	}
	if err := w.writeAt(l, hdr, l.size); err != nil {
		return err
	}
	l.size += int64(len(hdr))
	l.links = len(links)
	// Interfaces are only appended: the indexer may read the longer list
	// before it indexes a packet of a new port, never after.
	l.builder.SetLinks(links)
	return nil
}

// syncAll fsyncs every live segment with unsynced data, once the writes
// in flight have completed.
func (w *writer) syncAll() error {
	w.drain()
	var errs []error
	for _, l := range w.lanes {
		if l.unsynced == 0 {
			continue
		}
		if err := unix.Fdatasync(int(l.f.Fd())); err != nil {
			w.fail("fsync segment", err)
			errs = append(errs, err)
			continue
		}
		w.b.st.durable.Add(l.unsynced)
		l.unsynced = 0
	}
	return errors.Join(errs...)
}

// finish hands a segment to the indexer to be finished once its batches
// are indexed; the writer goes on with other segments meanwhile.
func (w *writer) finish(l *liveSeg) {
	delete(w.lanes, l.shard)
	w.jobs <- indexJob{l: l, finish: true}
}

// finishNow closes a segment: fsync, index written atomically, renamed to
// its final name, catalogued.
func (w *writer) finishNow(l *liveSeg) {
	d := w.d
	var err error
	if l.failed.Load() {
		// End the file after its last good chunk (every write of the
		// segment has completed: its batches were indexed before).
		l.size = l.cut
		err = os.Truncate(l.part, l.cut)
	}
	err = errors.Join(err, unix.Fdatasync(int(l.f.Fd())))
	if err == nil {
		w.b.st.durable.Add(l.unsynced)
		l.unsynced = 0
	}
	err = errors.Join(err, l.f.Close())
	var si *segInfo
	if err == nil && l.builder.Packets() > 0 {
		si, err = w.publish(l)
	}
	d.mu.Lock()
	delete(d.live, l.seq)
	d.used -= l.reserved
	if si != nil {
		d.segs = append(d.segs, si)
		d.used += si.size
	}
	d.mu.Unlock()
	if err != nil {
		w.fail("finish segment", err)
	}
	if si == nil {
		os.Remove(l.part)
	}
}

// publish writes the index of a written segment and gives the segment its
// final name.
func (w *writer) publish(l *liveSeg) (*segInfo, error) {
	data := l.builder.Encode(uint64(l.size))
	if err := atomicfile.WriteFile(l.idx, data, 0o640); err != nil {
		return nil, err
	}
	x, err := index.Open(data)
	if err != nil {
		return nil, err
	}
	if err := os.Rename(l.part, l.data); err != nil {
		return nil, err
	}
	if err := atomicfile.SyncDir(w.d.dir); err != nil {
		return nil, err
	}
	return &segInfo{seq: l.seq, shard: l.shard, data: l.data, idx: l.idx, hdr: x.Header, size: l.size + int64(len(data))}, nil
}
