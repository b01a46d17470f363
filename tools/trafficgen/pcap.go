package trafficgen

import (
	"bufio"
	"fmt"
	"io"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// WritePcap writes n frames from g to w as a nanosecond-resolution pcap
// (Ethernet link type).
func WritePcap(w io.Writer, g *Generator, n int) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	pw := pcapgo.NewWriterNanos(bw)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return fmt.Errorf("trafficgen: pcap header: %w", err)
	}
	if err := WritePackets(pw, g, n); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("trafficgen: flush: %w", err)
	}
	return nil
}

// WritePackets writes the next n frames from g to pw, whose file header is
// written already: several generators can follow one another in a file.
func WritePackets(pw *pcapgo.Writer, g *Generator, n int) error {
	buf := make([]byte, 0, 2048)
	for range n {
		frame, ts := g.Next(buf[:0])
		ci := gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(frame), Length: len(frame)}
		if err := pw.WritePacket(ci, frame); err != nil {
			return fmt.Errorf("trafficgen: write packet: %w", err)
		}
	}
	return nil
}
