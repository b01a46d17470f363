// Package analysis holds what the analysis modules share: the level of
// analysis an instance runs at, and Acc, the per-second accumulator in
// which an analyzer shard sums counters per entity before handing them to
// the statistics store.
//
// Each module (services/analysis/ip, .../mac, ...) has two halves: a shard
// half that looks at packets (or at the per-second flow records) and fills
// accumulators, and a store half that merges them into stats.Series and
// answers queries.
package analysis

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/multimeter-fw/multimeter/services/flowtable"
	"github.com/multimeter-fw/multimeter/services/stats"
)

// Level is how deep an instance analyses packets. Each level includes the
// ones below it.
type Level uint8

// Levels of analysis.
const (
	// LevelCapture counts packets per interface and feeds the ring buffer;
	// nothing else.
	LevelCapture Level = iota
	// LevelL2 adds MACs, VLANs, MPLS labels, VLAN priorities and packet
	// sizes.
	LevelL2
	// LevelL3 adds IPs, their peers and MACs, DSCP, ARP and ICMP.
	LevelL3
	// LevelL4 adds L4 ports, connections and TCP analysis.
	LevelL4
	// LevelAll adds application protocols (DPI), DNS, DHCP, SIP and names.
	LevelAll
)

var levelNames = [...]string{"capture", "l2", "l3", "l4", "all"}

func (l Level) String() string {
	if int(l) < len(levelNames) {
		return levelNames[l]
	}
	return fmt.Sprintf("level(%d)", l)
}

// ParseLevel parses a level name (capture, l2, l3, l4, all).
func ParseLevel(s string) (Level, error) {
	for i, n := range levelNames {
		if strings.EqualFold(n, s) {
			return Level(i), nil
		}
	}
	return 0, fmt.Errorf("analysis: unknown level %q (want one of %s)", s, strings.Join(levelNames[:], ", "))
}

// MarshalJSON writes the level's name.
func (l Level) MarshalJSON() ([]byte, error) { return json.Marshal(l.String()) }

// UnmarshalJSON reads a level's name.
func (l *Level) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err != nil {
		return fmt.Errorf("analysis: level: %w", err)
	}
	v, err := ParseLevel(s)
	if err != nil {
		return err
	}
	*l = v
	return nil
}

// Acc sums counters per key during one second of one shard. It holds a
// fixed number of keys; the shard hands it on before it fills (see Room).
type Acc[K stats.Key] struct {
	d *flowtable.Dense[K, stats.Counters]
	// Lost counts additions that found the accumulator full.
	Lost uint64
}

// NewAcc returns an accumulator for capacity keys.
func NewAcc[K stats.Key](capacity int) *Acc[K] {
	return &Acc[K]{d: flowtable.NewDense[K, stats.Counters](capacity)}
}

// Add adds c to k's counters.
func (a *Acc[K]) Add(k K, c stats.Counters) { a.AddHash(&k, k.Hash(), c) }

// AddHash is Add of *k with its hash h at hand (see flowtable.Dense.UpsertHash).
func (a *Acc[K]) AddHash(k *K, h uint64, c stats.Counters) {
	v, _ := a.d.UpsertHash(k, h)
	if v == nil {
		a.Lost++
		return
	}
	v.Add(c)
}

// Room is how many more keys fit.
func (a *Acc[K]) Room() int { return a.d.Cap() - a.d.Len() }

// Len is the number of keys.
func (a *Acc[K]) Len() int { return a.d.Len() }

// Reset empties the accumulator.
func (a *Acc[K]) Reset() { a.d.Reset() }

// Each calls fn for every key and its counters.
func (a *Acc[K]) Each(fn func(k *K, c *stats.Counters)) {
	for i := range a.d.Len() {
		fn(a.d.Key(i), a.d.Val(i))
	}
}

// MergeInto adds every key's counters to series s in second sec. Called
// with the store's write lock held.
func MergeInto[K stats.Key, A any](a *Acc[K], sec int64, s *stats.Series[K, A]) {
	stats.Prefetched(s, a.d.Len(), a.d.Key, func(i int, h uint64) {
		s.AddHash(sec, *a.d.Key(i), h, *a.d.Val(i))
	})
}

// IPOwner is the owner hash that lists an IP's relations (peers, ports,
// connections, ...) in stats.Series.ListOwned. It is never 0.
func IPOwner(group uint16, a [16]byte) uint64 {
	return flowtable.Mix(flowtable.Hash16Bytes(&a), uint64(group)|1<<62) | 1
}

// MACOwner is the owner hash of a MAC's relations. It is never 0.
func MACOwner(group uint16, m [6]byte) uint64 {
	v := uint64(m[0]) | uint64(m[1])<<8 | uint64(m[2])<<16 | uint64(m[3])<<24 | uint64(m[4])<<32 | uint64(m[5])<<40
	return flowtable.Mix(v, uint64(group)|1<<63) | 1
}
