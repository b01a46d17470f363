package live

import (
	"encoding/binary"
	"fmt"
	"log/slog"
	"sync/atomic"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/multimeter-fw/multimeter/services/capture"
	"github.com/multimeter-fw/multimeter/services/decode"
)

// workerCounters are one worker's own counts, updated once per block.
type workerCounters struct {
	packets      atomic.Uint64 // handed to the Handler
	bytes        atomic.Uint64 // their original lengths
	forwarded    atomic.Uint64 // queued for transmission on the partner
	forwardDrops atomic.Uint64 // not forwarded: TX ring full or frame too large
	txErrors     atomic.Uint64 // failed kicks of the TX ring
	busyNanos    atomic.Int64  // time spent on blocks
}

// worker reads one ring and hands its packets to one Handler.
type worker struct {
	mode    *atomic.Int32
	stop    *atomic.Bool
	portIdx uint16
	link    decode.LinkType
	rx      *rxRing
	tx      *txRing // nil when the port has no partner
	h       capture.Handler
	c       *workerCounters
	log     *slog.Logger

	pkt     decode.Packet
	pollFDs [2]unix.PollFd // the ring, the stop eventfd
	idle    bool           // Flush was called and nothing arrived since
	txErr   bool           // a TX error was logged during this run
}

// run processes blocks until the source stops it.
func (w *worker) run() error {
	for {
		blk := w.rx.block(w.rx.next)
		bh := blockHeader(blk)
		if !ready(bh) {
			if !w.idle {
				w.h.Flush()
				w.idle = true
			}
			if w.tx != nil {
				w.kick() // frames a full device queue held back
			}
			stopped, err := w.wait()
			if err != nil || stopped {
				return err
			}
			continue
		}
		w.idle = false
		start := time.Now()
		w.process(blk, bh)
		release(bh)
		w.c.busyNanos.Add(int64(time.Since(start)))
		w.rx.next = (w.rx.next + 1) % w.rx.blocks
		if w.stop.Load() {
			w.h.Flush()
			return nil
		}
	}
}

// wait blocks until the ring has data or the stop eventfd is signalled.
func (w *worker) wait() (stopped bool, err error) {
	for {
		w.pollFDs[0].Revents, w.pollFDs[1].Revents = 0, 0
		_, err := unix.Poll(w.pollFDs[:], -1)
		if err == unix.EINTR {
			continue
		}
		if err != nil {
			return false, fmt.Errorf("poll RX ring: %w", err)
		}
		if w.pollFDs[1].Revents != 0 {
			return true, nil
		}
		if w.pollFDs[0].Revents&unix.POLLERR != 0 {
			// The interface went down: the error is logged (reading it
			// clears it) and the ring resumes when the link is back.
			if soErr, err := unix.GetsockoptInt(w.rx.fd, unix.SOL_SOCKET, unix.SO_ERROR); err == nil && soErr != 0 {
				w.log.Warn("monitor port error", "port", w.portIdx, "err", unix.Errno(soErr))
			}
		}
		return false, nil
	}
}

// process hands every packet of a block to the Handler, after forwarding
// them all in bridge mode so that forwarding never waits on analysis.
func (w *worker) process(blk []byte, bh *unix.TpacketHdrV1) {
	n, first := int(bh.Num_pkts), int(bh.Offset_to_first_pkt)
	if w.tx != nil && Mode(w.mode.Load()) == Bridge {
		w.forward(blk, n, first)
	}
	var packets, bytes uint64
	p := &w.pkt
	off := first
	for range n {
		h, frame, ok := packetAt(blk, off)
		if !ok {
			break
		}
		off += int(h.Next_offset)
		if frame == nil {
			continue
		}
		p.Timestamp = int64(h.Sec)*1e9 + int64(h.Nsec)
		p.OrigLen = h.Len
		p.CapLen = uint32(len(frame))
		p.Port = w.portIdx
		w.h.Handle(p, w.link, frame)
		packets++
		bytes += uint64(h.Len)
	}
	w.c.packets.Add(packets)
	w.c.bytes.Add(bytes)
}

// forward queues every frame of a block on the partner's TX ring.
func (w *worker) forward(blk []byte, n, first int) {
	var sent, dropped uint64
	off := first
	for range n {
		h, frame, ok := packetAt(blk, off)
		if !ok {
			break
		}
		off += int(h.Next_offset)
		if frame == nil {
			continue
		}
		if !w.tx.queue(frame) {
			dropped++
			continue
		}
		sent++
		if w.tx.pending >= w.tx.kickAt() {
			w.kick()
		}
	}
	w.kick()
	w.c.forwarded.Add(sent)
	w.c.forwardDrops.Add(dropped)
}

func (w *worker) kick() {
	if err := w.tx.kick(); err != nil {
		w.c.txErrors.Add(1)
		if !w.txErr {
			w.txErr = true
			w.log.Warn("bridge forwarding failed", "port", w.portIdx, "err", err)
		}
	}
}

// packetAt returns the packet record at off in blk and its frame, with a
// VLAN tag the kernel moved into metadata put back in place (the record is
// rewritten so a second call sees a plain frame). The frame is nil for a
// packet this host sent; ok is false when the record lies outside the
// block, which only a kernel bug could cause.
func packetAt(blk []byte, off int) (h *unix.Tpacket3Hdr, frame []byte, ok bool) {
	if off < 0 || off+tpacket3HdrLen+sockaddrLLLen > len(blk) {
		return nil, nil, false
	}
	h = (*unix.Tpacket3Hdr)(unsafe.Pointer(&blk[off]))
	mac, end := off+int(h.Mac), off+int(h.Mac)+int(h.Snaplen)
	if mac < off+tpacket3HdrLen+sockaddrLLLen || end > len(blk) {
		return nil, nil, false
	}
	if blk[off+tpacket3HdrLen+pkttypeOff] == unix.PACKET_OUTGOING {
		return h, nil, true
	}
	if h.Status&unix.TP_STATUS_VLAN_VALID != 0 && h.Snaplen >= ethAddrsLen && mac-vlanTagLen >= off+tpacket3HdrLen+sockaddrLLLen {
		tpid := uint16(unix.ETH_P_8021Q)
		if h.Status&unix.TP_STATUS_VLAN_TPID_VALID != 0 && h.Hv1.Vlan_tpid != 0 {
			tpid = h.Hv1.Vlan_tpid
		}
		mac -= vlanTagLen
		copy(blk[mac:mac+ethAddrsLen], blk[mac+vlanTagLen:])
		binary.BigEndian.PutUint16(blk[mac+ethAddrsLen:], tpid)
		binary.BigEndian.PutUint16(blk[mac+ethAddrsLen+2:], uint16(h.Hv1.Vlan_tci))
		h.Mac -= vlanTagLen
		h.Snaplen += vlanTagLen
		h.Len += vlanTagLen // tp_len did not count the stripped tag
		h.Status &^= unix.TP_STATUS_VLAN_VALID
	}
	return h, blk[mac:end], true
}

// pkttypeOff is the offset of sll_pkttype in struct sockaddr_ll.
const pkttypeOff = 10
