// Package pcapfile reads pcap and pcapng captures (any byte order,
// microsecond or nanosecond timestamps) into decode.Packet records, without
// allocating per packet.
//
//	r, err := pcapfile.NewReader(f)
//	var p decode.Packet
//	for {
//		frame, err := r.Next(&p) // frame is valid until the next call
//		if err == io.EOF { break }
//		...
//	}
//
// The format is detected from the magic number. pcapng files may mix link
// types between interfaces; each packet reports its own, and its pcapng
// interface id becomes the packet's Port. NewBytesReader reads a capture
// held in memory (a mapped file) without copying its records.
package pcapfile

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"math/bits"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/multimeter-fw/multimeter/services/decode"
)

// ErrFormat reports a file that is neither pcap nor pcapng.
var ErrFormat = errors.New("pcapfile: not a pcap or pcapng file")

// Reader yields the packets of one capture file.
type Reader struct {
	pcap   *pcapgo.Reader
	ng     *pcapgo.NgReader
	link   decode.LinkType
	format string

	// Classic pcap records are taken straight from the buffered reader
	// (pcapgo copies each into a buffer of its own): pcapgo reads the file
	// header, and records too long for the buffer.
	br       *bufio.Reader
	mem      []byte // the whole file, for a Reader from NewBytesReader: records are taken from it
	off      int    // where the next record starts in mem
	swapped  bool   // big-endian file: fields read little-endian are byte-swapped
	nsFactor int64  // 1000 for microsecond timestamps
	maxCap   int    // the longest record pcapgo takes
}

// recordHeader is the size of a classic pcap record header.
const recordHeader = 16

type zeroCopyReader interface {
	ZeroCopyReadPacketData() ([]byte, gopacket.CaptureInfo, error)
}

// NewReader detects the format of r and reads its header.
func NewReader(r io.Reader) (*Reader, error) {
	br := bufio.NewReaderSize(r, 1<<20)
	magic, err := br.Peek(4)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrFormat, err)
	}
	switch binary.LittleEndian.Uint32(magic) {
	case 0x0a0d0d0a: // pcapng section header block
		ng, err := pcapgo.NewNgReader(br, pcapgo.NgReaderOptions{WantMixedLinkType: true})
		if err != nil {
			return nil, fmt.Errorf("%w: pcapng: %w", ErrFormat, err)
		}
		return &Reader{ng: ng, link: decode.LinkType(ng.LinkType()), format: "pcapng"}, nil
	case 0xa1b2c3d4, 0xd4c3b2a1, 0xa1b23c4d, 0x4d3cb2a1:
		m := binary.LittleEndian.Uint32(magic)
		swapped := m == 0xd4c3b2a1 || m == 0x4d3cb2a1
		pr, err := pcapgo.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%w: pcap: %w", ErrFormat, err)
		}
		r := &Reader{pcap: pr, link: decode.LinkType(pr.LinkType()), format: "pcap",
			br: br, swapped: swapped, nsFactor: 1, maxCap: max(int(pr.Snaplen()), maxSnaplen)}
		if pr.Resolution() == gopacket.TimestampResolutionMicrosecond {
			r.nsFactor = 1000
		}
		return r, nil
	}
	return nil, ErrFormat
}

// fileHeader is the size of a classic pcap file header.
const fileHeader = 24

// NewBytesReader reads a capture held whole in memory, such as a
// memory-mapped file. Classic pcap frames are then slices of data, taken
// without copying them into a buffer first; pcapng files are read as
// NewReader reads them.
func NewBytesReader(data []byte) (*Reader, error) {
	r, err := NewReader(bytes.NewReader(data))
	if err != nil || r.br == nil {
		return r, err
	}
	r.br, r.mem, r.off = nil, data, fileHeader
	return r, nil
}

// Format is "pcap" or "pcapng".
func (r *Reader) Format() string { return r.format }

// LinkType is the link type of the file (of the first interface for pcapng).
func (r *Reader) LinkType() decode.LinkType { return r.link }

