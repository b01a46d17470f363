package bench

import (
	"fmt"
	"io"
	"time"

	"github.com/multimeter-fw/multimeter/services/analysis"
)

func (r *Report) write(w io.Writer, cfg Config) {
	r.writeThroughput(w, cfg)
	r.writeLevels(w)
	r.writeMemoryAndQueries(w)
}

func verdict(ok bool) string {
	if ok {
		return "met"
	}
	return "NOT met"
}

func (r *Report) writeThroughput(w io.Writer, cfg Config) {
	n := r.Packets
	if cfg.Level == analysis.LevelAll.String() {
		fmt.Fprintf(w, "\n== offline analysis of %d packets, all modules on\n", n)
	} else {
		fmt.Fprintf(w, "\n== offline analysis of %d packets, level of analysis %s\n", n, cfg.Level)
	}
	fmt.Fprintf(w, "%-24s %12s %12s %16s %14s\n", "", "wall", "cpu", "packets/s", "packets/s/core")
	row := func(name string, t Throughput) {
		if t.Wall == 0 {
			fmt.Fprintf(w, "%-24s %12s\n", name, "not installed")
			return
		}
		fmt.Fprintf(w, "%-24s %12s %12s %16.0f %14.0f\n", name, t.Wall.Round(time.Millisecond), t.CPU.Round(time.Millisecond), t.PPS(n), t.PPSPerCore(n))
	}
	row(fmt.Sprintf("multimeter (%d shard)", cfg.Shards), r.Ours)
	row("multimeter, first pass", r.First)
	if !cfg.OursOnly {
		row("tshark -z endpoints,conv", r.Tshark)
		row("ndpiReader", r.NDPI)
	}
	if a := r.Ours.Analyzer; a > 0 {
		pps := rate(n, a)
		fmt.Fprintf(w, "per analyzer core (CPU time of the shard's thread, %s): %.0f packets/s; aim >= 2,000,000: %s\n",
			a.Round(time.Millisecond), pps, verdict(pps >= 2e6))
	}
	fmt.Fprintf(w, "per CPU core (all our threads: reading the file, I/O worker decoding and dispatching, shard, store merge, GC): %.0f packets/s\n", r.Ours.PPSPerCore(n))
	fmt.Fprintf(w, "of which reading the file (filesource alone: mapped, frames copied out): %.0f ns a packet\n", float64(r.Read.CPU.Nanoseconds())/float64(n))
	ratio := func(name string, t Throughput, aim float64) {
		if t.CPU > 0 && r.Ours.CPU > 0 {
			x := r.Ours.PPSPerCore(n) / t.PPSPerCore(n)
			fmt.Fprintf(w, "ratio vs %-11s %5.1fx per CPU core (first pass %.1fx), %.1fx per analyzer core, %.1fx wall; aim > %.0fx per CPU core: %s\n",
				name, x, r.First.PPSPerCore(n)/t.PPSPerCore(n),
				rate(n, r.Ours.Analyzer)/t.PPSPerCore(n), r.Ours.PPS(n)/t.PPS(n), aim, verdict(x > aim))
		}
	}
	ratio("tshark", r.Tshark, 20)
	ratio("ndpiReader", r.NDPI, 10)
	fmt.Fprintf(w, "allocations per packet over the measured loops: %.4f (the store's history is still filling its first minutes;\n"+
		"  the steady state, 0, is asserted by services/engine TestPacketPathDoesNotAllocate)\n", r.AllocsPer)
	if r.Load != "" {
		fmt.Fprintf(w, "load average before the run (other processes share the machine): %s\n", r.Load)
	}
}

// writeLevels shows where the CPU of a packet goes, level by level, next
// to the peers: capture is reading, decoding, dispatching and counting
// per interface, the floor every level stands on.
func (r *Report) writeLevels(w io.Writer) {
	n := r.Packets
	fmt.Fprintf(w, "\n== offline analysis by level of analysis (the same measured passes; each level adds to the one above it)\n")
	fmt.Fprintf(w, "%-8s %14s %16s %12s %14s\n", "level", "cpu a packet", "packets/s/core", "x tshark", "x ndpiReader")
	row := func(l analysis.Level, t Throughput) {
		times := func(peer Throughput) string {
			if peer.CPU <= 0 {
				return "-"
			}
			return fmt.Sprintf("%.1fx", t.PPSPerCore(n)/peer.PPSPerCore(n))
		}
		fmt.Fprintf(w, "%-8s %11.0f ns %16.0f %12s %14s\n", l, float64(t.CPU.Nanoseconds())/float64(n), t.PPSPerCore(n), times(r.Tshark), times(r.NDPI))
	}
	for _, l := range r.Levels {
		row(l.Level, l.Throughput)
	}
	row(analysis.LevelAll, r.Ours)
}

func (r *Report) writeMemoryAndQueries(w io.Writer) {
	m := r.Memory
	fmt.Fprintf(w, "\n== memory (shard flow state + store entity + index + last-minute history)\n")
	fmt.Fprintf(w, "connection active 2 s of the last minute:  %6.0f bytes  (%8.0f per GiB)\n", m.ConnTypical, PerGB(m.ConnTypical))
	fmt.Fprintf(w, "connection active every second:            %6.0f bytes  (%8.0f per GiB)\n", m.ConnWorst, PerGB(m.ConnWorst))
	fmt.Fprintf(w, "IP active every second:                    %6.0f bytes  (%8.0f per GiB)\n", m.IP, PerGB(m.IP))
	fmt.Fprintf(w, "aim: >= 500,000 connections per GiB including last-minute history: %s\n", verdict(PerGB(m.ConnWorst) >= 500_000))

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
