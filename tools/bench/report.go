package bench

import (
	"fmt"
	"io"
	"time"
)

func (r *Report) write(w io.Writer, cfg Config) {
	n := r.Packets
	fmt.Fprintf(w, "\n== offline analysis of %d packets, all modules on\n", n)
	fmt.Fprintf(w, "%-24s %12s %12s %16s %14s\n", "", "wall", "cpu", "packets/s", "packets/s/core")
	row := func(name string, t Throughput) {
		if t.Wall == 0 {
			fmt.Fprintf(w, "%-24s %12s\n", name, "not installed")
			return
		}
		fmt.Fprintf(w, "%-24s %12s %12s %16.0f %14.0f\n", name, t.Wall.Round(time.Millisecond), t.CPU.Round(time.Millisecond), t.PPS(n), t.PPSPerCore(n))
	}
	row(fmt.Sprintf("multimeter (%d shard)", cfg.Shards), r.Ours)
	row("tshark -z endpoints,conv", r.Tshark)
	row("ndpiReader", r.NDPI)
	ratio := func(name string, t Throughput) {
		if t.CPU > 0 && r.Ours.CPU > 0 {
			fmt.Fprintf(w, "ratio vs %-15s %6.1fx per core, %6.1fx wall\n", name, r.Ours.PPSPerCore(n)/t.PPSPerCore(n), r.Ours.PPS(n)/t.PPS(n))
		}
	}
	ratio("tshark", r.Tshark)
	ratio("ndpiReader", r.NDPI)
	if a := r.Ours.Analyzer; a > 0 {
		fmt.Fprintf(w, "per analyzer core (shard busy %s): %.0f packets/s; the rest of our CPU is the I/O worker (decode, dispatch) and the store merge\n",
			a.Round(time.Millisecond), rate(n, a))
	}
	fmt.Fprintf(w, "allocations per packet (steady state): %.4f\n", r.AllocsPer)
	fmt.Fprintf(w, "aims: >= 2,000,000 packets/s per core, > 20x tshark, > 10x ndpiReader, 0 allocations\n")

	m := r.Memory
	fmt.Fprintf(w, "\n== memory (shard flow state + store entity + index + last-minute history)\n")
	fmt.Fprintf(w, "connection active 2 s of the last minute:  %6.0f bytes  (%8.0f per GiB)\n", m.ConnTypical, PerGB(m.ConnTypical))
	fmt.Fprintf(w, "connection active every second:            %6.0f bytes  (%8.0f per GiB)\n", m.ConnWorst, PerGB(m.ConnWorst))
	fmt.Fprintf(w, "IP active every second:                    %6.0f bytes  (%8.0f per GiB)\n", m.IP, PerGB(m.IP))
	fmt.Fprintf(w, "aim: >= 500,000 connections per GiB including last-minute history\n")

	q := r.Queries
	fmt.Fprintf(w, "\n== store queries with %d IPs and %d connections\n", q.IPs, q.Conns)
	lat := func(name string, l Latency) {
		fmt.Fprintf(w, "%-44s p50 %8s  p99 %8s  max %8s\n", name, l.P50.Round(time.Microsecond), l.P99.Round(time.Microsecond), l.Max.Round(time.Microsecond))
	}
	lat("top 10 IPs by bps (idle)", q.TopBpsIdle)
	lat("one IP with history (idle)", q.OneIPIdle)
	lat("top 10 IPs by bps (while merging)", q.TopBps)
	lat("top 10 IPs by bytes, all time (while merging)", q.TopBytes)
	lat("one IP with history (while merging)", q.OneIP)
	lat("one IP's peers (while merging)", q.Peers)
	fmt.Fprintf(w, "merge applied %.0f connection records/s meanwhile\n", q.MergedPerSecond)
	fmt.Fprintf(w, "aims: top 10 by bps < 20 ms, one IP < 2 ms\n")
}
