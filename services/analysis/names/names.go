// Package names keeps the alternative names of IP addresses learned from
// traffic: DNS answers (the name asked for), DHCP host names (joined with
// the address the server assigned), the server name of TLS ClientHellos
// (SNI) and HTTP Host headers. Each IP keeps its most recent names.
//
// Shards collect one second of observations in Records; the store merges
// them. Names are interned once, so a name seen again costs no memory.
package names

import (
	"github.com/multimeter-fw/multimeter/services/decode"
	"github.com/multimeter-fw/multimeter/services/flowtable"
	"github.com/multimeter-fw/multimeter/services/stats"
)

// Source says where a name was learned.
type Source uint8

// Sources of names.
const (
	DNS Source = iota + 1
	DHCP
	TLS
	HTTP
)

var sourceNames = [...]string{"", "dns", "dhcp", "tls", "http"}

func (s Source) String() string {
	if int(s) < len(sourceNames) {
		return sourceNames[s]
	}
	return "unknown"
}

// MarshalText writes the source's name.
func (s Source) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// Key is an IP in a group.
type Key struct {
	Addr  decode.Addr
	Group uint16
}

// Hash implements flowtable.Key.
func (k Key) Hash() uint64 {
	return flowtable.Mix(flowtable.Hash16Bytes((*[16]byte)(&k.Addr)), uint64(k.Group)|1<<30)
}

type obsKey struct {
	Key
	src  Source
	hash uint64
}

func (k obsKey) Hash() uint64 { return flowtable.Mix(k.Key.Hash(), k.hash^uint64(k.src)) }

type obs struct{ off, n uint32 }

// Records collects one second of name observations of a shard, each
// (IP, source, name) once.
type Records struct {
	seen  *flowtable.Dense[obsKey, obs]
	arena []byte
	// Lost counts observations that did not fit.
	Lost uint64
}

// NewRecords returns a collector for capacity observations. Room reserves
// the longest name (255 bytes) for each observation, so the names' arena
// holds half of them at that length.
func NewRecords(capacity int) *Records {
	return &Records{
		seen:  flowtable.NewDense[obsKey, obs](capacity),
		arena: make([]byte, 0, capacity*128),
	}
}

// Add records that addr is called name.
func (r *Records) Add(group uint16, addr decode.Addr, src Source, name []byte) {
	if len(name) == 0 || len(name) > 255 {
		return
	}
	k := obsKey{Key: Key{Addr: addr, Group: group}, src: src, hash: hashBytes(name)}
	o, isNew := r.seen.Upsert(k)
	if o == nil || (isNew && len(r.arena)+len(name) > cap(r.arena)) {
		r.Lost++
		return
	}
	if isNew {
		o.off, o.n = uint32(len(r.arena)), uint32(len(name))
		r.arena = append(r.arena, name...)
	}
}

// Room is how many more observations surely fit.
func (r *Records) Room() int {
	return min(r.seen.Cap()-r.seen.Len(), (cap(r.arena)-len(r.arena))/256)
}

// Reset empties the collector.
func (r *Records) Reset() {
	r.seen.Reset()
	r.arena = r.arena[:0]
}

func hashBytes(b []byte) uint64 {
	h := uint64(14695981039346656037)
	for _, c := range b {
		h ^= uint64(c | 0x20) // names compare case-insensitively
		h *= 1099511628211
	}
	return h
}

// maxNames per IP.
const maxNames = 4

// set is an IP's names, most recent first.
type set struct {
	ids [maxNames]uint32
	src [maxNames]Source
	n   uint8
}

func (s *set) add(id uint32, src Source) {
	i := 0
	for ; i < int(s.n) && s.ids[i] != id; i++ {
	}
	if i == int(s.n) {
		if s.n < maxNames {
			s.n++
		}
		i = int(s.n) - 1
	}
	copy(s.ids[1:i+1], s.ids[:i])
	copy(s.src[1:i+1], s.src[:i])
	s.ids[0], s.src[0] = id, src
}

// Name is one alternative name of an IP.
type Name struct {
	Name   string `json:"name"`
	Source Source `json:"source"`
}

// Store holds the names of IPs.
type Store struct {
	st    *stats.Store
	ips   *flowtable.Table[Key, set]
	ids   map[string]uint32
	names []string
	max   int
	// Dropped counts names not interned because the name table was full.
	Dropped uint64
}

// NewStore returns the names part of the store, for capacity IPs and at
// most maxNames distinct names.
func NewStore(st *stats.Store, capacity, maxNames int) *Store {
	return &Store{st: st, ips: flowtable.New[Key, set](capacity), ids: map[string]uint32{}, max: maxNames}
}

// Merge adds one shard's second. Called with the store's write lock held.
func (s *Store) Merge(sec int64, r *Records) {
	for i := range r.seen.Len() {
		k, o := r.seen.Key(i), r.seen.Val(i)
		s.add(sec, k.Key, k.src, r.arena[o.off:o.off+o.n])
	}
}

// Add records a name learned outside a shard (DHCP joins). Called with
// the store's write lock held.
func (s *Store) Add(sec int64, group uint16, addr decode.Addr, src Source, name []byte) {
	s.add(sec, Key{Addr: addr, Group: group}, src, name)
}

func (s *Store) add(sec int64, k Key, src Source, name []byte) {
	id, ok := s.ids[string(name)]
	if !ok {
		if len(s.names) >= s.max {
			s.Dropped++
			return
		}
		id = uint32(len(s.names))
		n := string(name)
		s.ids[n] = id
		s.names = append(s.names, n)
	}
	slot, _ := s.ips.Upsert(k, uint32(max(sec, 0)))
	s.ips.Val(slot).add(id, src)
}

// Of returns the names of addr in group g, most recent first.
func (s *Store) Of(g uint16, addr decode.Addr) []Name {
	s.st.RLock()
	defer s.st.RUnlock()
	slot, ok := s.ips.Find(Key{Addr: addr, Group: g})
	if !ok {
		return nil
	}
	st := s.ips.Val(slot)
	out := make([]Name, st.n)
	for i := range out {
		out[i] = Name{Name: s.names[st.ids[i]], Source: st.src[i]}
	}
	return out
}

// Reset forgets every name. Called with the write lock held.
func (s *Store) Reset() {
	s.ips.Clear()
	clear(s.ids)
	s.names = s.names[:0]
}
