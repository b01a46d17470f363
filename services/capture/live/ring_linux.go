package live

import (
	"fmt"
	"sync"
	"sync/atomic"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Layout of a TPACKET_V3 packet record in a block: the tpacket3_hdr, then
// a sockaddr_ll, then (at tp_mac) the frame.
const (
	tpacket3HdrLen = unix.SizeofTpacket3Hdr // already TPACKET_ALIGNed
	sockaddrLLLen  = unix.SizeofSockaddrLinklayer
	blockDescOff   = 8 // tpacket_block_desc: version, offset_to_priv, then tpacket_hdr_v1
	vlanTagLen     = 4
	ethAddrsLen    = 12 // destination and source MAC
	ethHeaderLen   = 14
	// rxFrameSize only has to satisfy the kernel's arithmetic: V3 packs
	// frames of any size (up to a block) one after the other.
	rxFrameSize = 2048
)

// rxRing is one worker's receive ring: a packet socket bound to a port,
// member of the port's fanout group, with its blocks mapped into memory.
// The worker owns next; the statistics may be read from any goroutine.
type rxRing struct {
	mem       []byte
	blockSize int
	blocks    int
	next      int // block the worker reads next

	mu      sync.Mutex // guards fd against Close, and the counters below
	fd      int
	packets uint64 // cumulative PACKET_STATISTICS (the kernel resets on read)
	drops   uint64
	freezes uint64
}

// openRX opens a ring on the interface with index ifindex and joins the
// fanout group fanoutID, or creates a new group when fanoutID is negative.
// It returns the ring and its group id.
func openRX(ifindex int, cfg Config, fanoutID int) (_ *rxRing, group int, err error) {
	// Protocol 0: the socket receives nothing until bind names one, so
	// the ring can be set up first.
	fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return nil, 0, fmt.Errorf("socket AF_PACKET: %w", err)
	}
	r := &rxRing{fd: fd, blockSize: cfg.BlockSize, blocks: cfg.BlockCount}
	defer func() {
		if err != nil {
			r.close()
		}
	}()
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_VERSION, unix.TPACKET_V3); err != nil {
		return nil, 0, fmt.Errorf("setsockopt PACKET_VERSION TPACKET_V3: %w", err)
	}
	// Room in front of each frame to put back a VLAN tag the kernel
	// moved into the packet's metadata, without copying the frame.
	if err := unix.SetsockoptInt(fd, unix.SOL_PACKET, unix.PACKET_RESERVE, vlanTagLen); err != nil {
		return nil, 0, fmt.Errorf("setsockopt PACKET_RESERVE: %w", err)
	}
	// Timestamps taken when the frame enters the stack (not when it
	// reaches this socket), the same for every socket on the port.
	if err := unix.SetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_TIMESTAMPNS, 1); err != nil {
		return nil, 0, fmt.Errorf("setsockopt SO_TIMESTAMPNS: %w", err)
	}
	req := unix.TpacketReq3{
		Block_size:     uint32(cfg.BlockSize),
		Block_nr:       uint32(cfg.BlockCount),
		Frame_size:     rxFrameSize,
		Retire_blk_tov: uint32(cfg.BlockTimeout.Milliseconds()),
	}
	req.Frame_nr = req.Block_size / req.Frame_size * req.Block_nr
	if err := unix.SetsockoptTpacketReq3(fd, unix.SOL_PACKET, unix.PACKET_RX_RING, &req); err != nil {
		return nil, 0, fmt.Errorf("setsockopt PACKET_RX_RING (%d blocks of %d bytes): %w", cfg.BlockCount, cfg.BlockSize, err)
	}
	// The kernel maps its own (unswappable) pages in at once.
	r.mem, err = unix.Mmap(fd, 0, cfg.BlockSize*cfg.BlockCount, unix.PROT_READ|unix.PROT_WRITE, unix.MAP_SHARED)
	if err != nil {
		return nil, 0, fmt.Errorf("mmap RX ring: %w", err)
	}
	group, err = r.bind(ifindex, fanoutID)
	if err != nil {
		return nil, 0, err
	}
	return r, group, nil
}

