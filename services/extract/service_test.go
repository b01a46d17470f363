package extract

import (
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/filter"
	"github.com/multimeter-fw/multimeter/services/ringbuf"
	"github.com/multimeter-fw/multimeter/services/ringbuf/ringbuftest"
	"github.com/multimeter-fw/multimeter/services/tap"
	"github.com/multimeter-fw/multimeter/tools/trafficgen"
)

// instance is an analysis instance made of a real ring buffer Manager and
// a tap the test feeds with ringbuftest.Replay, standing where the engine
// will.
type instance struct {
	*ringbuf.Manager
	mu    sync.Mutex
	sinks []tap.Sink
}

func (in *instance) Attach(s tap.Sink) func() {
	in.mu.Lock()
	in.sinks = append(in.sinks, s)
	in.mu.Unlock()
	return func() {
		in.mu.Lock()
		defer in.mu.Unlock()
		for i, x := range in.sinks {
			if x == s {
				in.sinks = append(in.sinks[:i], in.sinks[i+1:]...)
			}
		}
	}
}

// Packet feeds the ring buffers and every attached live capture.
func (in *instance) Packet(shard int, p *decode.Packet, frame []byte, m *tap.Meta) {
	in.Manager.Packet(shard, p, frame, m)
	in.mu.Lock()
	sinks := append([]tap.Sink(nil), in.sinks...)
	in.mu.Unlock()
	for _, s := range sinks {
		s.Packet(shard, p, frame, m)
	}
}

func (in *instance) attached() int {
	in.mu.Lock()
	defer in.mu.Unlock()
	return len(in.sinks)
}

func newInstance(t *testing.T) *instance {
	t.Helper()
	dev := t.TempDir()
	m, err := ringbuf.OpenManager(ringbuf.Options{ConfigPath: filepath.Join(t.TempDir(), "rb.json"), Storage: []string{dev}}, testLog())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { m.Close() })
	return &instance{Manager: m}
}

func newServer(t *testing.T, in *instance) (*Service, *httptest.Server) {
	svc := NewService(Config{Hostname: "mm1", Instances: func(slot int) (Instance, bool) {
		if slot == 0 {
			return in, true
		}
		return nil, false
	}}, testLog())
	srv := httptest.NewServer(svc)
	t.Cleanup(srv.Close)
	return svc, srv
}

func get(t *testing.T, u string) (*http.Response, []byte) {
	t.Helper()
	resp, err := http.Get(u)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return resp, body
}

func TestHTTPFromBuffer(t *testing.T) {
	in := newInstance(t)
	_, srv := newServer(t, in)
	pkts := ringbuftest.Generate(trafficgen.Config{Seed: 41, Clients: 30}, 20000)
	ringbuftest.Replay(in, pkts, 2)
	start, end := pkts[5000].Timestamp, pkts[15000].Timestamp
	q := url.Values{"expression": {"ip==10.1.0.3 and l4Protocol==TCP"}, "STARTTIME": {fmt.Sprint(start / 1000)},
		"endtime": {fmt.Sprint(end / 1000)}, "fromCaptureBuffer": {"true"}, "format": {"pcapng"}}
	resp, body := get(t, srv.URL+"/API/data/modules/capture?"+q.Encode())
	if resp.StatusCode != 200 || resp.Header.Get("Content-Type") != "application/x-pcapng" {
		t.Fatalf("GET = %d %s: %s", resp.StatusCode, resp.Header.Get("Content-Type"), body)
	}
	p := filepath.Join(t.TempDir(), "got.pcapng")
	os.WriteFile(p, body, 0o644)
	got := readPcap(t, p)
	f := filter.MustParse("ip==10.1.0.3 and l4Protocol==TCP")
	var want []ringbuftest.Packet
	var dp decodePacket
	for _, pk := range pkts {
		// Times are microseconds in the API: the window is cut there.
		if pk.Timestamp < start/1000*1000 || pk.Timestamp >= end/1000*1000 {
			continue
		}
		if f.Match(dp.of(pk), nil) {
			want = append(want, pk)
		}
	}
	if len(want) == 0 {
		t.Fatal("test selects nothing")
	}
	samePackets(t, "HTTP extraction", want, got)
}

