package ringbuf

import (
	"cmp"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"golang.org/x/sys/unix"

	"github.com/multimeter-fw/multimeter/services/ringbuf/index"
)

// device is one storage device of a ring buffer: its directory, the
// finished segments on it (the catalog), the segments being written, and
// its space limit.
type device struct {
	num     int
	dir     string
	cfg     DeviceConfig
	defPct  float64 // share when the config gives none
	log     *slog.Logger
	mu      sync.Mutex
	segs    []*segInfo          // finished, oldest first
	live    map[uint64]*liveSeg // by seq
	used    int64               // bytes of our files on the device
	nextSeq uint64
	limitAt time.Time
	limit   int64
}

// segInfo is the catalog entry of a finished segment.
type segInfo struct {
	seq   uint64
	shard int
	data  string
	idx   string
	hdr   index.Header
	size  int64 // data and index bytes
}

// File names: <seq>-s<shard>.pcapng, its index <seq>-s<shard>.idx, and
// <seq>-s<shard>.pcapng.part while it is written.
const (
	extData = ".pcapng"
	extIdx  = ".idx"
	extPart = ".pcapng.part"
)

func segBase(seq uint64, shard int) string { return fmt.Sprintf("%012d-s%03d", seq, shard) }

func parseSegName(name string) (seq uint64, shard int, ok bool) {
	base, _, _ := strings.Cut(name, ".")
	n, err := fmt.Sscanf(base, "%012d-s%03d", &seq, &shard)
	return seq, shard, err == nil && n == 2 && segBase(seq, shard) == base
}

func openDevice(dc DeviceConfig, bufID, num int, defPct float64, log *slog.Logger) (*device, error) {
	d := &device{num: num, dir: dirName(dc.Path, bufID), cfg: dc, defPct: defPct,
		log: log.With("device", dc.Path), live: map[uint64]*liveSeg{}}
	if err := os.MkdirAll(d.dir, 0o750); err != nil {
		return nil, fmt.Errorf("ringbuf: storage device %s: %w", dc.Path, err)
	}
	if err := d.load(); err != nil {
		return nil, err
	}
	return d, nil
}

// load recovers interrupted segments and builds the catalog from the
// index headers.
func (d *device) load() error {
	ents, err := os.ReadDir(d.dir)
	if err != nil {
		return fmt.Errorf("ringbuf: list %s: %w", d.dir, err)
	}
	names := map[string]bool{}
	for _, e := range ents {
		names[e.Name()] = true
	}
	for _, e := range ents {
		name := e.Name()
		seq, shard, ok := parseSegName(name)
		if !ok {
			if strings.HasPrefix(name, ".") && strings.Contains(name, ".tmp") {
				os.Remove(filepath.Join(d.dir, name)) // an index write a crash interrupted
			}
			continue
		}
		d.nextSeq = max(d.nextSeq, seq+1)
		base := segBase(seq, shard)
		switch {
		case strings.HasSuffix(name, extPart):
			if err := d.recoverPart(seq, shard); err != nil {
				return err
			}
		case strings.HasSuffix(name, extData):
			if !names[base+extIdx] {
				if err := d.reindex(seq, shard); err != nil {
					return err
				}
			}
		case strings.HasSuffix(name, extIdx):
			if !names[base+extData] && !names[base+extPart] {
				os.Remove(filepath.Join(d.dir, name)) // its data was deleted
			}
		}
	}
	// Catalog the finished segments (recovery may have added some).
	ents, err = os.ReadDir(d.dir)
	if err != nil {
		return fmt.Errorf("ringbuf: list %s: %w", d.dir, err)
	}
	for _, e := range ents {
		seq, shard, ok := parseSegName(e.Name())
		if !ok || !strings.HasSuffix(e.Name(), extData) {
			continue
		}
		si, err := d.catalog(seq, shard)
		if err != nil {
			d.log.Warn("ring buffer segment unreadable, rebuilding its index", "segment", e.Name(), "err", err)
			if err := d.reindex(seq, shard); err != nil {
				return err
			}
			if si, err = d.catalog(seq, shard); err != nil {
				return err
			}
		}
		d.segs = append(d.segs, si)
		d.used += si.size
	}
	slices.SortFunc(d.segs, func(a, b *segInfo) int { return cmp.Compare(a.seq, b.seq) })
	return nil
}

