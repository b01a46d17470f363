package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"encoding/base64"
	"slices"
	"sync"
	"time"
)

// Browser sessions live in memory only: a restart logs everyone out,
// which is acceptable for an appliance and keeps session secrets off the
// disk.
type sessions struct {
	idle, absolute time.Duration
	max, perUser   int
	now            func() time.Time

	mu sync.Mutex
	// byHash is keyed by the SHA-256 of the cookie value, so that a map
	// lookup's timing says nothing about valid cookie values.
	byHash map[[32]byte]*session
}

type session struct {
	key              [32]byte
	user, userID     string
	csrf             string
	created, lastUse time.Time
}

func newSessions(idle, absolute time.Duration, max, perUser int, now func() time.Time) *sessions {
	return &sessions{idle: idle, absolute: absolute, max: max, perUser: perUser, now: now, byHash: map[[32]byte]*session{}}
}

func randomToken() string {
	b := make([]byte, 32)
	rand.Read(b)
	return base64.RawURLEncoding.EncodeToString(b)
}

// create starts a session and returns its cookie value. Expired sessions
// are swept here, and the oldest ones give way when a cap is reached.
func (ss *sessions) create(user, userID string) (cookie string, s *session) {
	cookie = randomToken()
	now := ss.now()
	s = &session{key: sha256.Sum256([]byte(cookie)), user: user, userID: userID, csrf: randomToken(), created: now, lastUse: now}
	ss.mu.Lock()
	defer ss.mu.Unlock()
	var mine []*session
	for k, o := range ss.byHash {
		if ss.expired(o, now) {
			delete(ss.byHash, k)
		} else if o.userID == userID {
			mine = append(mine, o)
		}
	}
	if len(mine) >= ss.perUser {
		ss.dropOldest(mine, len(mine)-ss.perUser+1)
	}
	if len(ss.byHash) >= ss.max {
		all := make([]*session, 0, len(ss.byHash))
		for _, o := range ss.byHash {
			all = append(all, o)
		}
		ss.dropOldest(all, len(all)-ss.max+1)
	}
	ss.byHash[s.key] = s
	return cookie, s
}

func (ss *sessions) dropOldest(list []*session, n int) {
	slices.SortFunc(list, func(a, b *session) int { return a.lastUse.Compare(b.lastUse) })
	for _, o := range list[:n] {
		delete(ss.byHash, o.key)
	}
}

func (ss *sessions) expired(s *session, now time.Time) bool {
	return now.Sub(s.lastUse) > ss.idle || now.Sub(s.created) > ss.absolute
}

// get returns a copy of the live session for a cookie value and marks it
// used.
func (ss *sessions) get(cookie string) (session, bool) {
	key := sha256.Sum256([]byte(cookie))
	now := ss.now()
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.byHash[key]
	if !ok {
		return session{}, false
	}
	if ss.expired(s, now) {
		delete(ss.byHash, key)
		return session{}, false
	}
	s.lastUse = now
	return *s, true
}

// alive reports whether the session still exists, without touching it:
// the websocket asks every second, and that must not count as activity.
func (ss *sessions) alive(key [32]byte) bool {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	s, ok := ss.byHash[key]
	return ok && !ss.expired(s, ss.now())
}

func (ss *sessions) delete(key [32]byte) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	delete(ss.byHash, key)
}

// dropUser ends every session of a user except keep's (pass a zero key
// to end them all).
func (ss *sessions) dropUser(userID string, keep [32]byte) {
	ss.mu.Lock()
	defer ss.mu.Unlock()
	for k, s := range ss.byHash {
		if s.userID == userID && k != keep {
			delete(ss.byHash, k)
		}
	}
}