func TestHTTPErrors(t *testing.T) {
	in := newInstance(t)
	_, srv := newServer(t, in)
	tests := []struct {
		query  string
		status int
		msg    string
	}{
		{"expression=ip==10.1.2.3%20and", 400, "parameter expression: position 17: expected field name or '(' at end of expression"},
		{"startTime=abc", 400, "parameter startTime: \"abc\" is not a time in microseconds since 1970"},
		{"endTime=now", 400, "parameter timespan: required with endTime=now and no startTime"},
		{"fromCaptureBuffer=true&captureBufferSlotId=3", 400, "parameter captureBufferSlotId: extract: not found: no ring buffer 3"},
		{"mm-id=:4", 404, "extract: not found: analysis slot 4"},
		{"mm-id=other:0", 400, "parameter mm-id: unknown device \"other\""},
		{"snapPacketLength=0", 400, "parameter snapPacketLength: \"0\": want 1–65535"},
		{"format=erf", 400, "parameter format: \"erf\": want pcap or pcapng"},
	}
	for _, tt := range tests {
		resp, body := get(t, srv.URL+"/API/data/modules/capture?"+tt.query)
		var e struct {
			Error  string
			Status int
		}
		json.Unmarshal(body, &e)
		if resp.StatusCode != tt.status || e.Status != tt.status || e.Error != tt.msg {
			t.Errorf("GET ?%s = %d %s; want %d %q", tt.query, resp.StatusCode, body, tt.status, tt.msg)
		}
	}
}

// TestLiveCapture streams a live capture over HTTP while packets flow,
// stops it from the registry and checks what arrived and the counters.
func TestLiveCapture(t *testing.T) {
	in := newInstance(t)
	svc, srv := newServer(t, in)
	resp, err := http.Get(srv.URL + "/API/data/modules/capture?expression=port==53")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	for in.attached() == 0 {
		time.Sleep(time.Millisecond)
	}
	pkts := ringbuftest.Generate(trafficgen.Config{Seed: 42}, 5000)
	ringbuftest.Replay(in, pkts, 1)
	list := svc.Registry.List()
	if len(list) != 1 || list[0].State != StateRunning || !list[0].Live {
		t.Fatalf("Registry.List() = %+v; want one running live capture", list)
	}
	if err := svc.Registry.Stop(list[0].ID); err != nil {
		t.Fatal(err)
	}
	body, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	p := filepath.Join(t.TempDir(), "live.pcap")
	os.WriteFile(p, body, 0o644)
	got := readPcap(t, p)
	f := filter.MustParse("port==53")
	var want []ringbuftest.Packet
	var dp decodePacket
	for _, pk := range pkts {
		if f.Match(dp.of(pk), nil) {
			want = append(want, pk)
		}
	}
	samePackets(t, "live capture", want, got) // one shard: arrival order is capture order
	var info CaptureInfo
	for info.State == "" || info.State == StateRunning {
		info = svc.Registry.List()[0]
	}
	if info.State != StateStopped || info.Captured != uint64(len(want)) || info.Ignored != uint64(len(pkts)-len(want)) || info.Dropped != 0 {
		t.Errorf("capture info = %+v; want stopped, %d captured, %d ignored", info, len(want), len(pkts)-len(want))
	}
	if in.attached() != 0 {
		t.Errorf("live capture still attached after it ended")
	}
}

// TestLiveCaptureEndsWhenClientLeaves: a live capture runs until the
// client goes away (Ctrl-C on curl, over HTTP/2 as curl speaks it);
// that ends it as asked, not as a failure.
func TestLiveCaptureEndsWhenClientLeaves(t *testing.T) {
	in := newInstance(t)
	svc := NewService(Config{Hostname: "mm1", Instances: func(slot int) (Instance, bool) { return in, slot == 0 }}, testLog())
	srv := httptest.NewUnstartedServer(svc)
	srv.EnableHTTP2 = true
	srv.StartTLS()
	defer srv.Close()
	resp, err := srv.Client().Get(srv.URL + "/API/data/modules/capture?expression=port==53")
	if err != nil {
		t.Fatal(err)
	}
	if resp.ProtoMajor != 2 {
		t.Fatalf("the test server speaks HTTP/%d; want 2", resp.ProtoMajor)
	}
	for in.attached() == 0 {
		time.Sleep(time.Millisecond)
	}
	pkts := ringbuftest.Generate(trafficgen.Config{Seed: 44}, 5000)
	ringbuftest.Replay(in, pkts, 1)
	resp.Body.Close() // Ctrl-C
	var info CaptureInfo
	for info.State == "" || info.State == StateRunning {
		time.Sleep(time.Millisecond)
		info = svc.Registry.List()[0]
	}
	if info.State != StateDone || info.Error != "" || info.Captured == 0 {
		t.Errorf("capture info after the client left = %+v; want done, no error, packets captured", info)
	}
	if in.attached() != 0 {
		t.Errorf("live capture still attached after its client left")
	}
}

