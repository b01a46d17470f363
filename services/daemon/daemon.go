// Package daemon wires the appliance's services together: it is the one
// place that builds every subsystem from the configuration and owns their
// lifetimes. Only main packages import it.
//
//	err := daemon.Run(ctx, daemon.Config{DataDir: "/perm", Listen: ":443"}, logger)
package daemon

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/multimeter-fw/multimeter/services/engine"
	"github.com/multimeter-fw/multimeter/services/tlscert"
	"github.com/multimeter-fw/multimeter/services/version"
)

// Config is what main hands the daemon. The zero value of optional fields
// means the default.
type Config struct {
	DataDir       string        // persistent state: config, users, certificates
	Listen        string        // HTTPS address, ":443" in the image
	Replay        []string      // pcap/pcapng files fed to the main instance as a monitor port
	Ifaces        []string      // monitor interfaces
	Storage       []string      // ring buffer storage directories (natively)
	AdminPassword string        // initial admin password for a fresh data directory
	Model         string        // model profile name; "virtual" by default
	Hostname      string        // defaults to os.Hostname
	BootSlot      string        // firmware slot this boot came from ("native" when not in the image)
	Analysis      engine.Config // the main analysis instance; zero means defaults
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
}

// Run serves until ctx is cancelled. A cancelled context is a clean stop
// and returns nil.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	cfg.fillDefaults()
	if err := os.MkdirAll(cfg.DataDir, 0o700); err != nil {
		return fmt.Errorf("daemon: data directory: %w", err)
	}
	certs, err := tlscert.Open(filepath.Join(cfg.DataDir, "tls"), cfg.Hostname)
	if err != nil {
		return err
	}
	// The analysis instances; the statistics API serves from analysis.
	analysis, stopAnalysis, err := startAnalysis(ctx, cfg, log)
	if err != nil {
		return err
	}
	defer stopAnalysis()
	_ = analysis
	started := time.Now()
	mux := http.NewServeMux()
	mux.HandleFunc("GET /API/info/system", func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(map[string]any{
			"product":       version.Product,
			"version":       version.Version,
			"model":         cfg.Model,
			"hostname":      cfg.Hostname,
			"uptimeSeconds": int64(time.Since(started).Seconds()),
			"bootSlot":      cfg.BootSlot,
		})
	})
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return fmt.Errorf("daemon: listen %s: %w", cfg.Listen, err)
	}
	srv := &http.Server{
		Handler:           mux,
		TLSConfig:         &tls.Config{GetCertificate: certs.GetCertificate, MinVersion: tls.VersionTLS12},
		ReadHeaderTimeout: 10 * time.Second,
		ErrorLog:          slog.NewLogLogger(log.Handler(), slog.LevelWarn),
	}
	log.Info("https listening", "addr", ln.Addr().String(), "version", version.Version, "model", cfg.Model)
	errc := make(chan error, 1)
	go func() { errc <- srv.ServeTLS(ln, "", "") }()
	select {
	case err := <-errc:
		return fmt.Errorf("daemon: serve: %w", err)
	case <-ctx.Done():
	}
	shutdownCtx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(shutdownCtx)
	return nil
}
