package engine

import (
	"time"

	"github.com/multimeter-fw/multimeter/services/capture"
	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/flowtable"
)

// dispatcher is the capture.Handler of one I/O worker: it decodes each
// packet once, picks its shard by hash and copies it into that shard's
// batch. Full batches go to the shard's queue; when the queue is full the
// batch is dropped and counted as not processed due to overload (unless
// the source can wait, as a file can).
type dispatcher struct {
	pl      *pipeline
	worker  int
	cur     []*batch
	n       uint64 // shards
	flowLB  bool
	sec     int64 // clock: the latest second seen (packet clock)
	started bool
	seq     uint64
	// gaveUp marks shards whose full queue did not drain within
	// maxQueueWait (see waitForRoom); timer times those waits.
	gaveUp []bool
	timer  *time.Timer
}

var _ capture.Handler = (*dispatcher)(nil)

func newDispatcher(pl *pipeline, worker int) *dispatcher {
	d := &dispatcher{pl: pl, worker: worker, n: uint64(len(pl.shards)), flowLB: pl.cfg.Balance == "flow"}
	d.cur = make([]*batch, len(pl.shards))
	d.gaveUp = make([]bool, len(pl.shards))
	for i, s := range pl.shards {
		d.cur[i] = s.pool.get(nil)
		d.cur[i].reset()
	}
	return d
}

// floorSec is the Unix second of a nanosecond timestamp.
func floorSec(ns int64) int64 {
	s := ns / 1e9
	if ns < 0 && s*1e9 != ns {
		s--
	}
	return s
}

// Handle implements capture.Handler.
func (d *dispatcher) Handle(p *decode.Packet, link decode.LinkType, frame []byte) {
	if !d.pl.wall {
		if sec := floorSec(p.Timestamp); sec > d.sec || !d.started {
			if d.started {
				d.tick(sec)
			}
			d.sec, d.started = sec, true
		}
	}
	d.seq++
	seq := d.seq<<8 | uint64(d.worker)
	if d.n == 1 {
		// One shard: decode straight into its batch, one copy of the
		// packet fewer.
		b := d.room(0, len(frame))
		q := &b.pkts[b.n]
		q.Timestamp, q.OrigLen, q.Port, q.Repeat = p.Timestamp, p.OrigLen, p.Port, p.Repeat
		err := decode.Decode(q, link, frame)
		b.addFrame(frame, seq, err != nil)
		return
	}
	err := decode.Decode(p, link, frame)
	s := d.shardOf(p)
	d.room(s, len(frame)).add(p, frame, seq, err != nil)
}

// room returns shard s's batch to fill, with room for a frame of n bytes.
func (d *dispatcher) room(s, n int) *batch {
	if b := d.cur[s]; b.fits(n) {
		return b
	}
	return d.send(s)
}

// Flush implements capture.Handler: partly filled batches go out.
func (d *dispatcher) Flush() {
	for s, b := range d.cur {
		if b.n > 0 {
			d.send(s)
		}
	}
}

// tick tells every shard that the clock reached sec, with whatever its
// batch holds.
func (d *dispatcher) tick(sec int64) {
	d.sec = sec
	for s := range d.cur {
		d.send(s)
	}
}

// shardOf picks the shard: a symmetric hash of the IP pair (both
// directions meet), of the 5-tuple in flow mode, of the ARP sender (so
// one shard sees all bindings of an IP), or of the MAC pair.
func (d *dispatcher) shardOf(p *decode.Packet) int {
	if d.n == 1 {
		return 0
	}
	var h uint64
	switch {
	case p.Layers&decode.LayerARP != 0:
		h = flowtable.Hash16Bytes((*[16]byte)(&p.ARPSenderIP))
	case p.IPVersion != 0:
		h = flowtable.Hash16Bytes((*[16]byte)(&p.SrcIP)) ^ flowtable.Hash16Bytes((*[16]byte)(&p.DstIP))
		if d.flowLB && p.Frag == decode.FragNone && p.Layers&(decode.LayerTCP|decode.LayerUDP|decode.LayerSCTP) != 0 {
			h ^= flowtable.Hash64(uint64(p.SrcPort^p.DstPort) | uint64(p.Proto)<<16)
		}
	default:
		h = flowtable.Hash64(macWord(p.SrcMAC)) ^ flowtable.Hash64(macWord(p.DstMAC))
	}
	return int((h >> 32) * d.n >> 32)
}

func macWord(m decode.MAC) uint64 {
	return uint64(m[0]) | uint64(m[1])<<8 | uint64(m[2])<<16 | uint64(m[3])<<24 | uint64(m[4])<<32 | uint64(m[5])<<40
}

// maxQueueWait bounds how long a dispatcher waits for room in a full shard
// queue when the source may wait (sink mode). A shard pauses between
// batches to close a second or for the store, and catches up on the
// backlog after; the capture ring holds the frames meanwhile. A shard
// still full after this long is overloaded: the dispatcher counts its
// batches as not processed until its queue is half empty again, so one
// slow shard cannot hold back the others.
const maxQueueWait = 250 * time.Millisecond

// waitStep is how often a waiting dispatcher looks again whether its
// source may still wait: a switch to bridge mode ends the wait at once.
const waitStep = 10 * time.Millisecond

// waitForRoom queues b on shard s's full queue if the source may wait and
// the shard has not been given up on; false means b was not queued.
func (d *dispatcher) waitForRoom(s int, b *batch) bool {
	if d.pl.mayWait == nil || !d.pl.mayWait() || d.gaveUp[s] {
		return false
	}
	if d.timer == nil {
		d.timer = time.NewTimer(waitStep)
	}
	defer d.timer.Stop()
	for waited := time.Duration(0); ; waited += waitStep {
		d.timer.Reset(waitStep)
		select {
		case d.pl.shards[s].q <- b:
			return true
		case <-d.pl.stop:
			return false
		case <-d.timer.C:
		}
		if !d.pl.mayWait() {
			return false
		}
		if waited+waitStep >= maxQueueWait {
			d.gaveUp[s] = true
			return false
		}
	}
}

// send hands shard s its batch and returns the fresh one to fill.
func (d *dispatcher) send(s int) *batch {
	b := d.cur[s]
	b.clock = d.sec
	b.worker = d.worker
	sh := d.pl.shards[s]
	if d.pl.lossless {
		// A source that waits counts what it read as analysed (an
		// upload's packetsRead), also the batches it hands over while
		// stopping: the shard drains its queue until it is closed, so
		// this waits at most for one batch to be analysed.
		sh.q <- b
	} else {
		select {
		case sh.q <- b:
			if d.gaveUp[s] && len(sh.q)-1 <= cap(sh.q)/2 {
				d.gaveUp[s] = false // it found the queue half empty
			}
		default:
			if !d.waitForRoom(s, b) {
				d.pl.overload(sh, b)
				b.reset()
				return b
			}
		}
	}
	nb := sh.pool.get(d.pl.stop)
	if nb == nil {
		nb = newBatch() // shutting down: never blocks
	}
	nb.reset()
	d.cur[s] = nb
	return nb
}
