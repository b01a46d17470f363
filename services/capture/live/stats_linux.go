package live

import (
	"log/slog"
	"time"

	"github.com/multimeter-fw/multimeter/services/capture"
)

// Ports describes every port: link state and speed from sysfs, the
// kernel's cumulative drop and freeze counters over the port's rings, and
// the partner it forwards to (-1 in sink mode or without a partner).
func (s *Source) Ports() []capture.PortInfo {
	infos := make([]capture.PortInfo, len(s.ports))
	bridge := s.Mode() == Bridge
	for i, p := range s.ports {
		ls := readLink(s.cfg.SysfsRoot, p.cfg.Name)
		var k ringStats
		for _, r := range p.rings {
			st := r.statsOrWarn(s.log, p.cfg.Name)
			k.drops += st.drops
			k.freezes += st.freezes
		}
		infos[i] = capture.PortInfo{
			Port:          p.cfg.Index,
			Name:          p.cfg.Name,
			LinkUp:        ls.up,
			SpeedMbps:     ls.speedMbps,
			KernelDrops:   k.drops,
			KernelFreezes: k.freezes,
			Partner:       -1,
		}
		if bridge && p.partner >= 0 {
			infos[i].Partner = int(s.ports[p.partner].cfg.Index)
		}
	}
	return infos
}

func (r *rxRing) statsOrWarn(log *slog.Logger, port string) ringStats {
	st, err := r.stats()
	if err != nil {
		log.Warn("monitor port counters", "port", port, "err", err)
	}
	return st
}

// Counters are cumulative counts of one worker (and its ring), or their
// sums over a port.
type Counters struct {
	// Packets and Bytes (original lengths) handed to the Handler.
	Packets, Bytes uint64
	// The kernel's counters of the ring: packets it delivered or
	// dropped, packets dropped because the ring was full, and how often
	// the ring's queue froze.
	KernelPackets, KernelDrops, KernelFreezes uint64
	// Bridge mode: frames queued for transmission on the partner, frames
	// not forwarded (TX ring full or larger than the partner's MTU), and
	// failed transmissions.
	Forwarded, ForwardDrops, ForwardErrors uint64
	// Busy is the time spent on received blocks (forwarding and the
	// Handler included), as opposed to waiting for them: the worker's
	// load is its growth per second.
	Busy time.Duration
}

func (c *Counters) add(o Counters) {
	c.Packets += o.Packets
	c.Bytes += o.Bytes
	c.KernelPackets += o.KernelPackets
	c.KernelDrops += o.KernelDrops
	c.KernelFreezes += o.KernelFreezes
	c.Forwarded += o.Forwarded
	c.ForwardDrops += o.ForwardDrops
	c.ForwardErrors += o.ForwardErrors
	c.Busy += o.Busy
}

// PortStats are a port's counters: the sums over its workers, and each
// worker's own (in worker order).
type PortStats struct {
	Port uint16
	Name string
	Counters
	Workers []Counters
}

// Stats returns every port's counters.
func (s *Source) Stats() []PortStats {
	all := make([]PortStats, len(s.ports))
	for i, p := range s.ports {
		st := PortStats{Port: p.cfg.Index, Name: p.cfg.Name, Workers: make([]Counters, len(p.rings))}
		for j, r := range p.rings {
			k := r.statsOrWarn(s.log, p.cfg.Name)
			c := &p.counters[j]
			w := Counters{
				Packets:       c.packets.Load(),
				Bytes:         c.bytes.Load(),
				KernelPackets: k.packets,
				KernelDrops:   k.drops,
				KernelFreezes: k.freezes,
				Forwarded:     c.forwarded.Load(),
				ForwardDrops:  c.forwardDrops.Load(),
				ForwardErrors: c.txErrors.Load(),
				Busy:          time.Duration(c.busyNanos.Load()),
			}
			st.Workers[j] = w
			st.Counters.add(w)
		}
		all[i] = st
	}
	return all
}
