package live

import (
	"fmt"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Layout of a TPACKET_V2 transmit slot: the tpacket2_hdr, then the frame
// (a transmit slot has no sockaddr_ll in front of the data).
const (
	tpacket2HdrLen = unix.SizeofTpacket2Hdr
	txDataOff      = tpacket2HdrLen
	minTXFrameSize = 2048
)

// txRing is one worker's transmit ring towards its port's partner: frames
// are copied into slots and the kernel is kicked once per batch, so
// forwarding costs a copy per frame and a syscall per batch. Only the
// owning worker uses it.
type txRing struct {
	fd        int
	mem       []byte
	frameSize int
	frames    int // a power of two
	maxFrame  int // largest frame the partner transmits: MTU, Ethernet header, one VLAN tag
	next      int // slot written next
	pending   int // slots marked for sending since the last kick
}

// openTX opens a transmit ring of about frames slots on the interface with
// index ifindex and MTU mtu.
func openTX(ifindex, mtu, frames int) (_ *txRing, err error) {
	// Protocol 0: this socket only transmits.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("socket AF_PACKET: %w", err)
	}
	t := &txRing{fd: fd, maxFrame: mtu + ethHeaderLen + vlanTagLen}
	defer func() {
		if err != nil {
			t.close()
		}
	}()
	t.frameSize = minTXFrameSize
	for t.frameSize < txDataOff+t.maxFrame {
		t.frameSize *= 2
	}
	blockSize := max(t.frameSize, unix.Getpagesize())
	blocks := max(1, frames*t.frameSize/blockSize)
	t.frames = blocks * blockSize / t.frameSize
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V2); err != nil {
		return nil, fmt.Errorf("setsockopt PACKET_VERSION TPACKET_V2: %w", err)
	}
	// A frame the device refuses is skipped instead of stopping the ring.
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_LOSS, 1); err != nil {
		return nil, fmt.Errorf("setsockopt PACKET_LOSS: %w", err)
	}
	req := unix.TpacketReq{
		Block_size: uint32(blockSize),
		Block_nr:   uint32(blocks),
		Frame_size: uint32(t.frameSize),
		Frame_nr:   uint32(t.frames),
	}
	if err := unix.SetsockoptTpacketReq(fd, unix.SOL_PACKET, unix.PACKET_TX_RING, &req); err != nil {
		return nil, fmt.Errorf("setsockopt PACKET_TX_RING (%d frames of %d bytes): %w", t.frames, t.frameSize, err)
	}
	t.mem, err = unix.Mmap(fd, 0, blockSize*blocks, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, fmt.Errorf("mmap TX ring: %w", err)
	}
	// Frames in flight are charged to the socket until the device
	// completes them; the default buffer would cap them far below the
	// ring's size.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_SNDBUFFORCE, blockSize*blocks); err != nil {
		return nil, fmt.Errorf("setsockopt SO_SNDBUFFORCE: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrLinklayer{Ifindex: ifindex}); err != nil {
		return nil, fmt.Errorf("bind AF_PACKET TX to ifindex %d: %w", ifindex, err)
	}
	return t, nil
}

func (t *txRing) slot(i int) (*unix.Tpacket2Hdr, []byte) {
	s := t.mem[i*t.frameSize : (i+1)*t.frameSize]
	return (*unix.Tpacket2Hdr)(unsafe.Pointer(&s[0])), s
}

// queue copies frame into the next free slot. It reports false when the
// frame cannot be sent: the ring is full (the partner does not keep up) or
// the frame does not fit the partner's MTU.
func (t *txRing) queue(frame []byte) bool {
	if len(frame) < ethHeaderLen || len(frame) > t.maxFrame {
		return false
	}
	h, s := t.slot(t.next)
	if atomic.LoadUint32(&h.Status) != unix.TP_STATUS_AVAILABLE {
		return false
	}
	copy(s[txDataOff:], frame)
	h.Len = uint32(len(frame))
	atomic.StoreUint32(&h.Status, unix.TP_STATUS_SEND_REQUEST)
	t.next = (t.next + 1) & (t.frames - 1)
	t.pending++
	return true
}

// kickAt is how many queued frames trigger a kick before the end of a
// batch, so that a large receive block does not fill the transmit ring.
func (t *txRing) kickAt() int { return max(1, t.frames/4) }

// kick makes the kernel transmit every queued frame. It does not wait for
// the device: slots come back as the device completes them. When the
// device or the socket buffer is full, the frames stay queued and go out
// with the next kick.
func (t *txRing) kick() error {
	if t.pending == 0 {
		return nil
	}
	for {
		err := unix.Sendto(t.fd, nil, unix.MSG_DONTWAIT, nil)
		switch err {
		case unix.EINTR:
			continue
		case nil:
			t.pending = 0
			return nil
		case unix.EAGAIN:
			return nil
		}
		return fmt.Errorf("send on TX ring: %w", err)
	}
}

func (t *txRing) close() {
	if t.mem != nil {
		unix.Munmap(t.mem)
		t.mem = nil
	}
	if t.fd >= 0 {
		unix.Close(t.fd)
		t.fd = -1
	}
}
