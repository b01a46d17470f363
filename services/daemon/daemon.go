// Package daemon wires the appliance's services together: it is the one
// place that builds every subsystem from the configuration and owns their
// lifetimes. Only main packages import it.
//
//	err := daemon.Run(ctx, daemon.Config{DataDir: "/perm", Listen: ":443"}, logger)
package daemon

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"math"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/multimeter-fw/multimeter/services/analysisapi"
	"github.com/multimeter-fw/multimeter/services/api"
	"github.com/multimeter-fw/multimeter/services/auth"
	"github.com/multimeter-fw/multimeter/services/authapi"
	"github.com/multimeter-fw/multimeter/services/consoleadmin"
	"github.com/multimeter-fw/multimeter/services/engine"
	"github.com/multimeter-fw/multimeter/services/httpsredirect"
	"github.com/multimeter-fw/multimeter/services/logring"
	"github.com/multimeter-fw/multimeter/services/role"
	"github.com/multimeter-fw/multimeter/services/sysinfo"
	"github.com/multimeter-fw/multimeter/services/tlscert"
	"github.com/multimeter-fw/multimeter/services/version"
	"github.com/multimeter-fw/multimeter/services/ws"
)

// Config is what main hands the daemon. The zero value of optional fields
// means the default.
type Config struct {
	DataDir            string    // persistent state: config, users, certificates
	Listen             string    // HTTPS address, ":443" in the image
	HTTPRedirectListen string    // plain HTTP address that only redirects to HTTPS (":80" in the image); "" for none
	AdminSocket        string    // Unix socket for setting the admin password at the console (package consoleadmin); "" for none
	Replay             []string  // pcap/pcapng files fed to the main instance as a monitor port
	ReplaySpeed        float64   // 0: as fast as the analysis takes them; else the recorded pace times this
	Ifaces             []string  // monitor interfaces
	Bridges            []string  // bridged monitor port pairs, "a,b" (monitor ports too)
	Storage            []string  // ring buffer storage directories (natively)
	UploadLimit        int64     // largest pcap upload in bytes; 4 GiB by default
	AdminPassword      string    // initial admin password for a fresh data directory
	Console            io.Writer // where a generated first-boot admin password is shown once; os.Stderr by default
	Model              string    // model profile name; "virtual" by default
	Hostname           string    // defaults to os.Hostname
	BootSlot           string    // firmware slot this boot came from ("native" when not in the image)

	// Logs keeps recent log lines, served at GET /API/system/log; nil for none.
	Logs *logring.Ring

	// AnalysisFile holds the main analysis instance's configuration
	// (engine.Config as JSON; PUT /API/system/analysis saves it); default
	// DataDir/analysis.json, the defaults while it does not exist.
	AnalysisFile string

	analysis engine.Config // read from AnalysisFile at the start
	memory   int64         // the machine's memory in bytes; 0: unknown
}

// Validate reports the first configuration mistake.
func (c *Config) Validate() error {
	if c.DataDir == "" {
		return errors.New("daemon: data directory not set")
	}
	if c.Listen == "" {
		return errors.New("daemon: listen address not set")
	}
	return nil
}

func (c *Config) fillDefaults() {
	if c.Model == "" {
		c.Model = "virtual"
	}
	if c.Hostname == "" {
		c.Hostname, _ = os.Hostname()
	}
	if c.BootSlot == "" {
		c.BootSlot = "native"
	}
	if c.Console == nil {
		c.Console = os.Stderr
	}
	if c.AnalysisFile == "" {
		c.AnalysisFile = filepath.Join(c.DataDir, "analysis.json")
	}
}

// system is everything Run builds before it starts serving.
type system struct {
	certs    *tlscert.Store
	auth     *auth.Service
	hub      *ws.Hub
	router   *api.Router
	analysis *engine.Registry
	packets  *packets
	// handler serves the API and the browser UI.
	handler http.Handler
}

// close releases what build opened.
func (s *system) close() error { return s.packets.close() }

