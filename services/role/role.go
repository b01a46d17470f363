// Package role names the permissions of the appliance's users and API
// tokens and answers whether a set of them allows what a route needs.
//
//	have, err := role.Parse([]string{"stats", "pcap"})
//	if !have.Allows(role.Stats) { ... 403 ... }
//
// The admin role allows everything; the others combine freely.
package role

import (
	"encoding/json"
	"fmt"
	"strings"
)

// Set is a combination of roles. The zero Set has no role: it is what a
// route needs when any authenticated user may call it.
type Set uint8

// The roles. Their names are what the users file and the API show.
const (
	// Admin may do everything, including managing users and the system.
	Admin Set = 1 << iota
	// Stats may read the statistics (most of /API/stats), never change anything.
	Stats
	// Pcap may capture and extract packets (/API/data/modules/capture).
	Pcap
)

var names = [...]struct {
	role Set
	name string
}{
	{Admin, "admin"},
	{Stats, "stats"},
	{Pcap, "pcap"},
}

// All is every role there is.
const All = Admin | Stats | Pcap

// Allows reports whether s grants what need asks for: admin grants
// everything, otherwise every role in need must be in s.
func (s Set) Allows(need Set) bool {
	return s&Admin != 0 || s&need == need
}

// Grant returns the part of t that s may hand on: all of t for an admin,
// else the roles both have. It is what an API token of a user with roles
// s and token roles t may do.
func (s Set) Grant(t Set) Set {
	if s&Admin != 0 {
		return t
	}
	return s & t
}

// Names returns the role names in a fixed order.
func (s Set) Names() []string {
	out := []string{}
	for _, n := range names {
		if s&n.role != 0 {
			out = append(out, n.name)
		}
	}
	return out
}

func (s Set) String() string { return strings.Join(s.Names(), ",") }

// Parse turns role names into a Set. An unknown name is an error; repeats
// are allowed.
func Parse(list []string) (Set, error) {
	var s Set
	for _, name := range list {
		r, ok := lookup(name)
		if !ok {
			return 0, fmt.Errorf("unknown role %q (want one of %s)", name, All)
		}
		s |= r
	}
	return s, nil
}

func lookup(name string) (Set, bool) {
	for _, n := range names {
		if n.name == name {
			return n.role, true
		}
	}
	return 0, false
}

// MarshalJSON writes the set as a list of role names.
func (s Set) MarshalJSON() ([]byte, error) { return json.Marshal(s.Names()) }

// UnmarshalJSON reads a list of role names.
func (s *Set) UnmarshalJSON(b []byte) error {
	var list []string
	if err := json.Unmarshal(b, &list); err != nil {
		return fmt.Errorf("roles: want a list of names: %w", err)
	}
	p, err := Parse(list)
	if err != nil {
		return err
	}
	*s = p
	return nil
}
