package daemon

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"

	"github.com/multimeter-fw/multimeter/services/capture"
	"github.com/multimeter-fw/multimeter/services/capture/filesource"
	"github.com/multimeter-fw/multimeter/services/engine"
	"github.com/multimeter-fw/multimeter/services/stats"
)

// maxPcapSlots is how many pcap analysis slots (mm-id=:1..) may exist.
const maxPcapSlots = 4

// newAnalysis builds the analysis instances: the main one in slot 0 and
// the registry of pcap analysis slots. Nothing runs yet.
func newAnalysis(cfg Config, log *slog.Logger) (*engine.Registry, error) {
	main, err := engine.New(cfg.Analysis, log.With("instance", 0))
	if err != nil {
		return nil, fmt.Errorf("daemon: analysis: %w", err)
	}
	reg, err := engine.NewRegistry(main, engine.SlotConfig(), maxPcapSlots, log)
	if err != nil {
		return nil, fmt.Errorf("daemon: analysis: %w", err)
	}
	return reg, nil
}

// startAnalysis starts the main instance on the replayed files (as ports
// 0..n-1) or the monitor interfaces. The returned stop function cancels
// processing and waits for it.
func startAnalysis(ctx context.Context, cfg Config, reg *engine.Registry, log *slog.Logger) (func(), error) {
	main := reg.Main()
	src, err := mainSource(cfg)
	if err != nil || src == nil {
		return func() {}, err
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		if err := main.Run(ctx, src); err != nil {
			log.Error("analysis stopped", "err", err)
			return
		}
		if main.Finished() {
			st := main.Stats()
			log.Info("replay analysed", "ips", st.IP.IPs.Len(0), "connections", st.Conns.Conns.Len(0),
				"lastSecond", st.Store.Now(), "tables", tableFill(st.Store.Usage()))
		}
	})
	return func() {
		cancel()
		wg.Wait()
	}, nil
}

// mainSource is what feeds the main instance: replayed files, or the
// monitor interfaces (nil when there is neither).
func mainSource(cfg Config) (capture.Source, error) {
	switch {
	case len(cfg.Replay) > 0 && len(cfg.Ifaces) > 0:
		return nil, errors.New("daemon: --replay and --iface exclude each other")
	case len(cfg.Replay) > 0:
		var files filesource.Multi
		for i, path := range cfg.Replay {
			s, err := filesource.Open(path, filesource.Config{Port: uint16(i)})
			if err != nil {
				return nil, fmt.Errorf("daemon: replay: %w", err)
			}
			files = append(files, s)
		}
		return files, nil
	case len(cfg.Ifaces) > 0:
		return liveSource(cfg)
	}
	return nil, nil
}

// liveSource is the seam for the live capture (services/capture/live):
// AF_PACKET rings on cfg.Ifaces, cfg.Analysis.IOWorkers workers each.
func liveSource(cfg Config) (capture.Source, error) {
	return nil, fmt.Errorf("daemon: live capture on %v is not built in yet", cfg.Ifaces)
}

func tableFill(u stats.Usage) map[string]int {
	m := map[string]int{}
	for _, t := range u.Tables {
		if t.Entries > 0 {
			m[t.Name] = t.Entries
		}
	}
	return m
}