// build creates the data directory's state and the services, and puts
// every route into the API's table.
func build(cfg Config, log *slog.Logger) (*system, error) {
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return nil, fmt.Errorf("daemon: data directory: %w", err)
	}
	certs, err := tlscert.Open(filepath.Join(cfg.DataDir, "tls"), cfg.Hostname)
	if err != nil {
		return nil, err
	}
	authSvc, err := auth.New(auth.Config{
		UsersFile:     filepath.Join(cfg.DataDir, "users.json"),
		AdminPassword: cfg.AdminPassword,
		Console:       cfg.Console,
	}, log)
	if err != nil {
		return nil, err
	}
	analysis, err := newAnalysis(cfg, log)
	if err != nil {
		return nil, err
	}
	sys := sysinfo.New(sysinfo.Config{Model: cfg.Model, Hostname: cfg.Hostname, BootSlot: cfg.BootSlot})
	hub := ws.New(ws.Config{}, authSvc, log)
	hub.Register("system", 0, ws.ProviderFunc(func(ws.Request) (any, error) { return sys.Info(), nil }))

	rt := api.New(api.Config{Hostname: cfg.Hostname, Instances: analysisSlots{analysis}}, authSvc, log)
	rt.Handle("GET", "/API/info/system", 0, func(*api.Request) (any, error) { return sys.Info(), nil })
	rt.HandleRaw("GET", "/API/ws", 0, func(w http.ResponseWriter, r *api.Request) { hub.Serve(w, r.HTTP, r.Principal) })
	authapi.Register(rt, authSvc)
	if cfg.Logs != nil {
		rt.Handle("GET", "/API/system/log", role.Admin, func(r *api.Request) (any, error) {
			after, err := r.Query.Int("after", 0, 0, math.MaxInt64)
			if err != nil {
				return nil, err
			}
			return map[string]any{"entries": cfg.Logs.Entries(uint64(after))}, nil
		})
	}
	// The UI is built first: it cannot fail once the packet services
	// hold open files.
	handler, err := withUI(rt)
	if err != nil {
		return nil, err
	}
	pkts, err := openPackets(cfg, analysis, log)
	if err != nil {
		return nil, err
	}
	pkts.register(rt, analysis)
	analysisapi.Register(rt, analysisapi.Config{Path: cfg.AnalysisFile, Engine: analysis.Main(), Memory: cfg.memory, Log: log}, cfg.analysis)
	registerStats(rt, hub, analysis, pkts.captures.Registry, cfg, log)
	return &system{certs: certs, auth: authSvc, hub: hub, router: rt, analysis: analysis, packets: pkts, handler: handler}, nil
}

// Run serves until ctx is cancelled. A cancelled context is a clean stop
// and returns nil.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg.fillDefaults()
	cfg.memory = machineMemory()
	var err error
	if cfg.analysis, err = analysisapi.Load(cfg.AnalysisFile, cfg.memory); err != nil {
		return fmt.Errorf("daemon: analysis configuration: %w", err)
	}
	s, err := build(cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		if err := s.close(); err != nil {
			log.Error("closing the packet path", "err", err)
		}
	}()
	stopMain := startMain(ctx, s.analysis.Main(), s.packets.source, log)
	defer stopMain()
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("daemon: listen %s: %w", cfg.Listen, err)
	}
	servers := []*http.Server{{
		Handler:           s.handler,
		TLSConfig:         &tls.Config{GetCertificate: s.certs.GetCertificate, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}}
	listeners := []net.Listener{ln}
	if cfg.HTTPRedirectListen != "" {
		rln, err := net.Listen("tcp", cfg.HTTPRedirectListen)
		if err != nil {
			ln.Close()
			return fmt.Errorf("daemon: listen %s: %w", cfg.HTTPRedirectListen, err)
		}
		_, httpsPort, _ := net.SplitHostPort(ln.Addr().String())
		servers = append(servers, &http.Server{
			Handler:           httpsredirect.Handler(httpsPort),
			ReadHeaderTimeout: 10 * time.Second,
			MaxHeaderBytes:    16 << 10,
			ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
		})
		listeners = append(listeners, rln)
		log.Info("http redirect listening", "addr", rln.Addr().String())
	}
	var adminLn net.Listener
	if cfg.AdminSocket != "" {
		if adminLn, err = consoleadmin.Listen(cfg.AdminSocket); err != nil {
			for _, l := range listeners {
				l.Close()
			}
			return fmt.Errorf("daemon: %w", err)
		}
	}
	log.Info("https listening", "addr", ln.Addr().String(), "version", version.Version, "model", cfg.Model)

	hubCtx, stopHub := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { s.hub.Run(hubCtx) })
	if adminLn != nil {
		setAdmin := func(ctx context.Context, password string) error {
			_, err := s.auth.ResetPassword(ctx, "admin", password)
			return err
		}
		wg.Go(func() {
			if err := consoleadmin.Serve(hubCtx, adminLn, setAdmin, log); err != nil {
				log.Error("console admin socket", "err", err)
			}
		})
	}
	errc := make(chan error, len(servers))
	for i, srv := range servers {
		wg.Go(func() {
			var err error
			if i == 0 {
				err = srv.ServeTLS(listeners[i], "", "")
			} else {
				err = srv.Serve(listeners[i])
			}
			if !errors.Is(err, http.ErrServerClosed) {
				errc <- err
			}
		})
	}
	var runErr error
	select {
	case err := <-errc:
		runErr = fmt.Errorf("daemon: serve: %w", err)
	case <-ctx.Done():
	}
	stopHub() // closes the websockets, which Shutdown does not track
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	for _, srv := range servers {
		srv.Shutdown(shutdownCtx)
	}
	wg.Wait()
	return runErr
}
