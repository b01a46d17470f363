package engine

import (
	"testing"
	"time"

	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/stats"
	"github.com/multimeter-fw/multimeter/services/tap"
	"github.com/multimeter-fw/multimeter/tools/trafficgen"
)

// frames is a generated mix held in memory.
type frames struct {
	data [][]byte
	ts   []int64
	span int64 // a loop's duration, so loops continue the clock
}

func genFrames(n int, cfg trafficgen.Config) *frames {
	g := trafficgen.New(cfg)
	f := &frames{}
	for range n {
		b, ts := g.Next(nil)
		f.data = append(f.data, b)
		f.ts = append(f.ts, ts.UnixNano())
	}
	f.span = f.ts[len(f.ts)-1] - f.ts[0] + int64(time.Second)
	return f
}

// feeder hands frames to a dispatcher in a loop, as a capture worker does.
type feeder struct {
	f    *frames
	i    int
	loop int64
	p    decode.Packet
}

func (fd *feeder) next(h *dispatcher) {
	i := fd.i
	fd.p.Timestamp = fd.f.ts[i] + fd.loop*fd.f.span
	fd.p.OrigLen = uint32(len(fd.f.data[i]))
	fd.p.Port = 0
	h.Handle(&fd.p, decode.LinkEthernet, fd.f.data[i])
	if fd.i++; fd.i == len(fd.f.data) {
		fd.i = 0
		fd.loop++
	}
}

// countingSink is a tap.Sink that only counts.
type countingSink struct{ n [maxShards]uint64 }

func (c *countingSink) Packet(shard int, _ *decode.Packet, _ []byte, _ *tap.Meta) { c.n[shard]++ }

// steadyConfig keeps history short so that the store reaches its steady
// size within seconds of capture time.
func steadyConfig(shards int) Config {
	cfg := testConfig(shards)
	cfg.Stats = stats.Config{RecentSeconds: 4, Levels: []stats.Level{{StepSeconds: 2, KeepSeconds: 10}}, HistoryBytes: 32 << 20}
	cfg.Clock = "packet"
	return cfg
}

func TestPacketPathDoesNotAllocate(t *testing.T) {
	if testing.Short() {
		t.Skip("warms up on a million packets")
	}
	// 50,000 packets a second of capture time; loops of the same mix keep
	// the hosts and names, so tables and pools reach a steady state.
	fr := genFrames(100000, trafficgen.Config{Seed: 3, PacketsPerSecond: 50000})
	for _, shards := range []int{1, 2} {
		e, err := New(steadyConfig(shards), nil)
		if err != nil {
			t.Fatal(err)
		}
		sink := &countingSink{}
		defer e.Attach(sink)()
		pl := newPipeline(e, e.Config(), e.Stats(), nil)
		pl.lossless = true
		wait := pl.start()
		d := newDispatcher(pl, 0)
		fd := &feeder{f: fr}
		for range 1_000_000 {
			fd.next(d)
		}
		const perRun = 1000
		allocs := testing.AllocsPerRun(200, func() {
			for range perRun {
				fd.next(d)
			}
		})
		d.Flush()
		wait()
		if per := allocs / perRun; per > 0.001 {
			t.Errorf("%d shards: %.4f allocations per packet; want 0", shards, per)
		}
		var seen uint64
		for _, n := range sink.n {
			seen += n
		}
		if seen == 0 {
			t.Error("the sink saw no packets")
		}
	}
}

func BenchmarkPacketPath(b *testing.B) {
	fr := genFrames(100000, trafficgen.Config{Seed: 3, PacketsPerSecond: 50000})
	e, err := New(steadyConfig(1), nil)
	if err != nil {
		b.Fatal(err)
	}
	pl := newPipeline(e, e.Config(), e.Stats(), nil)
	pl.lossless = true
	wait := pl.start()
	d := newDispatcher(pl, 0)
	fd := &feeder{f: fr}
	for range 300000 {
		fd.next(d)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		fd.next(d)
	}
	d.Flush()
	wait()
}
