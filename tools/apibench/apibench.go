// Package apibench measures whether the statistics API keeps answering
// while the analyzer runs at full speed, and what the API costs the
// analyzer (make bench-api). It replays a generated capture through an
// analysis instance three times, as fast as the analyzer takes it: alone,
// while clients on loopback call the statistics API over HTTPS (the
// daemon's router, auth and TLS) at a steady rate, as browsers and
// scripts polling it would, and while they call it as fast as they can.
// It prints the analyzer's packet rate each time and the latency (p50,
// p99, max) of each endpoint under both loads.
package apibench

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"text/tabwriter"
	"time"

	"github.com/multimeter-fw/multimeter/services/api"
	"github.com/multimeter-fw/multimeter/services/auth"
	"github.com/multimeter-fw/multimeter/services/capture/filesource"
	"github.com/multimeter-fw/multimeter/services/engine"
	"github.com/multimeter-fw/multimeter/services/role"
	"github.com/multimeter-fw/multimeter/services/statsapi"
	"github.com/multimeter-fw/multimeter/services/tlscert"
	"github.com/multimeter-fw/multimeter/tools/trafficgen"
)

// Config sizes the benchmark. Zero values mean the defaults.
type Config struct {
	Dir     string // scratch directory; required
	Packets int    // packets in the generated capture; default 4,000,000
	Clients int    // concurrent API clients; default 4
	Hosts   int    // client hosts in the capture; default 20,000
	Rate    int    // requests per second of all clients in the paced run; default 200
}

func (c *Config) fillDefaults() {
	if c.Packets <= 0 {
		c.Packets = 4_000_000
	}
	if c.Clients <= 0 {
		c.Clients = 4
	}
	if c.Hosts <= 0 {
		c.Hosts = 20_000
	}
	if c.Rate <= 0 {
		c.Rate = 200
	}
}

// The requests the clients send in turn: what the UI and scripts ask
// most. 10.2.0.1 is the generator's first server.
var requests = []string{
	"/API/stats/modules/ip/ips_paged?sort=bps&reverse=true&page=0&count=10",
	"/API/stats/modules/ip/ips/10.2.0.1",
	"/API/stats/modules/ip/ips/10.2.0.1/peers?sort=bytes&reverse=true&count=100&skiphistorydata=true",
	"/API/stats/modules/ip/globalConnections?sort=bytes&reverse=true&count=10&skiphistorydata=true",
	"/API/stats/interfaces",
	"/API/stats/load",
}

const (
	user     = "bench"
	password = "bench-password-1"
)

// Run generates the capture, runs the three replays and prints the
// figures.
func Run(ctx context.Context, cfg Config, out io.Writer, log *slog.Logger) error {
	cfg.fillDefaults()
	if cfg.Dir == "" {
		return errors.New("apibench: no scratch directory")
	}
	loadavg, _ := os.ReadFile("/proc/loadavg")
	fmt.Fprintf(out, "machine load average before the runs: %s", loadavg)
	pcap := filepath.Join(cfg.Dir, "mix.pcap")
	t0 := time.Now()
	if err := writeCapture(pcap, cfg); err != nil {
		return err
	}
	fmt.Fprintf(out, "capture: %d packets, %d client hosts, written in %v\n", cfg.Packets, cfg.Hosts, time.Since(t0).Round(time.Millisecond))

	alone, err := replay(ctx, cfg, pcap, load{}, log)
	if err != nil {
		return err
	}
	fmt.Fprintf(out, "analyzer alone: %s\n", alone.rate())
	for _, l := range []load{{clients: cfg.Clients, rate: cfg.Rate}, {clients: cfg.Clients}} {
		loaded, err := replay(ctx, cfg, pcap, l, log)
		if err != nil {
			return err
		}
		fmt.Fprintf(out, "\nanalyzer with %s: %s (%.0f%% of alone); %d requests (%.0f/s)\n", l, loaded.rate(),
			100*alone.elapsed.Seconds()/loaded.elapsed.Seconds(), loaded.requests(), float64(loaded.requests())/loaded.elapsed.Seconds())
		if err := loaded.printLatencies(out); err != nil {
			return err
		}
	}
	return nil
}

// load is the API clients of one replay.
type load struct {
	clients int
	rate    int // requests per second of all clients; 0: as fast as they go
}

func (l load) String() string {
	if l.rate == 0 {
		return fmt.Sprintf("%d API clients as fast as they go", l.clients)
	}
	return fmt.Sprintf("%d API clients at %d requests/s", l.clients, l.rate)
}

func (r *result) printLatencies(out io.Writer) error {
	tw := tabwriter.NewWriter(out, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "endpoint\trequests\terrors\tp50 ms\tp99 ms\tmax ms\t")
	for i, path := range requests {
		l := r.latencies[i]
		slices.Sort(l)
		fmt.Fprintf(tw, "%s\t%d\t%d\t%.2f\t%.2f\t%.2f\t\n", strings.TrimPrefix(path, "/API/stats"), len(l), r.errors[i],
			ms(percentile(l, 0.5)), ms(percentile(l, 0.99)), ms(percentile(l, 1)))
	}
	return tw.Flush()
}

func writeCapture(path string, cfg Config) error {
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	g := trafficgen.New(trafficgen.Config{Seed: 1, Clients: cfg.Hosts, Servers: cfg.Hosts / 10, Active: 256})
	if err := trafficgen.WritePcap(f, g, cfg.Packets); err != nil {
		f.Close()
		return err
	}
	return f.Close()
}

// result is one replay.
type result struct {
	packets   uint64 // analysed
	dropped   uint64 // not analysed (overload; a file replay waits instead)
	elapsed   time.Duration
	latencies [][]time.Duration // per request
	errors    []int             // per request: failed or not 200/404
}

