package trafficgen

import (
	"bufio"
	"fmt"
	"io"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"
)

// WritePcap writes n frames from g to w as a nanosecond-resolution pcap
// (Ethernet link type).
func WritePcap(w io.Writer, g *Generator, n int) error {
	return writePcap(w, func(pw *pcapgo.Writer) error {
		_, err := writeFrames(pw, g, n)
		return err
	})
}

// WritePasses writes passes mixes of n frames each to w as one pcap, one
// after the other in time: pass i is cfg with seed cfg.Seed+i, starting gap
// after the last frame of the pass before. The first pass is what
// WritePcap writes for cfg; the later ones are the same hosts, servers and
// services in conversations of their own, as on a link watched for long.
func WritePasses(w io.Writer, cfg Config, n, passes int, gap time.Duration) error {
	return writePcap(w, func(pw *pcapgo.Writer) error {
		for pass := range passes {
			c := cfg
			c.Seed += uint64(pass)
			last, err := writeFrames(pw, New(c), n)
			if err != nil {
				return err
			}
			cfg.Start = last.Add(gap)
		}
		return nil
	})
}

// writePcap writes a pcap file header to w, then what frames writes.
func writePcap(w io.Writer, frames func(pw *pcapgo.Writer) error) error {
	bw := bufio.NewWriterSize(w, 1<<20)
	pw := pcapgo.NewWriterNanos(bw)
	if err := pw.WriteFileHeader(65535, layers.LinkTypeEthernet); err != nil {
		return fmt.Errorf("trafficgen: pcap header: %w", err)
	}
	if err := frames(pw); err != nil {
		return err
	}
	if err := bw.Flush(); err != nil {
		return fmt.Errorf("trafficgen: flush: %w", err)
	}
	return nil
}

// writeFrames writes the next n frames from g to pw and returns the time
// of the last.
func writeFrames(pw *pcapgo.Writer, g *Generator, n int) (last time.Time, err error) {
	buf := make([]byte, 0, 2048)
	for range n {
		frame, ts := g.Next(buf[:0])
		ci := gopacket.CaptureInfo{Timestamp: ts, CaptureLength: len(frame), Length: len(frame)}
		if err := pw.WritePacket(ci, frame); err != nil {
			return last, fmt.Errorf("trafficgen: write packet: %w", err)
		}
		last = ts
	}
	return last, nil
}
