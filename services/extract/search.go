package extract

import (
	"container/heap"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"slices"
	"sync"

	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/filter"
	"github.com/multimeter-fw/multimeter/services/l7proto"
	"github.com/multimeter-fw/multimeter/services/ringbuf"
	"github.com/multimeter-fw/multimeter/services/ringbuf/index"
	"github.com/multimeter-fw/multimeter/services/ringbuf/segment"
	"github.com/multimeter-fw/multimeter/services/tap"
)

// Query selects packets of a ring buffer: Start <= timestamp < End (ns;
// End 0: no end) and matching Filter (nil: all).
type Query struct {
	Start, End int64
	Filter     *filter.Filter
}

// Result tells what a search did.
type Result struct {
	Packets uint64 // written out
	// Segments searched, skipped by the catalog (time range or bloom
	// filter), and deleted (buffer full) before they could be read.
	SegmentsSearched int
	SegmentsSkipped  int
	SegmentsGone     int
	// Candidates is how many packets were read from disk and checked.
	Candidates uint64
}

// Tuning of the reads.
const (
	// readers bounds concurrent reads of one search: a cold cache needs
	// many requests in flight.
	readers = 64
	// readAhead bounds read groups in flight per run.
	readAhead = 32
	// A read group spans packets at most maxGap apart, at most maxGroup
	// bytes in all.
	maxGap   = 32 << 10
	maxGroup = 4 << 20
	// maxBlock is the largest packet block (a 64 KiB frame).
	maxBlock = 65535 + 64 + 128
)

// Search streams the packets of snap that q selects to out, in timestamp
// order (ties in capture order) across segments, lanes and devices. The
// planner uses the catalog (time range, bloom filter) first, then each
// segment's time directory, then intersects the posting lists of the
// filter's index terms, most selective first, and checks the full filter
// on what remains. p is valid only during the call of out.
func Search(ctx context.Context, snap ringbuf.Snapshot, q Query, out func(p *Packet) error) (Result, error) {
	if q.End == 0 {
		q.End = 1<<63 - 1
	}
	if q.Filter == nil {
		q.Filter = filter.MustParse("")
	}
	ctx, cancel := context.WithCancel(ctx)
	s := &searcher{ctx: ctx, q: q, plan: q.Filter.Plan(), sem: make(chan struct{}, readers)}
	defer func() {
		cancel()
		s.closeAll()
	}()
	for i := range snap.Segments {
		seg := &snap.Segments[i]
		if seg.Packets == 0 || seg.MaxTs < q.Start || seg.MinTs >= q.End || (seg.Bloom != nil && !seg.Bloom.MayMatchPlan(s.plan)) {
			s.res.SegmentsSkipped++
			continue
		}
		heap.Push(&s.pending, pendingItem{minTs: max(seg.MinTs, q.Start), seg: seg})
	}
	err := s.merge(out)
	return s.res, err
}

type searcher struct {
	ctx     context.Context
	q       Query
	plan    filter.Plan
	sem     chan struct{}
	pending pendingHeap
	active  runHeap
	started []*run
	wg      sync.WaitGroup
	res     Result
	pkt     decode.Packet
}

func (s *searcher) merge(out func(p *Packet) error) error {
	for {
		for s.pending.Len() > 0 && (s.active.Len() == 0 || s.pending[0].minTs <= s.active[0].head.Timestamp) {
			it := heap.Pop(&s.pending).(pendingItem)
			if it.seg != nil {
				if err := s.openSegment(it.seg); err != nil {
					return err
				}
				continue
			}
			s.start(it.run)
			ok, err := s.next(it.run)
			if err != nil {
				return err
			}
			if ok {
				heap.Push(&s.active, it.run)
			}
		}
		if s.active.Len() == 0 {
			return nil
		}
		r := s.active[0]
		if err := out(&r.head); err != nil {
			return err
		}
		s.res.Packets++
		ok, err := s.next(r)
		if err != nil {
			return err
		}
		if ok {
			heap.Fix(&s.active, 0)
		} else {
			heap.Pop(&s.active)
		}
	}
}

// segHandle is an open segment shared by its runs.
type segHandle struct {
	seg  *ringbuf.Segment
	idx  index.Reader
	idxC io.Closer
	f    *os.File
	refs int
}

func (h *segHandle) release() {
	if h.refs--; h.refs == 0 {
		h.f.Close()
		h.idxC.Close()
	}
}

