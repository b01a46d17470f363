package extract

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/ringbuf/segment"
)

// Packet is one packet of a capture's result. Data is valid only during
// the WritePacket call.
type Packet struct {
	Timestamp int64 // ns
	Iface     uint32
	Link      decode.LinkType
	OrigLen   uint32
	Data      []byte
	Seq       uint64
}

// PacketWriter receives a capture's packets in order.
type PacketWriter interface {
	WritePacket(p *Packet) error
	// Flush writes out what is buffered (also the file header when no
	// packet was written).
	Flush() error
}

// NewWriter returns a writer of the format (FormatPcap or FormatPcapng)
// that truncates packets to snapLen.
func NewWriter(w io.Writer, format string, snapLen int) PacketWriter {
	bw := bufio.NewWriterSize(w, 1<<20)
	if format == FormatPcapng {
		return &pcapngWriter{w: bw, snap: snapLen}
	}
	return &pcapWriter{w: bw, snap: snapLen}
}

// pcapWriter writes classic pcap with nanosecond timestamps. pcap has one
// link type per file: that of the first packet.
type pcapWriter struct {
	w      *bufio.Writer
	snap   int
	header bool
	hdr    [16]byte
}

func (pw *pcapWriter) writeHeader(link decode.LinkType) error {
	var h [24]byte
	binary.LittleEndian.PutUint32(h[0:], 0xa1b23c4d) // nanosecond magic
	binary.LittleEndian.PutUint16(h[4:], 2)
	binary.LittleEndian.PutUint16(h[6:], 4)
	binary.LittleEndian.PutUint32(h[16:], uint32(pw.snap))
	binary.LittleEndian.PutUint32(h[20:], uint32(link))
	pw.header = true
	_, err := pw.w.Write(h[:])
	return err
}

func (pw *pcapWriter) WritePacket(p *Packet) error {
	if !pw.header {
		if err := pw.writeHeader(p.Link); err != nil {
			return err
		}
	}
	data := p.Data[:min(len(p.Data), pw.snap)]
	binary.LittleEndian.PutUint32(pw.hdr[0:], uint32(p.Timestamp/1e9))
	binary.LittleEndian.PutUint32(pw.hdr[4:], uint32(p.Timestamp%1e9))
	binary.LittleEndian.PutUint32(pw.hdr[8:], uint32(len(data)))
	binary.LittleEndian.PutUint32(pw.hdr[12:], max(p.OrigLen, uint32(len(data))))
	if _, err := pw.w.Write(pw.hdr[:]); err != nil {
		return err
	}
	_, err := pw.w.Write(data)
	return err
}

func (pw *pcapWriter) Flush() error {
	if !pw.header {
		if err := pw.writeHeader(decode.LinkEthernet); err != nil {
			return err
		}
	}
	return pw.w.Flush()
}

// pcapngWriter writes pcapng with one interface per monitor port, so the
// interface id is the port, and nanosecond timestamps.
type pcapngWriter struct {
	w      *bufio.Writer
	snap   int
	header bool
	ifaces int
	buf    []byte
}

func (pw *pcapngWriter) ensure(iface uint32, link decode.LinkType) error {
	pw.buf = pw.buf[:0]
	if !pw.header {
		pw.buf = segment.AppendSHB(pw.buf)
		pw.header = true
	}
	for uint32(pw.ifaces) <= iface {
		lt := decode.LinkEthernet
		if uint32(pw.ifaces) == iface {
			lt = link
		}
		pw.buf = segment.AppendIDB(pw.buf, lt, fmt.Sprintf("port%d", pw.ifaces))
		pw.ifaces++
	}
	_, err := pw.w.Write(pw.buf)
	return err
}

func (pw *pcapngWriter) WritePacket(p *Packet) error {
	if !pw.header || p.Iface >= uint32(pw.ifaces) {
		if err := pw.ensure(p.Iface, p.Link); err != nil {
			return err
		}
	}
	data := p.Data[:min(len(p.Data), pw.snap)]
	rec := segment.Record{Iface: p.Iface, Timestamp: p.Timestamp, OrigLen: max(p.OrigLen, uint32(len(data))), Data: data, Seq: p.Seq}
	pw.buf = segment.AppendEPB(pw.buf[:0], &rec)
	_, err := pw.w.Write(pw.buf)
	return err
}

func (pw *pcapngWriter) Flush() error {
	if !pw.header {
		if err := pw.ensure(0, decode.LinkEthernet); err != nil {
			return err
		}
	}
	return pw.w.Flush()
}
