// Package ringbuftest drives a tap.Sink the way the analysis engine does,
// for tests and benchmarks of the ring buffer and extraction: packets are
// decoded, dispatched to shards by a symmetric hash of their IP pair, and
// handed over by one goroutine per shard, each in capture order, with
// capture sequence numbers.
//
//	pkts := ringbuftest.Generate(trafficgen.Config{Seed: 1}, 10000)
//	ringbuftest.WritePcap(path, pkts)   // the same packets for tshark
//	ringbuftest.Replay(sink, pkts, 3)   // through 3 shards
package ringbuftest

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/gopacket/gopacket"
	"github.com/gopacket/gopacket/layers"
	"github.com/gopacket/gopacket/pcapgo"

	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/pcapfile"
	"github.com/multimeter-fw/multimeter/services/tap"
	"github.com/multimeter-fw/multimeter/tools/trafficgen"
)

// Packet is one captured frame with what capture and analysis add.
type Packet struct {
	Frame     []byte
	Timestamp int64 // ns
	OrigLen   uint32
	Port      uint16
	Link      decode.LinkType
	Meta      tap.Meta
}

// Generate returns n frames of generated traffic, Seq numbered from 0.
func Generate(cfg trafficgen.Config, n int) []Packet {
	g := trafficgen.New(cfg)
	out := make([]Packet, n)
	for i := range out {
		frame, ts := g.Next(nil)
		out[i] = Packet{Frame: frame, Timestamp: ts.UnixNano(), OrigLen: uint32(len(frame)), Link: decode.LinkEthernet, Meta: tap.Meta{Seq: uint64(i)}}
	}
	return out
}

// ReadPcap reads a pcap or pcapng file, Seq numbered from 0.
func ReadPcap(path string) ([]Packet, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	r, err := pcapfile.NewReader(f)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", path, err)
	}
	var out []Packet
	var p decode.Packet
	for {
		frame, link, err := r.Next(&p)
		if errors.Is(err, io.EOF) {
			return out, nil
		}
		if err != nil {
			return nil, fmt.Errorf("%s: %w", path, err)
		}
		out = append(out, Packet{Frame: append([]byte(nil), frame...), Timestamp: p.Timestamp,
			OrigLen: p.OrigLen, Port: p.Port, Link: link, Meta: tap.Meta{Seq: uint64(len(out))}})
	}
}

// WritePcap writes packets to a nanosecond pcap file (Ethernet).
func WritePcap(path string, pkts []Packet) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	bw := bufio.NewWriterSize(f, 1<<20)
	w := pcapgo.NewWriterNanos(bw)
	err = w.WriteFileHeader(65535, layers.LinkTypeEthernet)
	for _, p := range pkts {
		if err != nil {
			break
		}
		err = w.WritePacket(gopacket.CaptureInfo{Timestamp: time.Unix(0, p.Timestamp), CaptureLength: len(p.Frame),
			Length: int(p.OrigLen)}, p.Frame)
	}
	if err == nil {
		err = bw.Flush()
	}
	return errors.Join(err, f.Close())
}

// Shard returns the shard of a decoded packet: a symmetric hash of its
// address pair, so both directions of a flow meet in one shard.
func Shard(p *decode.Packet, shards int) int {
	var h uint64
	for i := range 16 {
		h += uint64(p.SrcIP[i]^p.DstIP[i]) << (8 * (i % 8))
		h ^= uint64(p.SrcIP[i]) * uint64(p.DstIP[i])
	}
	h = h*0x9e3779b97f4a7c15 + uint64(p.SrcPort^p.DstPort)
	return int((h >> 32) % uint64(shards))
}

// Replay decodes the packets and hands them to sink from one goroutine
// per shard. It returns when all are handed over.
func Replay(sink tap.Sink, pkts []Packet, shards int) {
	queues := make([][]int, shards)
	var p decode.Packet
	for i := range pkts {
		decodeInto(&p, &pkts[i])
		s := Shard(&p, shards)
		queues[s] = append(queues[s], i)
	}
	var wg sync.WaitGroup
	for s, q := range queues {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var p decode.Packet
			for _, i := range q {
				decodeInto(&p, &pkts[i])
				m := pkts[i].Meta
				sink.Packet(s, &p, pkts[i].Frame, &m)
			}
		}()
	}
	wg.Wait()
}

func decodeInto(p *decode.Packet, pk *Packet) {
	p.Timestamp, p.OrigLen, p.Port = pk.Timestamp, pk.OrigLen, pk.Port
	decode.Decode(p, pk.Link, pk.Frame)
}
