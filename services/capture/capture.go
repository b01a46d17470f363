// Package capture brings packets into the appliance: from monitor ports
// (AF_PACKET TPACKET_V3 rings, sink or bridge mode) or from pcap/pcapng
// files. Each source runs its I/O workers and hands every packet to a
// Handler owned by that worker, which dispatches it to the analyzer shards.
package capture

import (
	"context"
	"sync/atomic"

	"github.com/multimeter-fw/multimeter/services/decode"
)

// Handler takes packets from one I/O worker. p carries Timestamp (ns),
// OrigLen, CapLen and Port; p and frame are valid only during the call, and
// Handle must not block (it counts what it cannot queue).
type Handler interface {
	Handle(p *decode.Packet, link decode.LinkType, frame []byte)
	// Flush is called when the worker is idle or about to stop, so that
	// partly filled batches do not wait.
	Flush()
}

// Source is a packet source. Run starts one I/O worker per queue, each with
// the Handler newHandler returns for it, and returns when ctx is cancelled
// or the source is exhausted (nil for a finished file).
type Source interface {
	Run(ctx context.Context, newHandler func(worker int) Handler) error
}

// PortInfo is what a source knows about one of its ports besides packets.
type PortInfo struct {
	Port      uint16
	Name      string // interface name or file name
	LinkUp    bool
	SpeedMbps int // 0 when unknown
	// Counters of the kernel ring: packets the kernel dropped because the
	// ring was full, and how often the queue was frozen.
	KernelDrops   uint64
	KernelFreezes uint64
	// Partner is the bridged partner port, or -1 in sink mode.
	Partner int
}

// PortReporter is implemented by sources that can describe their ports.
type PortReporter interface {
	Ports() []PortInfo
}

// Decoder is a Handler that only decodes every packet and counts the
// frames it cannot: the least an I/O worker feeding analysis does, for
// tools that measure or watch capture alone.
type Decoder struct {
	p      decode.Packet
	Errors *atomic.Uint64 // shared by a source's workers
}

func (d *Decoder) Handle(p *decode.Packet, link decode.LinkType, frame []byte) {
	d.p = *p
	if decode.Decode(&d.p, link, frame) != nil {
		d.Errors.Add(1)
	}
}

func (d *Decoder) Flush() {}
