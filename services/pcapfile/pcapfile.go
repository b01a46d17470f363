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
// interface id becomes the packet's Port.
package pcapfile

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

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
}

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
		pr, err := pcapgo.NewReader(br)
		if err != nil {
			return nil, fmt.Errorf("%w: pcap: %w", ErrFormat, err)
		}
		return &Reader{pcap: pr, link: decode.LinkType(pr.LinkType()), format: "pcap"}, nil
	}
	return nil, ErrFormat
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
