package ringbuf

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/multimeter-fw/multimeter/services/mmapfile"
	"github.com/multimeter-fw/multimeter/services/ringbuf/index"
)

// Segment is what a reader sees of one segment at the time of a
// Snapshot: finished segments with their catalog entry, and segments being
// written with a view of their live index.
type Segment struct {
	Device  int
	Shard   int
	Seq     uint64
	MinTs   int64 // ns
	MaxTs   int64
	Packets uint32
	// Bloom is the catalog's filter of every key (nil for live segments:
	// their index answers directly).
	Bloom *index.Bloom
	Live  bool

	data, part, idx string
	view            *index.View
}

// Snapshot is a consistent list of the segments of a ring buffer.
type Snapshot struct {
	Segments []Segment
}

// Snapshot lists the buffer's segments now. Segments deleted later (the
// buffer is full) fail to open; readers skip them.
func (b *Buffer) Snapshot() Snapshot {
	var s Snapshot
	for _, d := range b.devices {
		d.mu.Lock()
		for _, si := range d.segs {
			s.Segments = append(s.Segments, Segment{Device: d.num, Shard: si.shard, Seq: si.seq,
				MinTs: si.hdr.MinTs, MaxTs: si.hdr.MaxTs, Packets: si.hdr.Packets, Bloom: si.hdr.Bloom,
				data: si.data, idx: si.idx})
		}
		for _, l := range d.live {
			v := l.builder.View()
			seg := Segment{Device: d.num, Shard: l.shard, Seq: l.seq, Packets: v.Packets(), Live: true,
				data: l.data, part: l.part, idx: l.idx, view: v}
			seg.MinTs, seg.MaxTs = viewRange(v)
			s.Segments = append(s.Segments, seg)
		}
		d.mu.Unlock()
	}
	return s
}

func viewRange(v *index.View) (lo, hi int64) {
	for i, blk := range v.Blocks() {
		if i == 0 || blk.MinTs < lo {
			lo = blk.MinTs
		}
		if i == 0 || blk.MaxTs > hi {
			hi = blk.MaxTs
		}
	}
	return lo, hi
}

// ErrGone reports a segment deleted since the snapshot was taken.
var ErrGone = errors.New("ringbuf: segment deleted")

// OpenIndex returns the segment's index. Close the returned Closer when
// done with the Reader.
func (s *Segment) OpenIndex() (index.Reader, io.Closer, error) {
	if s.view != nil {
		return s.view, io.NopCloser(nil), nil
	}
	// Map the index: a query touches only the pages of the keys and blocks
	// it needs, which matters with a cold page cache.
	m, err := mmapfile.Open(s.idx)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil, ErrGone
	}
	if err != nil {
		return nil, nil, fmt.Errorf("ringbuf: index: %w", err)
	}
	if n := len(m.Data()); n < index.HeaderLen || n > 1<<32 {
		m.Close()
		return nil, nil, fmt.Errorf("ringbuf: index %s: size %d", s.idx, n)
	}
	x, err := index.Open(m.Data())
	if err != nil {
		m.Close()
		return nil, nil, fmt.Errorf("ringbuf: index %s: %w", s.idx, err)
	}
	return x, m, nil
}

// OpenData opens the segment's packet file for reading.
func (s *Segment) OpenData() (*os.File, error) {
	if s.part != "" {
		// Being written, or finished and renamed since the snapshot.
		if f, err := os.Open(s.part); err == nil {
			return f, nil
		}
	}
	f, err := os.Open(s.data)
	if errors.Is(err, os.ErrNotExist) {
		return nil, ErrGone
	}
	return f, err
}

// Name is the segment's file name (for messages).
func (s *Segment) Name() string { return s.data }