// openSegment plans one segment: time directory, then posting lists; it
// queues a run for each run of blocks that may hold matches.
func (s *searcher) openSegment(seg *ringbuf.Segment) error {
	idx, closer, err := seg.OpenIndex()
	if errors.Is(err, ringbuf.ErrGone) {
		s.res.SegmentsGone++
		return nil
	}
	if err != nil {
		return err
	}
	f, err := seg.OpenData()
	if err != nil {
		closer.Close()
		if errors.Is(err, ringbuf.ErrGone) {
			s.res.SegmentsGone++
			return nil
		}
		return err
	}
	h := &segHandle{seg: seg, idx: idx, idxC: closer, f: f, refs: 1}
	defer h.release()
	s.res.SegmentsSearched++

	// Runs of blocks overlapping the window.
	var runs [][]index.Block
	blocks := idx.Blocks()
	for i, blk := range blocks {
		if blk.RunStart || i == 0 {
			runs = append(runs, nil)
		}
		if blk.MaxTs >= s.q.Start && blk.MinTs < s.q.End {
			runs[len(runs)-1] = append(runs[len(runs)-1], blk)
		}
	}
	var lo, hi uint32 = 1<<32 - 1, 0
	for _, r := range runs {
		if len(r) > 0 {
			lo = min(lo, r[0].First)
			hi = max(hi, r[len(r)-1].First+r[len(r)-1].Count)
		}
	}
	if lo >= hi {
		return nil
	}
	var cand []uint32
	if len(s.plan) > 0 {
		if cand, err = candidates(idx, s.plan, lo, hi); err != nil {
			return fmt.Errorf("extract: %s: %w", seg.Name(), err)
		}
		if len(cand) == 0 {
			return nil
		}
	}
	for _, blks := range runs {
		if len(blks) == 0 {
			continue
		}
		r := &run{h: h, blocks: blks, all: len(s.plan) == 0, next: blocksAfter(blocks, blks)}
		if !r.all {
			first, end := blks[0].First, blks[len(blks)-1].First+blks[len(blks)-1].Count
			i, _ := slices.BinarySearch(cand, first)
			j, _ := slices.BinarySearch(cand, end)
			if i == j {
				continue
			}
			r.cand = cand[i:j]
		}
		h.refs++
		heap.Push(&s.pending, pendingItem{minTs: max(blks[0].MinTs, s.q.Start), run: r})
	}
	return nil
}

// blocksAfter maps each of blks to the offset where the next block of the
// segment starts, which bounds the last packet of a block.
func blocksAfter(all, blks []index.Block) map[uint32]uint64 {
	next := make(map[uint32]uint64, len(blks))
	for _, b := range blks {
		i, found := slices.BinarySearchFunc(all, b.First, func(x index.Block, f uint32) int { return int(x.First) - int(f) })
		if found && i+1 < len(all) {
			next[b.First] = all[i+1].Offset
		}
	}
	return next
}

// candidates intersects the plan's clauses, most selective first; each
// clause is the union of its terms' posting lists.
func candidates(idx index.Reader, plan filter.Plan, lo, hi uint32) ([]uint32, error) {
	type clause struct {
		terms filter.Clause
		cost  int
	}
	cs := make([]clause, len(plan))
	for i, c := range plan {
		cs[i].terms = c
		for _, t := range c {
			cs[i].cost += idx.Estimate(t)
		}
	}
	slices.SortStableFunc(cs, func(a, b clause) int { return a.cost - b.cost })
	var cur []uint32
	for i, c := range cs {
		var u []uint32
		for _, t := range c.terms {
			var err error
			if u, err = idx.Lookup(t, lo, hi, u); err != nil {
				return nil, err
			}
		}
		if len(c.terms) > 1 {
			slices.Sort(u)
			u = slices.Compact(u)
		}
		if i == 0 {
			cur = u
		} else {
			cur = index.Intersect(cur, u)
		}
		if len(cur) == 0 {
			return nil, nil
		}
		lo, hi = cur[0], cur[len(cur)-1]+1
	}
	return cur, nil
}

// run streams the matching packets of one run of a segment: packets in
// (timestamp, seq) order.
type run struct {
	h      *segHandle
	blocks []index.Block
	next   map[uint32]uint64 // block's first ordinal -> next block's offset
	all    bool              // no index terms: every packet is a candidate
	cand   []uint32

	cancel  context.CancelFunc
	futures chan *group
	cur     *group
	pos     int
	head    Packet
}

// group is one read: packets close together in the file.
type group struct {
	start int64
	end   int64
	offs  []int64 // packet offsets, relative to start
	buf   []byte
	err   error
	done  chan struct{}
}

