package daemon

import (
	"context"
	"fmt"
	"log/slog"
	"sync"

	"golang.org/x/sys/unix"

	"github.com/multimeter-fw/multimeter/services/capture"
	"github.com/multimeter-fw/multimeter/services/capture/filesource"
	"github.com/multimeter-fw/multimeter/services/engine"
	"github.com/multimeter-fw/multimeter/services/stats"
)

// maxPcapSlots is how many pcap analysis slots (mm-id=:1..) may exist.
const maxPcapSlots = 4

// newAnalysis builds the main instance (slot 0) and the registry of the
// pcap analysis slots.
func newAnalysis(cfg Config, log *slog.Logger) (*engine.Registry, error) {
	main, err := engine.New(cfg.analysis, log.With("instance", 0))
	if err != nil {
		return nil, fmt.Errorf("daemon: analysis: %w", err)
	}
	reg, err := engine.NewRegistry(main, engine.SlotConfig(), maxPcapSlots, log)
	if err != nil {
		return nil, fmt.Errorf("daemon: analysis: %w", err)
	}
	return reg, nil
}

// startMain runs the main instance on src (nil: nothing to run), and a
// finished replay again when a restart rewinds it. The returned stop
// function cancels processing and waits for it.
func startMain(ctx context.Context, main *engine.Engine, src capture.Source, log *slog.Logger) (stop func()) {
	if src == nil {
		return func() {}
	}
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			if err := main.Run(ctx, src); err != nil {
				log.Error("analysis stopped", "err", err)
				return
			}
			if !main.Finished() {
				return
			}
			st := main.Stats()
			log.Info("replay analysed", "ips", st.IP.IPs.Len(0), "connections", st.Conns.Conns.Len(0),
				"lastSecond", st.Store.Now(), "tables", tableFill(st.Store.Usage()))
			select {
			case <-ctx.Done():
				return
			case <-main.Rerun():
				log.Info("replay rewound: analysing it again with the new settings")
			}
		}
	})
	return func() {
		cancel()
		wg.Wait()
	}
}

// replaySource replays files into the main instance as ports 0..n-1 (a
// pcapng's further interfaces on n and up), at full speed (speed 0) or at
// the recorded pace times speed.
func replaySource(paths []string, speed float64) (capture.Source, error) {
	if speed < 0 {
		return nil, fmt.Errorf("daemon: replay speed %g: want 0 (full speed) or more", speed)
	}
	var files filesource.Multi
	for i, path := range paths {
		s, err := filesource.Open(path, filesource.Config{Port: uint16(i), PortStride: uint16(len(paths)), Paced: speed > 0, Speed: speed})
		if err != nil {
			return nil, fmt.Errorf("daemon: replay: %w", err)
		}
		files = append(files, s)
	}
	return files, nil
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

// machineMemory is the physical memory in bytes; 0 when unknown.
func machineMemory() int64 {
	var si unix.Sysinfo_t
	if unix.Sysinfo(&si) != nil {
		return 0
	}
	return int64(si.Totalram) * int64(si.Unit)
}