// catalog reads what the catalog keeps of a finished segment: the index
// header and bloom filter.
func (d *device) catalog(seq uint64, shard int) (*segInfo, error) {
	base := filepath.Join(d.dir, segBase(seq, shard))
	si := &segInfo{seq: seq, shard: shard, data: base + extData, idx: base + extIdx}
	f, err := os.Open(si.idx)
	if err != nil {
		return nil, fmt.Errorf("ringbuf: open index: %w", err)
	}
	defer f.Close()
	head := make([]byte, index.HeaderLen)
	if _, err := io.ReadFull(f, head); err != nil {
		return nil, fmt.Errorf("ringbuf: read index %s: %w", si.idx, err)
	}
	if si.hdr, err = index.ReadHeader(head); err != nil {
		return nil, fmt.Errorf("ringbuf: index %s: %w", si.idx, err)
	}
	off, n := index.BloomRange(head)
	bl := make([]byte, min(n, 1<<20))
	if _, err := f.ReadAt(bl, off); err != nil {
		return nil, fmt.Errorf("ringbuf: read bloom filter of %s: %w", si.idx, err)
	}
	if si.hdr.Bloom, err = index.DecodeBloom(bl); err != nil {
		return nil, fmt.Errorf("ringbuf: index %s: %w", si.idx, err)
	}
	ist, err := f.Stat()
	if err != nil {
		return nil, err
	}
	dst, err := os.Stat(si.data)
	if err != nil {
		return nil, err
	}
	if uint64(dst.Size()) < si.hdr.DataLen {
		return nil, fmt.Errorf("ringbuf: segment %s shorter than its index says", si.data)
	}
	si.size = ist.Size() + dst.Size()
	return si, nil
}

// limitBytes is the device's limit for this ring buffer: the configured
// share, and never more than the file system can still give.
func (d *device) limitBytes() int64 {
	if now := time.Now(); now.Sub(d.limitAt) >= time.Second {
		d.limitAt = now
		var st unix.Statfs_t
		if err := unix.Statfs(d.dir, &st); err != nil {
			d.log.Warn("statfs failed", "err", err)
			return d.limit
		}
		total := int64(st.Blocks) * st.Bsize
		limit := d.cfg.MaxBytes
		if limit == 0 {
			pct := d.cfg.SharePercent
			if pct == 0 {
				pct = d.defPct
			}
			limit = int64(float64(total) * pct / 100)
		}
		// Leave 1 % of the file system (at least 64 MiB) to everyone else.
		free := int64(st.Bavail)*st.Bsize - max(total/100, 64<<20)
		d.limit = min(limit, d.used+free)
	}
	return d.limit
}

// makeRoom deletes the oldest finished segments until n more bytes fit
// under the limit, and reserves them. It reports false if they cannot.
func (d *device) makeRoom(n int64) bool {
	d.mu.Lock()
	defer d.mu.Unlock()
	limit := d.limitBytes()
	for d.used+n > limit && len(d.segs) > 0 {
		old := d.segs[0]
		d.segs = d.segs[1:]
		if err := errors.Join(removeIfExists(old.idx), removeIfExists(old.data)); err != nil {
			d.log.Error("delete oldest segment", "segment", old.data, "err", err)
		}
		d.used -= old.size
	}
	if d.used+n > limit {
		return false
	}
	d.used += n
	return true
}

// release returns reserved bytes that were not written.
func (d *device) release(n int64) {
	d.mu.Lock()
	d.used -= n
	d.mu.Unlock()
}

func (d *device) usage() (used, limit int64, segs int) {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.used, d.limitBytes(), len(d.segs) + len(d.live)
}
