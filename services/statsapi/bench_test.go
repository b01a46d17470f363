package statsapi

import (
	"fmt"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"runtime"
	"sync"
	"testing"
	"time"

	"github.com/multimeter-fw/multimeter/services/analysis"
	"github.com/multimeter-fw/multimeter/services/analysis/flow"
	"github.com/multimeter-fw/multimeter/services/analysis/ip"
	"github.com/multimeter-fw/multimeter/services/api"
	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/engine"
	"github.com/multimeter-fw/multimeter/services/l7proto"
	"github.com/multimeter-fw/multimeter/services/stats"
)

// The store of the performance targets: a million IPs, two million
// connections, spread over some seconds of history.
const (
	bigIPs     = 1_000_000
	bigConns   = 2_000_000
	bigSeconds = 10
	bigStart   = 1_772_400_000
)

var (
	bigOnce sync.Once
	bigRT   *api.Router
)

func bigAddr(i int) decode.Addr {
	return decode.AddrFrom4([4]byte{10, byte(i >> 16), byte(i >> 8), byte(i)})
}

// bigRouter fills an engine's store the way the merge goroutine does,
// with flow records of 2M connections between 1M IPs, and serves it.
func bigRouter(b *testing.B) *api.Router {
	bigOnce.Do(func() {
		t0 := time.Now()
		cfg := engine.Config{Stats: stats.Config{HistoryBytes: 1 << 30}}
		eng, err := engine.New(cfg, nil)
		if err != nil {
			b.Fatal(err)
		}
		reg, err := engine.NewRegistry(eng, smallConfig(), 1, nil)
		if err != nil {
			b.Fatal(err)
		}
		st := eng.Stats()
		perSecond := bigConns / bigSeconds
		acc := ip.NewAcc(2*perSecond, analysis.LevelAll)
		var r flow.Record
		for s := range bigSeconds {
			sec := int64(bigStart + s)
			st.Store.Lock()
			acc.Reset()
			for i := s * perSecond; i < (s+1)*perSecond; i++ {
				a, bb := bigAddr(i%bigIPs), bigAddr((i*7919+i/bigIPs+1)%bigIPs)
				r = flow.Record{
					Key:   flow.Key{A: a, B: bb, PortA: uint16(32768 + i%28000), PortB: 443, Proto: decode.ProtoTCP},
					Sent:  [2]flow.Dir{{Packets: uint32(1 + i%7), Bytes: uint64(60 + i%1400)}, {Packets: uint32(1 + i%5), Bytes: uint64(60 + i%900)}},
					New:   true,
					App:   l7proto.TLS,
					MAC:   [2]decode.MAC{{2, 0, 0, byte(i >> 16), byte(i >> 8), byte(i)}, {2, 1, 0, 0, 0, 1}},
					State: 3,
				}
				if r.Key.A == r.Key.B {
					continue
				}
				if decodeLess(r.Key.B, r.Key.A) {
					r.Key.A, r.Key.B = r.Key.B, r.Key.A
					r.ClientSide = 1
				}
				st.Conns.Merge(sec, &r)
				acc.AddFlow(&r)
			}
			st.IP.Merge(sec, acc)
			st.Store.Unlock()
			st.Store.Complete(sec) // takes the lock itself
		}
		a, err := newAuth(b.TempDir())
		if err != nil {
			b.Fatal(err)
		}
		bigRT = api.New(api.Config{Instances: slotsOf{reg}}, a, slog.New(slog.DiscardHandler))
		Register(bigRT, nil, Config{Instances: reg})
		runtime.GC() // the requests should not pay for the filling's garbage
		fmt.Fprintf(os.Stderr, "store: %d IPs, %d connections, %d s of history, filled in %v\n",
			st.IP.IPs.Len(0), st.Conns.Conns.Len(0), bigSeconds, time.Since(t0).Round(time.Millisecond))
	})
	if bigRT == nil {
		b.Fatal("no store")
	}
	return bigRT
}

func decodeLess(a, b decode.Addr) bool {
	for i := range a {
		if a[i] != b[i] {
			return a[i] < b[i]
		}
	}
	return false
}

func benchGet(b *testing.B, path string) {
	rt := bigRouter(b)
	req := httptest.NewRequest(http.MethodGet, "https://mm"+path, nil)
	req.SetBasicAuth("viewer", "viewer-password")
	b.ResetTimer()
	for b.Loop() {
		rec := httptest.NewRecorder()
		rt.ServeHTTP(rec, req)
		if rec.Code != http.StatusOK {
			b.Fatalf("GET %s = %d %s", path, rec.Code, rec.Body)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Microseconds())/float64(b.N)/1000, "ms/op")
}

// BenchmarkTop10IPsByBps is ips_paged?sort=bps&count=10 over 1M IPs
// (target: under 20 ms), with the history of each of the ten.
func BenchmarkTop10IPsByBps(b *testing.B) {
	benchGet(b, "/API/stats/modules/ip/ips_paged?sort=bps&reverse=true&count=10")
}

func BenchmarkTop10IPsByBytesInterval(b *testing.B) {
	benchGet(b, fmt.Sprintf("/API/stats/modules/ip/ips_paged?sort=bytes&reverse=true&count=10&starttime=%d&endtime=%d&skiphistorydata=true",
		bigStart+2, bigStart+6))
}

// BenchmarkOneIP is ips/<ip> with its history (target: under 2 ms).
func BenchmarkOneIP(b *testing.B) {
	benchGet(b, "/API/stats/modules/ip/ips/"+bigAddr(123457).String())
}

func BenchmarkPeersOfOneIP(b *testing.B) {
	benchGet(b, "/API/stats/modules/ip/ips/"+bigAddr(123457).String()+"/peers?sort=bytes&reverse=true&count=9999")
}

func BenchmarkTop10Connections(b *testing.B) {
	benchGet(b, "/API/stats/modules/ip/globalConnections?sort=bytes&reverse=true&count=10&skiphistorydata=true")
}
