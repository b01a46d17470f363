package filesource

import (
	"context"
	"sync"

	"github.com/multimeter-fw/multimeter/services/capture"
)

// Multi replays several captures at once, each as its own port and I/O
// worker (worker i replays srcs[i]).
type Multi []*Source

var _ capture.Source = Multi(nil)
var _ capture.PortReporter = Multi(nil)

// CanWait reports whether every replay may be slowed down.
func (m Multi) CanWait() bool {
	for _, s := range m {
		if !s.CanWait() {
			return false
		}
	}
	return true
}

// PacketClock tells the engine to run on the packets' clock.
func (m Multi) PacketClock() bool { return true }

// Ports lists every replayed port.
func (m Multi) Ports() []capture.PortInfo {
	var ports []capture.PortInfo
	for _, s := range m {
		ports = append(ports, s.Ports()...)
	}
	return ports
}

// Rewind makes the next Run replay every capture from its start.
func (m Multi) Rewind() {
	for _, s := range m {
		s.Rewind()
	}
}

// Run replays all captures concurrently and returns the first error.
func (m Multi) Run(ctx context.Context, newHandler func(worker int) capture.Handler) error {
	var wg sync.WaitGroup
	errs := make([]error, len(m))
	for i, s := range m {
		wg.Go(func() {
			errs[i] = s.Run(ctx, func(int) capture.Handler { return newHandler(i) })
		})
	}
	wg.Wait()
	for _, err := range errs {
		if err != nil {
			return err
		}
	}
	return nil
}
