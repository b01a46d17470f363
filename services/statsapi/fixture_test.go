package statsapi

import (
	"context"
	"encoding/json"
	"io"
	"iter"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/multimeter-fw/multimeter/services/api"
	"github.com/multimeter-fw/multimeter/services/auth"
	"github.com/multimeter-fw/multimeter/services/capture/filesource"
	"github.com/multimeter-fw/multimeter/services/engine"
	"github.com/multimeter-fw/multimeter/services/passhash"
	"github.com/multimeter-fw/multimeter/services/role"
	"github.com/multimeter-fw/multimeter/services/stats"
	"github.com/multimeter-fw/multimeter/services/ws"
	"github.com/multimeter-fw/multimeter/tools/peertest"
	"github.com/multimeter-fw/multimeter/tools/trafficgen"
)

// fixture is the statistics API over real TLS with the real auth service
// and router, in front of a registry whose main instance analysed one
// generated capture (main.pcap: VLAN 10 is virtual link group 1) and
// whose pcap slot 1 another (slot1.pcap). Users: admin, viewer (stats),
// capturer (pcap); passwords are name+"-password".
type fixture struct {
	srv   *httptest.Server
	rt    *api.Router
	reg   *engine.Registry
	hub   *ws.Hub
	pcaps map[int]string // by slot
}

var (
	fixtureOnce sync.Once
	shared      *fixture
	fixtureErr  error
)

// smallConfig keeps the tables small enough for tests.
func smallConfig() engine.Config {
	return engine.Config{
		Shards: 2,
		Capacities: engine.Capacities{
			FlowsPerShard: 1 << 15, Connections: 1 << 15, IPs: 1 << 13, IPPeers: 1 << 15, IPPorts: 1 << 15,
			IPProtocols: 1 << 14, IPMACs: 1 << 14, MACs: 1 << 13, MACPeers: 1 << 14, MACProtocols: 1 << 13,
			ServerPorts: 1 << 13, Small: 1 << 13, Names: 1 << 13, PerSecond: 1 << 14,
		},
		Stats: stats.Config{HistoryBytes: 32 << 20},
	}
}

// newFixture builds the fixture once for the package's tests: analysing
// the captures is the slow part, and no test changes the statistics
// (the reset test uses its own registry).
func newFixture(t testing.TB) *fixture {
	t.Helper()
	fixtureOnce.Do(func() { shared, fixtureErr = buildFixture() })
	if fixtureErr != nil {
		t.Fatal(fixtureErr)
	}
	return shared
}

func buildFixture() (*fixture, error) {
	dir, err := os.MkdirTemp("", "statsapi-test")
	if err != nil {
		return nil, err
	}
	start := time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)
	f := &fixture{pcaps: map[int]string{
		0: filepath.Join(dir, "main.pcap"),
		1: filepath.Join(dir, "slot1.pcap"),
	}}
	if err := writePcap(f.pcaps[0], trafficgen.Config{Seed: 1, Start: start, PacketsPerSecond: 2000}, 20000); err != nil {
		return nil, err
	}
	if err := writePcap(f.pcaps[1], trafficgen.Config{Seed: 2, Start: start.Add(time.Hour), PacketsPerSecond: 1000, Clients: 50}, 5000); err != nil {
		return nil, err
	}
	cfg := smallConfig()
	cfg.Groups = []engine.GroupRule{{Name: "vlan10", VLANs: []uint16{10}}}
	main, err := engine.New(cfg, nil)
	if err != nil {
		return nil, err
	}
	if f.reg, err = engine.NewRegistry(main, smallConfig(), 4, nil); err != nil {
		return nil, err
	}
	slot1, err := f.reg.Open(1, true)
	if err != nil {
		return nil, err
	}
	for slot, e := range map[int]*engine.Engine{0: main, 1: slot1} {
		src, err := filesource.Open(f.pcaps[slot], filesource.Config{})
		if err != nil {
			return nil, err
		}
		if err := e.Run(context.Background(), src); err != nil {
			return nil, err
		}
	}
	a, err := newAuth(dir)
	if err != nil {
		return nil, err
	}
	log := slog.New(slog.DiscardHandler)
	f.rt = api.New(api.Config{Hostname: "mm-test", Instances: slotsOf{f.reg}}, a, log)
	f.hub = ws.New(ws.Config{Interval: 100 * time.Millisecond}, a, log)
	f.rt.HandleRaw("GET", "/API/ws", 0, func(w http.ResponseWriter, r *api.Request) { f.hub.Serve(w, r.HTTP, r.Principal) })
	Register(f.rt, f.hub, Config{Instances: f.reg, Hostname: "mm-test"})
	go f.hub.Run(context.Background()) // lives as long as the test binary
	f.srv = httptest.NewTLSServer(f.rt)
	return f, nil
}

func newAuth(dir string) (*auth.Service, error) {
	a, err := auth.New(auth.Config{
		UsersFile:     filepath.Join(dir, "users.json"),
		AdminPassword: "admin-password",
		HashParams:    passhash.Params{MemoryKiB: 64, Time: 1, Threads: 1},
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		return nil, err
	}
	for name, roles := range map[string]role.Set{"viewer": role.Stats, "capturer": role.Pcap} {
		if _, err := a.CreateUser(context.Background(), name, name+"-password", roles); err != nil {
			return nil, err
		}
	}
	return a, nil
}

type slotsOf struct{ reg *engine.Registry }

func (s slotsOf) HasSlot(n int) bool {
	_, ok := s.reg.Get(n)
	return ok
}

func writePcap(path string, cfg trafficgen.Config, n int) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	if err := trafficgen.WritePcap(f, trafficgen.New(cfg), n); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

type response struct {
	status int
	header http.Header
	body   []byte
}

// get sends a GET as user (its password is user+"-password").
func (f *fixture) get(t testing.TB, path, user string, header ...string) response {
	t.Helper()
	return f.do(t, http.MethodGet, path, user, header...)
}

func (f *fixture) do(t testing.TB, method, path, user string, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, f.srv.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	req.SetBasicAuth(user, user+"-password")
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := f.srv.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

// getJSON GETs as admin and decodes a 200 answer into v.
func (f *fixture) getJSON(t testing.TB, path string, v any) {
	t.Helper()
	r := f.get(t, path, "admin")
	if r.status != http.StatusOK {
		t.Fatalf("GET %s = %d %s", path, r.status, r.body)
	}
	if err := json.Unmarshal(r.body, v); err != nil {
		t.Fatalf("GET %s: %v\n%s", path, err, r.body)
	}
}

// tsharkFields runs tshark over a capture with a display filter and
// returns the requested fields of each frame.
func tsharkFields(t testing.TB, pcap, filter string, fields ...string) [][]string {
	t.Helper()
	args := []string{"-r", pcap, "-T", "fields", "-E", "separator=/t", "-E", "occurrence=f"}
	if filter != "" {
		args = append(args, "-Y", filter)
	}
	for _, f := range fields {
		args = append(args, "-e", f)
	}
	var rows [][]string
	for line := range splitLines(string(peertest.Tshark(t, args...))) {
		rows = append(rows, strings.Split(line, "\t"))
	}
	return rows
}

func splitLines(s string) iter.Seq[string] {
	return func(yield func(string) bool) {
		for l := range strings.Lines(s) {
			if !yield(strings.TrimRight(l, "\n")) {
				return
			}
		}
	}
}