// TestLiveDropsWhenFull checks that a live capture whose client does not
// read counts what it drops instead of blocking the analysis.
func TestLiveDropsWhenFull(t *testing.T) {
	l := NewLive(filter.MustParse(""), time.Time{}, time.Time{}, 64<<10)
	pkts := ringbuftest.Generate(trafficgen.Config{Seed: 43}, 2000)
	ringbuftest.Replay(l, pkts, 2)
	c, d, i := l.Counters()
	if c+d != uint64(len(pkts)) || d == 0 || i != 0 {
		t.Errorf("Counters() = %d, %d, %d; want captured + dropped = %d, some dropped", c, d, i, len(pkts))
	}
}

func TestCaptureToMedia(t *testing.T) {
	in := newInstance(t)
	_, srv := newServer(t, in)
	pkts := ringbuftest.Generate(trafficgen.Config{Seed: 44}, 3000)
	ringbuftest.Replay(in, pkts, 2)
	resp, body := get(t, srv.URL+"/API/data/modules/capture?fromCaptureBuffer=true&captureToMedia=true&startTime=0")
	var info CaptureInfo
	if err := json.Unmarshal(body, &info); err != nil || resp.StatusCode != 200 {
		t.Fatalf("GET = %d %s", resp.StatusCode, body)
	}
	dir, _ := in.PcapDir()
	got := readPcap(t, filepath.Join(dir, info.FileName))
	samePackets(t, "captureToMedia", pkts, got)
	if info.Captured != uint64(len(pkts)) || info.State != StateDone || !strings.HasSuffix(info.FileName, ".pcap") {
		t.Errorf("info = %+v; want done, %d captured, a .pcap file", info, len(pkts))
	}
}

func TestParseRequest(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	tests := []struct {
		query string
		want  Request
	}{
		{"", Request{SnapLen: 65535, Format: "pcap"}},
		{"expression=ip==10.1.2.3&starttime=1000000&ENDTIME=3000000&fromcapturebuffer=TRUE&capturebufferslotid=2&snapPacketLength=96&format=PCAPNG&mm-id=:1",
			Request{Expression: "ip==10.1.2.3", Start: time.UnixMicro(1000000), End: time.UnixMicro(3000000), FromCaptureBuffer: true,
				BufferID: 2, SnapLen: 96, Format: "pcapng", Slot: 1}},
		{"endTime=now&timespan=60&captureToMedia=1&unknown=x", Request{Start: now.Add(-time.Minute), End: now, ToMedia: true, SnapLen: 65535, Format: "pcap"}},
		{"startTime=5&endTime=now", Request{Start: time.UnixMicro(5), End: now, SnapLen: 65535, Format: "pcap"}},
	}
	for _, tt := range tests {
		q, _ := url.ParseQuery(tt.query)
		got, err := ParseRequest(q, now)
		if err != nil {
			t.Errorf("ParseRequest(%q): %v", tt.query, err)
			continue
		}
		got.Filter = nil
		if diff := cmp.Diff(tt.want, *got); diff != "" {
			t.Errorf("ParseRequest(%q) differs (-want +got):\n%s", tt.query, diff)
		}
	}
	for _, bad := range []string{"startTime=-1", "startTime=2&endTime=1", "timespan=0&endTime=now", "captureBufferSlotId=256",
		"fromCaptureBuffer=maybe", "mm-id=:x", "expression=ip=="} {
		q, _ := url.ParseQuery(bad)
		var pe *ParamError
		if _, err := ParseRequest(q, now); !errors.As(err, &pe) {
			t.Errorf("ParseRequest(%q) = %v; want a *ParamError", bad, err)
		}
	}
}

func FuzzParseRequest(f *testing.F) {
	f.Add("expression=ip==10.1.2.3&startTime=1&endTime=2&fromCaptureBuffer=true")
	f.Add("endTime=now&timespan=3600&snapPacketLength=96&format=pcapng&mm-id=dev:1")
	f.Fuzz(func(t *testing.T, raw string) {
		q, err := url.ParseQuery(raw)
		if err != nil {
			return
		}
		r, err := ParseRequest(q, time.Unix(1_800_000_000, 0))
		if err != nil {
			var pe *ParamError
			if !errors.As(err, &pe) {
				t.Fatalf("ParseRequest(%q) = %v; want a *ParamError", raw, err)
			}
			return
		}
		if r.Filter == nil || r.SnapLen < 1 || r.SnapLen > 65535 || (!r.Start.IsZero() && !r.End.IsZero() && !r.Start.Before(r.End)) {
			t.Fatalf("ParseRequest(%q) = %+v: invalid request accepted", raw, r)
		}
	})
}