// bind starts reception on ifindex in promiscuous mode and joins the
// fanout group. A drop-all filter is attached meanwhile: between bind and
// joining the group the socket would otherwise get every packet of the
// port, duplicating what the other workers of the group receive.
func (r *rxRing) bind(ifindex, fanoutID int) (group int, err error) {
	dropAll := []unix.SockFilter{{Code: 0x06}} // BPF_RET|BPF_K, K=0: keep 0 bytes
	prog := unix.SockFprog{Len: 1, Filter: &dropAll[0]}
	if err := unix.SetsockoptSockFprog(r.fd, unix.SOL_SOCKET, unix.SO_ATTACH_FILTER, &prog); err != nil {
		return 0, fmt.Errorf("setsockopt SO_ATTACH_FILTER: %w", err)
	}
	sa := unix.SockaddrLinklayer{Protocol: htons(unix.ETH_P_ALL), Ifindex: ifindex}
	if err := unix.Bind(r.fd, &sa); err != nil {
		return 0, fmt.Errorf("bind AF_PACKET to ifindex %d: %w", ifindex, err)
	}
	mreq := unix.PacketMreq{Ifindex: int32(ifindex), Type: unix.PACKET_MR_PROMISC}
	if err := unix.SetsockoptPacketMreq(r.fd, unix.SOL_PACKET, unix.PACKET_ADD_MEMBERSHIP, &mreq); err != nil {
		return 0, fmt.Errorf("setsockopt PACKET_ADD_MEMBERSHIP promiscuous: %w", err)
	}
	// Hash fanout keeps both directions of a flow on one worker; frames
	// this host transmits on the port (bridge forwarding) are not
	// received back.
	flags := unix.PACKET_FANOUT_FLAG_IGNORE_OUTGOING
	id := fanoutID
	if fanoutID < 0 {
		flags |= unix.PACKET_FANOUT_FLAG_UNIQUEID
		id = 0
	}
	if err := unix.SetsockoptInt(r.fd, unix.SOL_PACKET, unix.PACKET_FANOUT, id|(unix.PACKET_FANOUT_HASH|flags)<<16); err != nil {
		return 0, fmt.Errorf("setsockopt PACKET_FANOUT: %w", err)
	}
	v, err := unix.GetsockoptInt(r.fd, unix.SOL_PACKET, unix.PACKET_FANOUT)
	if err != nil {
		return 0, fmt.Errorf("getsockopt PACKET_FANOUT: %w", err)
	}
	if err := unix.SetsockoptInt(r.fd, unix.SOL_SOCKET, unix.SO_DETACH_FILTER, 0); err != nil {
		return 0, fmt.Errorf("setsockopt SO_DETACH_FILTER: %w", err)
	}
	return v & 0xffff, nil
}

// block returns block i of the ring.
func (r *rxRing) block(i int) []byte { return r.mem[i*r.blockSize : (i+1)*r.blockSize] }

// blockHeader returns the tpacket_hdr_v1 of a block.
func blockHeader(blk []byte) *unix.TpacketHdrV1 {
	return (*unix.TpacketHdrV1)(unsafe.Pointer(&blk[blockDescOff]))
}

// ready reports whether the kernel has handed the block to user space.
func ready(bh *unix.TpacketHdrV1) bool {
	return atomic.LoadUint32(&bh.Block_status)&unix.TP_STATUS_USER != 0
}

// release hands the block back to the kernel; nothing in it may be used
// afterwards.
func release(bh *unix.TpacketHdrV1) { atomic.StoreUint32(&bh.Block_status, unix.TP_STATUS_KERNEL) }

// ringStats are a ring's cumulative kernel counters.
type ringStats struct{ packets, drops, freezes uint64 }

// stats reads and accumulates the kernel's counters for this ring. The
// kernel's packet count includes the dropped packets.
func (r *rxRing) stats() (ringStats, error) {
	r.mu.Lock()
	defer r.mu.Unlock()
	var err error
	if r.fd >= 0 {
		var st *unix.TpacketStatsV3
		st, err = unix.GetsockoptTpacketStatsV3(r.fd, unix.SOL_PACKET, unix.PACKET_STATISTICS)
		if err == nil {
			r.packets += uint64(st.Packets)
			r.drops += uint64(st.Drops)
			r.freezes += uint64(st.Freeze_q_cnt)
		} else {
			err = fmt.Errorf("getsockopt PACKET_STATISTICS: %w", err)
		}
	}
	return ringStats{r.packets, r.drops, r.freezes}, err
}

// close releases the socket and the ring memory, keeping the counters.
func (r *rxRing) close() {
	r.stats() // keep what the kernel counted since the last read
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.mem != nil {
		unix.Munmap(r.mem)
		r.mem = nil
	}
	if r.fd >= 0 {
		unix.Close(r.fd)
		r.fd = -1
	}
}

func htons(v uint16) uint16 { return v<<8 | v>>8 }
