package bench

import (
	"context"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"runtime"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/multimeter-fw/multimeter/services/analysis"
	"github.com/multimeter-fw/multimeter/services/analysis/flow"
	"github.com/multimeter-fw/multimeter/services/analysis/ip"
	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/stats"
)

// Memory is what a tracked connection and IP cost, including the shard's
// flow state, the store's entity, its index entries and history.
type Memory struct {
	// Bytes per connection when each was active in two seconds of the
	// last minute (typical), and in all sixty (worst case).
	ConnTypical, ConnWorst float64
	// Bytes per IP with its last minute of per-second history.
	IP float64
}

// PerGB is how many entities of size b fit in a GiB.
func PerGB(b float64) float64 {
	if b <= 0 {
		return 0
	}
	return float64(1<<30) / b
}

func heap() uint64 {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// synthRecord is connection i of a synthetic population: clients
// 10.0.0.0/8 talking to 10,000 servers.
func synthRecord(i, ips int, sec int64, r *flow.Record) {
	client := uint32(i % ips)
	server := uint32(0x0b000000 + i%10000)
	*r = flow.Record{
		Key:     flow.Key{Proto: decode.ProtoTCP, PortA: uint16(1024 + i%60000), PortB: 443},
		Sent:    [2]flow.Dir{{Packets: 10, Bytes: 1500 + uint64(i%1000)}, {Packets: 8, Bytes: 9000}},
		FirstNs: sec * 1e9, LastNs: sec*1e9 + 5e8, ClientSide: 0, New: true,
	}
	r.Key.A = decode.AddrFrom4([4]byte(binary.BigEndian.AppendUint32(nil, 0x0a000000+client)))
	r.Key.B = decode.AddrFrom4([4]byte(binary.BigEndian.AppendUint32(nil, server)))
}

// measureMemory fills connection and IP tables to capacity n and divides
// the heap they hold by n.
func measureMemory(n int) Memory {
	var m Memory
	m.ConnTypical = connBytes(n, 2)
	m.ConnWorst = connBytes(n, 60)
	m.IP = ipBytes(n)
	return m
}

func connBytes(n int, active int) float64 {
	before := heap()
	st := stats.New(stats.Config{HistoryBytes: 1 << 40})
	conns := flow.NewStore(st, n)
	tracker := flow.NewTracker(flow.Config{Capacity: n, IdleTimeoutSeconds: 3600}, func(*flow.Record) {})
	var r flow.Record
	var p decode.Packet
	start := int64(1_800_000_000)
	for s := range int64(60) {
		st.Lock()
		for i := range n {
			if every := 60 / active; int(s)%every != i%every {
				continue // active in `active` seconds of the minute
			}
			synthRecord(i, n, start+s, &r)
			conns.Merge(start+s, &r)
			if s < int64(60/active) { // the shard keeps one flow per connection
				p = decode.Packet{SrcIP: r.Key.A, DstIP: r.Key.B, SrcPort: r.Key.PortA, DstPort: r.Key.PortB, Proto: decode.ProtoTCP}
				tracker.Packet(r.Key, 0, &p, start+s)
			}
		}
		st.Unlock()
		st.Complete(start + s)
	}
	used := heap() - before
	runtime.KeepAlive(conns)
	runtime.KeepAlive(tracker)
	return float64(used) / float64(n)
}

func ipBytes(n int) float64 {
	before := heap()
	st := stats.New(stats.Config{HistoryBytes: 1 << 40})
	ips := stats.NewSeries[ip.Key, ip.Attr](st, "ip", n)
	start := int64(1_800_000_000)
	for s := range int64(60) {
		st.Lock()
		for i := range n {
			k := ip.Key{Addr: decode.AddrFrom4([4]byte(binary.BigEndian.AppendUint32(nil, 0x0a000000+uint32(i))))}
			ips.Add(start+s, k, stats.Counters{TxPackets: 1, TxBytes: 100})
		}
		st.Unlock()
		st.Complete(start + s)
	}
	used := heap() - before
	runtime.KeepAlive(ips)
	return float64(used) / float64(n)
}

// Queries are store latencies with the store full.
type Queries struct {
	IPs, Conns            int
	TopBps, TopBytes      Latency // ips_paged?sort=bps&reverse=true&count=10, and by bytes
	OneIP                 Latency // one IP with its history
	Peers                 Latency // one IP's peers
	MergedPerSecond       float64 // records the merge applied per second meanwhile
	TopBpsIdle, OneIPIdle Latency
}

// Latency summarises query times.
type Latency struct{ P50, P99, Max time.Duration }

func summarize(d []time.Duration) Latency {
	if len(d) == 0 {
		return Latency{}
	}
	slices.Sort(d)
	return Latency{P50: d[len(d)/2], P99: d[len(d)*99/100], Max: d[len(d)-1]}
}

// queryStore fills a store with ips IPs and conns connections through
// the modules' merge code, then measures queries, first idle, then while
// a writer keeps merging new seconds as the analyzer would.
func queryStore(ctx context.Context, ips, conns int) (Queries, error) {
	q := Queries{IPs: ips, Conns: conns}
	st := stats.New(stats.Config{HistoryBytes: 1 << 30})
	cs := flow.NewStore(st, conns)
	is := ip.NewStore(st, ip.Capacities{IPs: ips, Pairs: conns, Ports: conns, Protocols: ips, MACs: ips})
	const seconds = 60
	perSecond := conns / seconds
	acc := ip.NewAcc(4*perSecond, analysis.LevelAll)
	var r flow.Record
	start := int64(1_800_000_000)
	merge := func(sec int64, from, n int) {
		st.Lock()
		for i := from; i < from+n; i++ {
			synthRecord(i%conns, ips, sec, &r)
			cs.Merge(sec, &r)
			acc.AddFlow(&r)
		}
		is.Merge(sec, acc)
		acc.Reset()
		st.Unlock()
		st.Complete(sec)
	}
	// Every IP appears: the first second touches the clients in order.
	for s := range int64(seconds) {
		merge(start+s, int(s)*perSecond, perSecond)
		if err := ctx.Err(); err != nil {
			return q, err
		}
	}
	sec := start + seconds
	if n := is.IPs.Len(0); n < ips/2 {
		return q, fmt.Errorf("bench: store holds %d IPs; want about %d", n, ips)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	measure := func(rounds int) (top, bytes, one, peers []time.Duration) {
		for range rounds {
			t0 := time.Now()
			is.List(stats.ListQuery{Sort: stats.SortBps, Reverse: true, Count: 10, Query: stats.Query{SkipHistory: true}})
			top = append(top, time.Since(t0))
			t0 = time.Now()
			is.List(stats.ListQuery{Sort: stats.SortBytes, Reverse: true, Count: 10, Query: stats.Query{SkipHistory: true}})
			bytes = append(bytes, time.Since(t0))
			i := rng.IntN(ips)
			a := decode.AddrFrom4([4]byte(binary.BigEndian.AppendUint32(nil, 0x0a000000+uint32(i))))
			t0 = time.Now()
			is.Get(0, a, stats.Query{})
			one = append(one, time.Since(t0))
			t0 = time.Now()
			is.Peers(a, stats.ListQuery{Sort: stats.SortBytes, Reverse: true, Count: 100, Query: stats.Query{SkipHistory: true}})
			peers = append(peers, time.Since(t0))
		}
		return
	}
	top, _, one, _ := measure(50)
	q.TopBpsIdle, q.OneIPIdle = summarize(top), summarize(one)

	var stop atomic.Bool
	var merged atomic.Int64
	var wg sync.WaitGroup
	wg.Go(func() {
		next := seconds * perSecond
		for !stop.Load() {
			merge(sec, next, perSecond)
			sec++
			next += perSecond
			merged.Add(int64(perSecond))
		}
	})
	t0 := time.Now()
	top, bytes, one, peers := measure(100)
	stop.Store(true)
	wg.Wait()
	q.MergedPerSecond = float64(merged.Load()) / time.Since(t0).Seconds()
	q.TopBps, q.TopBytes, q.OneIP, q.Peers = summarize(top), summarize(bytes), summarize(one), summarize(peers)
	return q, nil
}
