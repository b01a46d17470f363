package ringbuf

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"golang.org/x/sys/unix"

	"github.com/multimeter-fw/multimeter/services/atomicfile"
	"github.com/multimeter-fw/multimeter/services/ringbuf/index"
	"github.com/multimeter-fw/multimeter/services/ringbuf/segment"
)

// syncEvery is how often written data is fsynced: what a crash can lose.
const syncEvery = time.Second

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
	unsynced uint64 // packets written since the last fsync
	written  int64  // bytes handed to write-back (buffered mode)
}

// writer writes one device's batches; it owns that device's live
// segments.
type writer struct {
	b       *Buffer
	d       *device
	queue   chan item
	lanes   map[int]*liveSeg
	scratch []byte // aligned, for header chunks
	err     error  // first write error, reported by Close
}

func newWriter(b *Buffer, d *device, batches int) *writer {
	return &writer{b: b, d: d, queue: make(chan item, batches+MaxShards+8),
		lanes: map[int]*liveSeg{}, scratch: alignedAlloc(1 << 20)}
}

func (w *writer) run() {
	t := time.NewTicker(syncEvery)
	defer t.Stop()
	for {
		select {
		case it := <-w.queue:
			switch {
			case it.batch != nil:
				w.write(it.batch)
			case it.flush != nil && it.sync:
				it.flush <- w.syncAll()
			case it.flush != nil:
				it.flush <- nil
			case it.stop:
				for _, l := range w.lanes {
					w.finish(l)
				}
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
	if w.err == nil {
		w.err = fmt.Errorf("ringbuf: %s: %w", op, err)
		w.b.log.Error("ring buffer write failed", "op", op, "err", err)
	}
}

// write appends a batch to its lane's segment, rotating first if needed.
func (w *writer) write(bt *batch) {
	b := w.b
	defer func() {
		b.st.inFlight.Add(-int64(len(bt.buf)))
		b.pool <- bt
	}()
	l := w.lanes[bt.shard]
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
	n := len(bt.buf)
	chunk := segment.AppendSync(bt.buf, 0, uint32(bt.packets))
	need := int64(len(chunk))
	if !w.reserve(l, need) {
		b.drop(uint64(bt.packets), bt.orig)
		return
	}
	if err := w.writeAt(l, chunk); err != nil {
		w.fail("write segment", err)
		b.drop(uint64(bt.packets), bt.orig)
		return
	}
	for i := range bt.entries {
		bt.entries[i].Offset += uint64(l.size)
	}
	if l.packets == 0 {
		l.firstTs = bt.entries[0].Timestamp
	}
	l.size += need
	l.builder.Add(bt.entries)
	l.packets += uint64(bt.packets)
	l.unsynced += uint64(bt.packets)
	bt.buf = chunk[:n]
	b.st.packets.Add(uint64(bt.packets))
	b.st.bytes.Add(bt.bytes)
	b.st.origBytes.Add(bt.orig)
	b.st.fileBytes.Add(uint64(need))
}

// reserve makes room for n more bytes of l on the device.
func (w *writer) reserve(l *liveSeg, n int64) bool {
	if l.size+n <= l.reserved {
		return true
	}
	grow := max(n, int64(w.b.cfg.BatchBytes)*4)
	if !w.d.makeRoom(grow) {
		if !w.d.makeRoom(n) {
			return false
		}
		grow = n
	}
	l.reserved += grow
	return true
}

func (w *writer) writeAt(l *liveSeg, chunk []byte) error {
	if _, err := l.f.WriteAt(chunk, l.size); err != nil {
		return err
	}
	if !l.direct {
		// Start write-back now rather than when the page cache fills, and
		// drop what is on disk from the cache: recording streams, and reads
		// of old data should not be evicted by it.
		fd := int(l.f.Fd())
		unix.SyncFileRange(fd, l.size, int64(len(chunk)), unix.SYNC_FILE_RANGE_WRITE)
		const lag = 8 << 20
		if done := l.size + int64(len(chunk)) - lag; done > l.written {
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
	if err := w.writeAt(l, hdr); err != nil {
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
	d.live[shard] = l
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
	if err := w.writeAt(l, hdr); err != nil {
		return err
	}
	l.size += int64(len(hdr))
	l.links = len(links)
	l.builder.SetLinks(links)
	return nil
}

// syncAll fsyncs every live segment with unsynced data.
func (w *writer) syncAll() error {
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

// finish closes a segment: fsync, index written atomically, renamed to
// its final name, catalogued.
func (w *writer) finish(l *liveSeg) {
	d := w.d
	delete(w.lanes, l.shard)
	err := unix.Fdatasync(int(l.f.Fd()))
	if err == nil {
		w.b.st.durable.Add(l.unsynced)
		l.unsynced = 0
	}
	err = errors.Join(err, l.f.Close())
	var si *segInfo
	if err == nil && l.packets > 0 {
		si, err = w.publish(l)
	}
	d.mu.Lock()
	delete(d.live, l.shard)
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