func (r *result) rate() string {
	return fmt.Sprintf("%d packets analysed (%d dropped) in %v = %.0f packets/s", r.packets, r.dropped,
		r.elapsed.Round(time.Millisecond), float64(r.packets)/r.elapsed.Seconds())
}

func (r *result) requests() int {
	n := 0
	for _, l := range r.latencies {
		n += len(l)
	}
	return n
}

// replay analyses the capture with a fresh instance behind a served API,
// with clients calling it all along.
func replay(ctx context.Context, cfg Config, pcap string, l load, log *slog.Logger) (*result, error) {
	eng, err := engine.New(engine.Config{}, log)
	if err != nil {
		return nil, err
	}
	reg, err := engine.NewRegistry(eng, engine.SlotConfig(), 1, log)
	if err != nil {
		return nil, err
	}
	url, stop, err := serve(cfg.Dir, reg, log)
	if err != nil {
		return nil, err
	}
	defer stop()
	src, err := filesource.Open(pcap, filesource.Config{})
	if err != nil {
		return nil, err
	}
	res := &result{latencies: make([][]time.Duration, len(requests)), errors: make([]int, len(requests))}
	loadCtx, stopLoad := context.WithCancel(ctx)
	var wg sync.WaitGroup
	var mu sync.Mutex
	for c := range l.clients {
		wg.Go(func() {
			var every time.Duration
			if l.rate > 0 {
				every = time.Duration(l.clients) * time.Second / time.Duration(l.rate)
			}
			lat, errs := hammer(loadCtx, url, c, every)
			mu.Lock()
			defer mu.Unlock()
			for i := range requests {
				res.latencies[i] = append(res.latencies[i], lat[i]...)
				res.errors[i] += errs[i]
			}
		})
	}
	t0 := time.Now()
	err = eng.Run(ctx, src)
	res.elapsed = time.Since(t0)
	stopLoad()
	wg.Wait()
	if err != nil {
		return nil, err
	}
	p := eng.Processed()
	res.packets, res.dropped = p.Packets, p.Dropped
	return res, nil
}

// hammer sends the requests in turn until ctx ends, starting at a
// different one per client, one every so often (0: each as soon as the
// previous one is answered).
func hammer(ctx context.Context, url string, client int, every time.Duration) ([][]time.Duration, []int) {
	hc := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, MaxIdleConnsPerHost: 1}}
	defer hc.CloseIdleConnections()
	// The first request pays for the TLS handshake and the first check
	// of the password against its argon2id hash, which later requests
	// skip: not measured.
	if req, err := http.NewRequestWithContext(ctx, http.MethodGet, url+"/API/stats/load", nil); err == nil {
		req.SetBasicAuth(user, password)
		if resp, err := hc.Do(req); err == nil {
			io.Copy(io.Discard, resp.Body)
			resp.Body.Close()
		}
	}
	lat := make([][]time.Duration, len(requests))
	errs := make([]int, len(requests))
	next := time.Now()
	for i := client; ctx.Err() == nil; i++ {
		if every > 0 {
			// A steady schedule; a late answer delays the next request
			// rather than causing a burst.
			next = next.Add(every)
			if wait := time.Until(next); wait > 0 {
				select {
				case <-time.After(wait):
				case <-ctx.Done():
					continue
				}
			} else {
				next = time.Now()
			}
		}
		n := i % len(requests)
		req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url+requests[n], nil)
		req.SetBasicAuth(user, password)
		t0 := time.Now()
		resp, err := hc.Do(req)
		if err != nil {
			if ctx.Err() == nil {
				errs[n]++
			}
			continue
		}
		_, err = io.Copy(io.Discard, resp.Body)
		resp.Body.Close()
		if err != nil && ctx.Err() != nil {
			continue
		}
		lat[n] = append(lat[n], time.Since(t0))
		if err != nil || (resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusNotFound) {
			errs[n]++
		}
	}
	return lat, errs
}

// serve runs the statistics API of reg over HTTPS on loopback, wired as
// the daemon wires it, with a stats user.
func serve(dir string, reg *engine.Registry, log *slog.Logger) (string, func(), error) {
	sub, err := os.MkdirTemp(dir, "api-")
	if err != nil {
		return "", nil, err
	}
	a, err := auth.New(auth.Config{UsersFile: filepath.Join(sub, "users.json"), AdminPassword: "admin-password-1", Console: io.Discard}, log)
	if err != nil {
		return "", nil, err
	}
	if _, err := a.CreateUser(context.Background(), user, password, role.Stats); err != nil {
		return "", nil, err
	}
	certs, err := tlscert.Open(filepath.Join(sub, "tls"), "localhost")
	if err != nil {
		return "", nil, err
	}
	rt := api.New(api.Config{Instances: slots{reg}}, a, log)
	statsapi.Register(rt, nil, statsapi.Config{Instances: reg, Log: log})
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", nil, err
	}
	srv := &http.Server{Handler: rt, TLSConfig: &tls.Config{GetCertificate: certs.GetCertificate}, ReadHeaderTimeout: 10 * time.Second}
	done := make(chan struct{})
	go func() {
		srv.ServeTLS(ln, "", "")
		close(done)
	}()
	return "https://" + ln.Addr().String(), func() {
		srv.Close()
		<-done
	}, nil
}

type slots struct{ reg *engine.Registry }

func (s slots) HasSlot(n int) bool {
	_, ok := s.reg.Get(n)
	return ok
}

func percentile(sorted []time.Duration, p float64) time.Duration {
	if len(sorted) == 0 {
		return 0
	}
	return sorted[min(int(p*float64(len(sorted))), len(sorted)-1)]
}

func ms(d time.Duration) float64 { return float64(d.Microseconds()) / 1000 }