// Next reads the next packet: it sets p's Timestamp, OrigLen, CapLen and
// Port and returns the frame and its link type. The frame is valid until
// the next call. At the end of the file it returns io.EOF; a cut-off last
// record is io.ErrUnexpectedEOF.
func (r *Reader) Next(p *decode.Packet) ([]byte, decode.LinkType, error) {
	if r.mem != nil {
		frame, err := r.nextMem(p)
		return frame, r.link, err
	}
	if r.br != nil {
		if frame, ok, err := r.nextPcap(p); ok {
			return frame, r.link, err
		}
	}
	var src zeroCopyReader = r.pcap
	if r.ng != nil {
		src = r.ng
	}
	data, ci, err := src.ZeroCopyReadPacketData()
	if err != nil {
		if errors.Is(err, io.EOF) && len(data) == 0 && ci.CaptureLength == 0 {
			return nil, 0, io.EOF
		}
		if errors.Is(err, io.EOF) {
			return nil, 0, io.ErrUnexpectedEOF
		}
		return nil, 0, fmt.Errorf("pcapfile: %w", err)
	}
	link := r.link
	if r.ng != nil && len(ci.AncillaryData) > 0 {
		if lt, ok := ci.AncillaryData[0].(layers.LinkType); ok {
			link = decode.LinkType(lt)
		}
	}
	p.Timestamp = ci.Timestamp.UnixNano()
	p.CapLen = uint32(len(data))
	p.OrigLen = uint32(max(ci.Length, len(data)))
	p.Port = uint16(ci.InterfaceIndex)
	return data, link, nil
}

// maxSnaplen is the longest record pcapgo takes whatever the file's snap
// length (tcpdump's and Wireshark's maximum).
const maxSnaplen = 262144

// u32 reads a record header field in the file's byte order. A
// binary.ByteOrder would be an interface call for each of the four fields of
// every record.
func (r *Reader) u32(b []byte) uint32 {
	v := binary.LittleEndian.Uint32(b)
	if r.swapped {
		v = bits.ReverseBytes32(v)
	}
	return v
}

// nextPcap reads a classic pcap record from the buffered reader, with the
// checks pcapgo makes. ok is false for a record too long for the buffer,
// which is left to pcapgo.
func (r *Reader) nextPcap(p *decode.Packet) (frame []byte, ok bool, err error) {
	h, err := r.br.Peek(recordHeader)
	if err != nil {
		if errors.Is(err, io.EOF) {
			if len(h) == 0 {
				return nil, true, io.EOF
			}
			return nil, true, io.ErrUnexpectedEOF
		}
		return nil, true, fmt.Errorf("pcapfile: %w", err)
	}
	capLen, err := r.checkRecord(h)
	if err != nil {
		return nil, true, err
	}
	if recordHeader+capLen > r.br.Size() {
		return nil, false, nil
	}
	rec, err := r.br.Peek(recordHeader + capLen)
	if err != nil {
		if errors.Is(err, io.EOF) {
			return nil, true, io.ErrUnexpectedEOF
		}
		return nil, true, fmt.Errorf("pcapfile: %w", err)
	}
	r.fill(p, rec)
	// The bytes stay in the buffer until the next Peek refills it.
	if _, err := r.br.Discard(recordHeader + capLen); err != nil {
		return nil, true, fmt.Errorf("pcapfile: %w", err)
	}
	return rec[recordHeader:], true, nil
}

// nextMem reads a classic pcap record from the file in memory.
func (r *Reader) nextMem(p *decode.Packet) ([]byte, error) {
	rest := r.mem[r.off:]
	switch {
	case len(rest) == 0:
		return nil, io.EOF
	case len(rest) < recordHeader:
		return nil, io.ErrUnexpectedEOF
	}
	capLen, err := r.checkRecord(rest)
	if err != nil {
		return nil, err
	}
	if len(rest) < recordHeader+capLen {
		return nil, io.ErrUnexpectedEOF
	}
	r.fill(p, rest)
	r.off += recordHeader + capLen
	return rest[recordHeader : recordHeader+capLen : recordHeader+capLen], nil
}

// checkRecord checks a record header as pcapgo does and returns the
// record's capture length.
func (r *Reader) checkRecord(h []byte) (int, error) {
	capLen, origLen := int(r.u32(h[8:12])), int(r.u32(h[12:16]))
	switch {
	case capLen > r.maxCap:
		return 0, fmt.Errorf("pcapfile: capture length exceeds snap length: %d > %d", capLen, r.maxCap)
	case capLen > origLen:
		return 0, fmt.Errorf("pcapfile: capture length exceeds original packet length: %d > %d", capLen, origLen)
	}
	return capLen, nil
}

// fill sets p's fields from the record that starts rec.
func (r *Reader) fill(p *decode.Packet, rec []byte) {
	p.Timestamp = int64(r.u32(rec[0:4]))*1e9 + int64(r.u32(rec[4:8]))*r.nsFactor
	p.CapLen = r.u32(rec[8:12])
	p.OrigLen = r.u32(rec[12:16])
	p.Port = 0
}
