package index

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"math/rand/v2"
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/filter"
	"github.com/multimeter-fw/multimeter/services/l7proto"
	"github.com/multimeter-fw/multimeter/services/tap"
	"github.com/multimeter-fw/multimeter/tools/trafficgen"
)

// fixture is a segment's worth of entries from generated traffic, with a
// few time regressions, and the packets they came from.
type fixture struct {
	entries []Entry
	pkts    []decode.Packet
	metas   []tap.Meta
}

func newFixture(t testing.TB, n int) *fixture {
	t.Helper()
	g := trafficgen.New(trafficgen.Config{Seed: 11, Clients: 60, Servers: 8})
	rng := rand.New(rand.NewPCG(1, 2))
	f := &fixture{}
	off := uint64(4096)
	for i := range n {
		frame, ts := g.Next(nil)
		var p decode.Packet
		p.Timestamp = ts.UnixNano()
		if i%1000 == 999 {
			p.Timestamp -= 5e6 // a late packet: starts a new run
		}
		p.OrigLen = uint32(len(frame))
		decode.Decode(&p, decode.LinkEthernet, frame)
		m := tap.Meta{Seq: uint64(i)}
		m.App = l7proto.ID(1 + rng.IntN(5))
		var e Entry
		e.Offset = off
		e.SetPacket(&p, &m)
		off += uint64(64 + len(frame))
		f.entries = append(f.entries, e)
		f.pkts = append(f.pkts, p)
		f.metas = append(f.metas, m)
	}
	return f
}

// brute returns the ordinals in [lo, hi) whose entry satisfies t.
func (f *fixture) brute(t filter.Term, lo, hi uint32) []uint32 {
	var out []uint32
	for i := lo; i < hi && int(i) < len(f.entries); i++ {
		e := &f.entries[i]
		hit := false
		var ks []key
		if e.Flags&entryIP != 0 {
			ks = append(ks, key{kind: filter.TermIP, v: e.SrcIP}, key{kind: filter.TermIP, v: e.DstIP}, numKey(filter.TermProto, uint32(e.Proto)))
		}
		if e.Flags&entryPorts != 0 {
			ks = append(ks, numKey(filter.TermPort, uint32(e.SrcPort)), numKey(filter.TermPort, uint32(e.DstPort)))
		}
		for j := range int(e.VLANCount) {
			ks = append(ks, numKey(filter.TermVLAN, uint32(e.VLANs[j])))
		}
		ks = append(ks, numKey(filter.TermApp, uint32(e.App)))
		for _, k := range ks {
			hit = hit || termHas(t, k)
		}
		if hit {
			out = append(out, i)
		}
	}
	return out
}

var terms = []filter.Term{
	{Kind: filter.TermIP, Addr: mustAddr("10.1.0.5"), Bits: 128},
	{Kind: filter.TermIP, Addr: mustAddr("10.2.0.3"), Bits: 128},
	{Kind: filter.TermIP, Addr: mustAddr("10.2.0.0"), Bits: 96 + 16},
	{Kind: filter.TermIP, Addr: mustAddr("2001:db8:1::"), Bits: 48},
	{Kind: filter.TermIP, Addr: mustAddr("192.0.2.1"), Bits: 128},
	{Kind: filter.TermPort, Lo: 443, Hi: 443},
	{Kind: filter.TermPort, Lo: 0, Hi: 1023},
	{Kind: filter.TermPort, Lo: 9, Hi: 9},
	{Kind: filter.TermProto, Lo: 17, Hi: 17},
	{Kind: filter.TermProto, Lo: 1, Hi: 1},
	{Kind: filter.TermVLAN, Lo: 100, Hi: 100},
	{Kind: filter.TermVLAN, Lo: 0, Hi: 4095},
	{Kind: filter.TermApp, Lo: 3, Hi: 3},
}

