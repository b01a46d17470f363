// Package monitorfeed feeds the frames of the traffic generator
// (tools/trafficgen) into a QEMU monitor port: QEMU's dgram netdev reads
// one Ethernet frame per datagram from a Unix socket, and only from the
// peer address it was given, so the feeder binds that address.
//
//	err := monitorfeed.Run(ctx, monitorfeed.Config{
//		Socket: qemu.MonitorSocket(dir), Peer: qemu.MonitorPeerSocket(dir), Rate: 2000}, log)
package monitorfeed

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"os"
	"time"

	"github.com/multimeter-fw/multimeter/tools/trafficgen"
)

// Config says where to send and how fast. Zero values mean 1,000 frames
// a second, seed 1, and no end.
type Config struct {
	Socket string // QEMU's local socket: frames are sent here
	Peer   string // QEMU's remote socket: the feeder's own address
	Rate   int    // frames per second
	Seed   uint64
	Count  int // frames to send; 0 for no limit
}

// Run sends frames until ctx is cancelled or Count frames are sent. It
// waits for QEMU to create its socket. A send that finds no receiver
// (QEMU restarting) is retried on the next tick rather than ending the
// feed.
func Run(ctx context.Context, cfg Config, log *slog.Logger) error {
	if cfg.Rate <= 0 {
		cfg.Rate = 1000
	}
	if cfg.Seed == 0 {
		cfg.Seed = 1
	}
	os.Remove(cfg.Peer)
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: cfg.Peer, Net: "unixgram"})
	if err != nil {
		return fmt.Errorf("monitorfeed: bind %s: %w", cfg.Peer, err)
	}
	defer os.Remove(cfg.Peer)
	defer conn.Close()
	dst := &net.UnixAddr{Name: cfg.Socket, Net: "unixgram"}
	gen := trafficgen.New(trafficgen.Config{Seed: cfg.Seed})

	// Send in small bursts per tick: timers are coarse.
	const tick = 10 * time.Millisecond
	perTick := max(1, cfg.Rate*int(tick)/int(time.Second))
	t := time.NewTicker(tick)
	defer t.Stop()
	buf := make([]byte, 0, 2048)
	sent, failing := 0, false
	for cfg.Count == 0 || sent < cfg.Count {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		for range perTick {
			frame, _ := gen.Next(buf[:0])
			if _, err := conn.WriteToUnix(frame, dst); err != nil {
				if !failing {
					log.Warn("monitor port not reachable; retrying", "socket", cfg.Socket, "err", err)
				}
				failing = true
				break
			}
			if failing {
				log.Info("monitor port reachable", "socket", cfg.Socket)
				failing = false
			}
			sent++
			if cfg.Count > 0 && sent >= cfg.Count {
				break
			}
		}
	}
	return nil
}
