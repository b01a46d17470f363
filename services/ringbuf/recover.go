package ringbuf

import (
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/multimeter-fw/multimeter/services/atomicfile"
	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/l7proto"
	"github.com/multimeter-fw/multimeter/services/ringbuf/index"
	"github.com/multimeter-fw/multimeter/services/ringbuf/segment"
	"github.com/multimeter-fw/multimeter/services/tap"
)

// recoverPart finishes a segment whose writer stopped without finishing
// it (a crash or power loss): it keeps every chunk whose checksum holds,
// cuts the rest, rebuilds the index from the packets and renames it.
func (d *device) recoverPart(seq uint64, shard int) error {
	base := filepath.Join(d.dir, segBase(seq, shard))
	part := base + extPart
	b, end, err := rebuildIndex(part)
	if err != nil {
		return err
	}
	if b.Packets() == 0 {
		d.log.Info("removing empty interrupted segment", "segment", part)
		return errors.Join(removeIfExists(part), removeIfExists(base+extIdx))
	}
	if err := os.Truncate(part, end); err != nil {
		return fmt.Errorf("ringbuf: recover %s: %w", part, err)
	}
	f, err := os.OpenFile(part, os.O_RDWR, 0)
	if err != nil {
		return fmt.Errorf("ringbuf: recover %s: %w", part, err)
	}
	err = errors.Join(f.Sync(), f.Close())
	if err == nil {
		err = atomicfile.WriteFile(base+extIdx, b.Encode(uint64(end)), 0o640)
	}
	if err == nil {
		err = os.Rename(part, base+extData)
	}
	if err == nil {
		err = atomicfile.SyncDir(d.dir)
	}
	if err != nil {
		return fmt.Errorf("ringbuf: recover %s: %w", part, err)
	}
	d.log.Info("recovered interrupted segment", "segment", base+extData, "packets", b.Packets(), "bytes", end)
	return nil
}

// reindex rebuilds a finished segment's lost or damaged index.
func (d *device) reindex(seq uint64, shard int) error {
	base := filepath.Join(d.dir, segBase(seq, shard))
	b, end, err := rebuildIndex(base + extData)
	if err != nil {
		return err
	}
	if err := atomicfile.WriteFile(base+extIdx, b.Encode(uint64(end)), 0o640); err != nil {
		return fmt.Errorf("ringbuf: reindex %s: %w", base, err)
	}
	return nil
}

// rebuildIndex indexes a segment file from its packets; end is where its
// last good chunk ends.
func rebuildIndex(path string) (*index.Builder, int64, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, fmt.Errorf("ringbuf: open %s: %w", path, err)
	}
	defer f.Close()
	s := segment.NewScanner(f)
	var links []decode.LinkType
	b := index.NewBuilder(nil)
	var entries []index.Entry
	var p decode.Packet
	for {
		c, err := s.Next()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			// A torn or damaged tail: keep what checks out.
			break
		}
		entries = entries[:0]
		for pos := 0; pos < len(c.Data); {
			blk, err := segment.NextBlock(c.Data[pos:])
			if err != nil {
				return nil, 0, fmt.Errorf("ringbuf: %s at %d: %w", path, c.Off+int64(pos), err)
			}
			if lt, ok := segment.ParseIDB(blk); ok {
				links = append(links, lt)
				b.SetLinks(links)
			}
			var r segment.Record
			if ok, err := segment.ParseEPB(blk, &r); err != nil {
				return nil, 0, fmt.Errorf("ringbuf: %s at %d: %w", path, c.Off+int64(pos), err)
			} else if ok {
				var link decode.LinkType = decode.LinkEthernet
				if int(r.Iface) < len(links) {
					link = links[r.Iface]
				}
				p.Timestamp, p.OrigLen, p.Port = r.Timestamp, r.OrigLen, uint16(r.Iface)
				decode.Decode(&p, link, r.Data)
				m := tap.Meta{Seq: r.Seq, App: l7proto.ID(r.App), Group: r.Group}
				var e index.Entry
				e.SetPacket(&p, &m)
				e.Offset = uint64(c.Off) + uint64(pos)
				entries = append(entries, e)
			}
			pos += blk.Len
		}
		b.Add(entries)
	}
	return b, s.Offset(), nil
}