func TestLookupAgreesWithBruteForce(t *testing.T) {
	f := newFixture(t, 5000)
	b := NewBuilder([]decode.LinkType{decode.LinkEthernet})
	// Add in uneven batches, taking a live view in the middle.
	b.Add(f.entries[:1234])
	mid := b.View()
	b.Add(f.entries[1234:4000])
	b.Add(f.entries[4000:])
	data := b.Encode(1 << 30)
	fin, err := Open(data)
	if err != nil {
		t.Fatalf("Open: %v", err)
	}
	readers := []struct {
		name string
		r    Reader
		n    uint32
	}{{"live-mid", mid, 1234}, {"live", b.View(), 5000}, {"file", fin, 5000}}
	for _, rd := range readers {
		if got := rd.r.Packets(); got != rd.n {
			t.Errorf("%s: Packets() = %d; want %d", rd.name, got, rd.n)
		}
		for _, term := range terms {
			for _, win := range [][2]uint32{{0, 1 << 31}, {100, 2345}, {4999, 5000}, {3000, 3000}} {
				lo, hi := win[0], min(win[1], rd.n)
				want := f.brute(term, lo, hi)
				got, err := rd.r.Lookup(term, win[0], win[1], nil)
				if err != nil {
					t.Fatalf("%s: Lookup(%v): %v", rd.name, term, err)
				}
				if diff := cmp.Diff(want, got, cmpopts.EquateEmpty()); diff != "" {
					t.Errorf("%s: Lookup(%+v, %d, %d) differs (-want +got):\n%s", rd.name, term, lo, hi, diff)
				}
				if win[0] == 0 && lo == 0 && rd.r.Estimate(term) < len(want) {
					t.Errorf("%s: Estimate(%+v) = %d; want >= %d", rd.name, term, rd.r.Estimate(term), len(want))
				}
			}
		}
		// Time directory: every packet once, offsets and times right, runs
		// start at the regressions.
		next := uint32(0)
		for _, blk := range rd.r.Blocks() {
			if blk.First != next {
				t.Fatalf("%s: block starts at %d; want %d", rd.name, blk.First, next)
			}
			offs, err := rd.r.Offsets(blk, nil)
			if err != nil {
				t.Fatal(err)
			}
			for i, off := range offs {
				e := f.entries[blk.First+uint32(i)]
				if off != e.Offset || e.Timestamp < blk.MinTs || e.Timestamp > blk.MaxTs {
					t.Fatalf("%s: packet %d: offset %d, ts %d in block %+v; want offset %d", rd.name, blk.First+uint32(i), off, e.Timestamp, blk, e.Offset)
				}
			}
			wantRun := blk.First == 0 || f.entries[blk.First].Timestamp < f.entries[blk.First-1].Timestamp
			if blk.RunStart != wantRun {
				t.Errorf("%s: block at %d RunStart = %v; want %v", rd.name, blk.First, blk.RunStart, wantRun)
			}
			next += blk.Count
		}
		if next != rd.n {
			t.Errorf("%s: blocks cover %d packets; want %d", rd.name, next, rd.n)
		}
	}
	// The bloom filter knows every key and rejects most others.
	for _, term := range terms {
		if len(f.brute(term, 0, 5000)) > 0 && !fin.Bloom.MayMatch(term) {
			t.Errorf("Bloom.MayMatch(%+v) = false for a present key", term)
		}
	}
	falsePos := 0
	for i := range 1000 {
		a := mustAddr(fmt.Sprintf("172.16.%d.%d", i/256, i%256))
		if fin.Bloom.MayMatch(filter.Term{Kind: filter.TermIP, Addr: a, Bits: 128}) {
			falsePos++
		}
	}
	if falsePos > 50 {
		t.Errorf("bloom filter: %d of 1000 absent addresses may match; want few", falsePos)
	}
}

// TestIndexSize keeps an eye on the index's share of the data: about
// 10 bytes per packet is the budget.
func TestIndexSize(t *testing.T) {
	f := newFixture(t, 20000)
	b := NewBuilder(nil)
	b.Add(f.entries)
	data := b.Encode(0)
	per := float64(len(data)) / 20000
	t.Logf("index: %.1f bytes per packet", per)
	if per > 12 {
		t.Errorf("index takes %.1f bytes per packet; want <= 12", per)
	}
}

func TestAddAllocatesLittle(t *testing.T) {
	f := newFixture(t, 3000)
	b := NewBuilder(nil)
	b.Add(f.entries) // every key exists now
	allocs := testing.AllocsPerRun(10, func() { b.Add(f.entries[:256]) })
	// Appends to posting lists grow their buffers now and then; nothing is
	// allocated per packet.
	if allocs > 64 {
		t.Errorf("Add of 256 known packets allocates %v times; want amortised growth only", allocs)
	}
}

func BenchmarkAdd(b *testing.B) {
	f := newFixture(b, 100000)
	b.ReportAllocs()
	bl := NewBuilder(nil)
	for i := 0; b.Loop(); i++ {
		if i%100 == 0 {
			bl = NewBuilder(nil)
		}
		bl.Add(f.entries[(i%100)*1000 : (i%100)*1000+1000])
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*1000), "ns/packet")
}

func FuzzOpen(f *testing.F) {
	fx := newFixture(f, 600)
	b := NewBuilder([]decode.LinkType{1})
	b.Add(fx.entries)
	f.Add(b.Encode(1 << 20))
	small := NewBuilder(nil)
	small.Add(fx.entries[:3])
	f.Add(small.Encode(100))
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) >= headerLen {
			// Fix the header checksum so that mutations reach the sections.
			binary.LittleEndian.PutUint32(data[crcOff:], crc32.Checksum(data[:crcOff], crc32.MakeTable(crc32.Castagnoli)))
		}
		x, err := Open(data)
		if err != nil {
			return
		}
		for _, term := range terms {
			got, err := x.Lookup(term, 0, 1<<31, nil)
			if err == nil && !slices.IsSorted(got) {
				t.Fatalf("Lookup(%+v) not sorted", term)
			}
			x.Estimate(term)
			x.Bloom.MayMatch(term)
		}
		for _, blk := range x.Blocks() {
			x.Offsets(blk, nil)
		}
	})
}

func mustAddr(s string) decode.Addr {
	a, err := parseAddr(s)
	if err != nil {
		panic(err)
	}
	return a
}

// termHas reports whether k lies in t's set.
func termHas(t filter.Term, k key) bool {
	if t.Kind != k.kind {
		return false
	}
	if t.Kind == filter.TermIP {
		return filter.InPrefix(decode.Addr(k.v), t.Addr, t.Bits)
	}
	n := k.num()
	return n >= t.Lo && n <= t.Hi
}