// start launches the run's reader: it plans read groups and keeps up to
// readAhead of them in flight.
func (s *searcher) start(r *run) {
	ctx, cancel := context.WithCancel(s.ctx)
	r.cancel = cancel
	r.futures = make(chan *group, readAhead)
	s.started = append(s.started, r)
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		defer close(r.futures)
		var g *group
		send := func() bool {
			if g == nil {
				return true
			}
			select {
			case s.sem <- struct{}{}:
			case <-ctx.Done():
				return false
			}
			gg := g
			g = nil
			s.wg.Add(1)
			go func() {
				defer s.wg.Done()
				defer func() { <-s.sem }()
				gg.buf = make([]byte, gg.end-gg.start)
				n, err := r.h.f.ReadAt(gg.buf, gg.start)
				if errors.Is(err, io.EOF) {
					err = nil // the last packet's bound may pass the end
				}
				gg.buf, gg.err = gg.buf[:n], err
				close(gg.done)
			}()
			select {
			case r.futures <- gg:
				return true
			case <-ctx.Done():
				return false
			}
		}
		var offs []uint64
		ci := 0
		for _, blk := range r.blocks {
			var err error
			if offs, err = r.h.idx.Offsets(blk, offs[:0]); err != nil {
				g = &group{err: err, done: make(chan struct{})}
				close(g.done)
				select {
				case r.futures <- g:
				case <-ctx.Done():
				}
				return
			}
			for k, off := range offs {
				ord := blk.First + uint32(k)
				if !r.all {
					if ci >= len(r.cand) {
						break
					}
					if r.cand[ci] != ord {
						continue
					}
					ci++
				}
				end := uint64(off) + maxBlock
				if k+1 < len(offs) {
					end = offs[k+1]
				} else if n, ok := r.next[blk.First]; ok {
					end = n
				}
				if g != nil && (int64(off)-g.end > maxGap || int64(end)-g.start > maxGroup) {
					if !send() {
						return
					}
				}
				if g == nil {
					g = &group{start: int64(off), done: make(chan struct{})}
				}
				g.offs = append(g.offs, int64(off)-g.start)
				g.end = max(g.end, int64(end))
			}
		}
		send()
	}()
}

// next advances r to its next matching packet.
func (s *searcher) next(r *run) (bool, error) {
	for {
		if r.cur == nil || r.pos == len(r.cur.offs) {
			var ok bool
			select {
			case r.cur, ok = <-r.futures:
			case <-s.ctx.Done():
				return false, s.ctx.Err()
			}
			if !ok {
				r.finish()
				return false, nil
			}
			<-r.cur.done
			if r.cur.err != nil {
				return false, fmt.Errorf("extract: read %s: %w", r.h.seg.Name(), r.cur.err)
			}
			r.pos = 0
		}
		off := r.cur.offs[r.pos]
		r.pos++
		s.res.Candidates++
		if off >= int64(len(r.cur.buf)) {
			return false, fmt.Errorf("extract: %s: packet at %d beyond the file", r.h.seg.Name(), r.cur.start+off)
		}
		blk, err := segment.NextBlock(r.cur.buf[off:])
		var rec segment.Record
		if err == nil {
			var ok bool
			if ok, err = segment.ParseEPB(blk, &rec); err == nil && !ok {
				err = errors.New("not a packet block")
			}
		}
		if err != nil {
			return false, fmt.Errorf("extract: %s: packet at %d: %w", r.h.seg.Name(), r.cur.start+off, err)
		}
		if rec.Timestamp < s.q.Start || rec.Timestamp >= s.q.End {
			continue
		}
		link := r.h.idx.Link(rec.Iface)
		if !s.q.Filter.MatchAll() {
			p := &s.pkt
			p.Timestamp, p.OrigLen, p.Port = rec.Timestamp, rec.OrigLen, uint16(rec.Iface)
			decode.Decode(p, link, rec.Data)
			m := tap.Meta{Seq: rec.Seq, App: l7proto.ID(rec.App), Group: rec.Group}
			if !s.q.Filter.Match(p, &m) {
				continue
			}
		}
		r.head = Packet{Timestamp: rec.Timestamp, Iface: rec.Iface, Link: link, OrigLen: rec.OrigLen, Data: rec.Data, Seq: rec.Seq}
		return true, nil
	}
}

// finish releases the run's share of its segment once.
func (r *run) finish() {
	if r.h != nil {
		r.h.release()
		r.h = nil
	}
}

// closeAll stops every reader and releases every segment.
func (s *searcher) closeAll() {
	for _, r := range s.started {
		r.cancel()
	}
	s.wg.Wait()
	for _, r := range s.started {
		for g := range r.futures {
			<-g.done
		}
		r.finish()
	}
	for _, it := range s.pending {
		if it.run != nil {
			it.run.finish()
		}
	}
}

// pendingItem is a segment to plan or a run to start, keyed by the
// earliest timestamp it can hold.
type pendingItem struct {
	minTs int64
	seg   *ringbuf.Segment
	run   *run
}

type pendingHeap []pendingItem

func (h pendingHeap) Len() int           { return len(h) }
func (h pendingHeap) Less(i, j int) bool { return h[i].minTs < h[j].minTs }
func (h pendingHeap) Swap(i, j int)      { h[i], h[j] = h[j], h[i] }
func (h *pendingHeap) Push(x any)        { *h = append(*h, x.(pendingItem)) }
func (h *pendingHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}

// runHeap orders active runs by their head packet.
type runHeap []*run

func (h runHeap) Len() int { return len(h) }
func (h runHeap) Less(i, j int) bool {
	a, b := &h[i].head, &h[j].head
	return a.Timestamp < b.Timestamp || a.Timestamp == b.Timestamp && a.Seq < b.Seq
}
func (h runHeap) Swap(i, j int) { h[i], h[j] = h[j], h[i] }
func (h *runHeap) Push(x any)   { *h = append(*h, x.(*run)) }
func (h *runHeap) Pop() any {
	old := *h
	x := old[len(old)-1]
	*h = old[:len(old)-1]
	return x
}
