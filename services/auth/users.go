package auth

import (
	"context"
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"slices"
	"sync"
	"time"
	"unicode/utf8"

	"github.com/multimeter-fw/multimeter/services/apierr"
	"github.com/multimeter-fw/multimeter/services/atomicfile"
	"github.com/multimeter-fw/multimeter/services/passhash"
	"github.com/multimeter-fw/multimeter/services/role"
)

// AdminName is the fixed administrator, who cannot be deleted and always
// has the admin role.
const AdminName = "admin"

const (
	fileVersion    = 1
	minPasswordLen = 8
	maxPasswordLen = 1024
	maxUsers       = 256
)

// usersFile is the JSON kept on the data partition.
type usersFile struct {
	Version int          `json:"version"`
	Users   []userRecord `json:"users"`
}

type userRecord struct {
	Name string `json:"name"`
	// ID is random and never reused, so that sessions of a deleted user
	// do not come back to life when the name is given to someone new.
	ID       string        `json:"id"`
	Roles    role.Set      `json:"roles"`
	Password string        `json:"password"` // passhash PHC string
	Created  time.Time     `json:"created"`
	Tokens   []tokenRecord `json:"tokens,omitempty"`
}

// User is what the API shows of a user: never a secret.
type User struct {
	Name    string    `json:"name"`
	Roles   role.Set  `json:"roles"`
	Created time.Time `json:"created"`
	Tokens  int       `json:"tokens"`

	id       string
	password string // the hash, to notice a password change
}

func (u *userRecord) view() User {
	return User{Name: u.Name, Roles: u.Roles, Created: u.Created, Tokens: len(u.Tokens), id: u.ID, password: u.Password}
}

func (f *usersFile) clone() *usersFile {
	c := &usersFile{Version: f.Version, Users: slices.Clone(f.Users)}
	for i := range c.Users {
		c.Users[i].Tokens = slices.Clone(c.Users[i].Tokens)
	}
	return c
}

func (f *usersFile) find(name string) *userRecord {
	for i := range f.Users {
		if f.Users[i].Name == name {
			return &f.Users[i]
		}
	}
	return nil
}

// parseUsersFile decodes and validates a users file: every field, unique
// names and token ids, and a fixed admin with the admin role.
func parseUsersFile(data []byte) (*usersFile, error) {
	var f usersFile
	if err := json.Unmarshal(data, &f); err != nil {
		return nil, fmt.Errorf("decode: %w", err)
	}
	if f.Version != fileVersion {
		return nil, fmt.Errorf("version %d, want %d", f.Version, fileVersion)
	}
	if len(f.Users) > maxUsers {
		return nil, fmt.Errorf("%d users, at most %d", len(f.Users), maxUsers)
	}
	names := map[string]bool{}
	ids := map[string]bool{}
	for _, u := range f.Users {
		if err := validName(u.Name); err != nil {
			return nil, err
		}
		if names[u.Name] {
			return nil, fmt.Errorf("user %q listed twice", u.Name)
		}
		names[u.Name] = true
		if !validID(u.ID) || ids[u.ID] {
			return nil, fmt.Errorf("user %q: invalid or repeated id", u.Name)
		}
		ids[u.ID] = true
		if err := passhash.Check(u.Password); err != nil {
			return nil, fmt.Errorf("user %q: %w", u.Name, err)
		}
		if len(u.Tokens) > maxTokensPerUser {
			return nil, fmt.Errorf("user %q: %d tokens, at most %d", u.Name, len(u.Tokens), maxTokensPerUser)
		}
		for _, t := range u.Tokens {
			if err := t.validate(u.Roles); err != nil {
				return nil, fmt.Errorf("user %q: token %q: %w", u.Name, t.ID, err)
			}
			if ids[t.ID] {
				return nil, fmt.Errorf("user %q: token id %q repeated", u.Name, t.ID)
			}
			ids[t.ID] = true
		}
	}
	if a := f.find(AdminName); a == nil || a.Roles&role.Admin == 0 {
		return nil, fmt.Errorf("no %q user with the admin role", AdminName)
	}
	return &f, nil
}

// validName accepts lower-case names a shell and a URL path take as they
// are: a letter, then up to 31 letters, digits, '.', '_' or '-'.
func validName(name string) error {
	if len(name) == 0 || len(name) > 32 {
		return fmt.Errorf("user name must have 1 to 32 characters")
	}
	for i, c := range name {
		switch {
		case c >= 'a' && c <= 'z':
		case i > 0 && (c >= '0' && c <= '9' || c == '.' || c == '_' || c == '-'):
		default:
			return fmt.Errorf("user name %q: only a-z first, then a-z 0-9 . _ -", name)
		}
	}
	return nil
}

func validPassword(pw string) error {
	if len(pw) < minPasswordLen || len(pw) > maxPasswordLen {
		return fmt.Errorf("password must have %d to %d bytes", minPasswordLen, maxPasswordLen)
	}
	if !utf8.ValidString(pw) {
		return errors.New("password is not valid UTF-8")
	}
	return nil
}

// validID accepts the ids newID makes.
func validID(id string) bool {
	if len(id) != idLen {
		return false
	}
	for _, c := range id {
		if !(c >= 'a' && c <= 'z' || c >= '2' && c <= '7') {
			return false
		}
	}
	return true
}

// store keeps the users file in memory and on disk. Changes are applied
// to a copy, written atomically, and only then take effect, so a failed
// write changes nothing.
type store struct {
	path   string
	params passhash.Params

	// argon2 takes memory and CPU; at most cap(verifying) run at once.
	verifying chan struct{}
	dummyHash string // verified for unknown users, so they cost the same

	mu   sync.RWMutex
	data *usersFile
	// verified remembers recent successful password checks for scripts
	// that send Basic auth on every request, keyed by a keyed hash of
	// name and password; an entry counts only while the stored hash is
	// the one it was checked against.
	verified    map[[32]byte]verifiedEntry
	verifiedKey []byte
	now         func() time.Time
}

type verifiedEntry struct {
	hash    string
	expires time.Time
}

const (
	verifiedTTL = time.Minute
	maxVerified = 256
)

// errNotFound is returned for a user or token that does not exist.
func errNotFound(what string) error { return apierr.New(http.StatusNotFound, "%s not found", what) }

// openStore loads path, or creates it with the admin user on first boot.
// The new admin's password is adminPassword, or a random one written once
// to console.
func openStore(path string, params passhash.Params, adminPassword string, console io.Writer, now func() time.Time) (*store, bool, error) {
	s := &store{path: path, params: params, verifying: make(chan struct{}, 2), now: now,
		verified: map[[32]byte]verifiedEntry{}, verifiedKey: make([]byte, 32)}
	rand.Read(s.verifiedKey)
	var err error
	if s.dummyHash, err = passhash.Hash(rand.Text(), params); err != nil {
		return nil, false, err
	}
	data, err := os.ReadFile(path)
	switch {
	case err == nil:
		if s.data, err = parseUsersFile(data); err != nil {
			return nil, false, fmt.Errorf("auth: users file %s: %w", path, err)
		}
		return s, false, nil
	case !errors.Is(err, fs.ErrNotExist):
		return nil, false, fmt.Errorf("auth: read users file: %w", err)
	}
	generated := adminPassword == ""
	if generated {
		adminPassword = rand.Text()
	}
	if err := validPassword(adminPassword); err != nil {
		return nil, false, fmt.Errorf("auth: initial admin password: %w", err)
	}
	hash, err := passhash.Hash(adminPassword, params)
	if err != nil {
		return nil, false, err
	}
	s.data = &usersFile{Version: fileVersion}
	err = s.update(func(f *usersFile) error {
		f.Users = append(f.Users, userRecord{Name: AdminName, ID: newID(), Roles: role.Admin, Password: hash, Created: now().UTC()})
		return nil
	})
	if err != nil {
		return nil, false, err
	}
	if generated {
		fmt.Fprintf(console, "\n*** Multimeter first boot: the password of user %q is %s\n*** It is shown only this once; change it after logging in.\n\n", AdminName, adminPassword)
	}
	return s, true, nil
}

// update applies change to a copy of the users, writes it and swaps it in.
func (s *store) update(change func(*usersFile) error) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	next := s.data.clone()
	if err := change(next); err != nil {
		return err
	}
	data, err := json.MarshalIndent(next, "", "  ")
	if err != nil {
		return fmt.Errorf("auth: encode users: %w", err)
	}
	if err := atomicfile.WriteFile(s.path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("auth: save users: %w", err)
	}
	s.data = next
	return nil
}

func (s *store) users() []User {
	s.mu.RLock()
	defer s.mu.RUnlock()
	out := make([]User, len(s.data.Users))
	for i := range s.data.Users {
		out[i] = s.data.Users[i].view()
	}
	return out
}

func (s *store) user(name string) (User, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u := s.data.find(name)
	if u == nil {
		return User{}, false
	}
	return u.view(), true
}

// ValidatePassword checks a new password against the rules (8 to 1024
// bytes of UTF-8); the error is a 400 naming the password field.
func ValidatePassword(password string) error {
	if err := validPassword(password); err != nil {
		return apierr.BadParam("password", "%v", err)
	}
	return nil
}

// hash runs argon2 for a new password, bounded like verification.
func (s *store) hash(ctx context.Context, password string) (string, error) {
	if err := ValidatePassword(password); err != nil {
		return "", err
	}
	if err := s.acquire(ctx); err != nil {
		return "", err
	}
	defer s.release()
	return passhash.Hash(password, s.params)
}

func (s *store) acquire(ctx context.Context) error {
	select {
	case s.verifying <- struct{}{}:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

func (s *store) release() { <-s.verifying }

// checkPassword returns the user if password is theirs. Unknown users
// cost the same argon2 run as known ones.
func (s *store) checkPassword(ctx context.Context, name, password string) (User, bool, error) {
	s.mu.RLock()
	var hash string
	var u User
	if r := s.data.find(name); r != nil {
		hash, u = r.Password, r.view()
	}
	key := s.verifiedKeyOf(name, password)
	entry, cached := s.verified[key]
	s.mu.RUnlock()
	if hash != "" && cached && entry.hash == hash && s.now().Before(entry.expires) {
		return u, true, nil
	}
	if err := s.acquire(ctx); err != nil {
		return User{}, false, err
	}
	defer s.release()
	if hash == "" {
		passhash.Verify(password, s.dummyHash)
		return User{}, false, nil
	}
	ok, err := passhash.Verify(password, hash)
	if err != nil || !ok {
		return User{}, false, err
	}
	s.mu.Lock()
	if len(s.verified) >= maxVerified {
		clear(s.verified)
	}
	s.verified[key] = verifiedEntry{hash: hash, expires: s.now().Add(verifiedTTL)}
	s.mu.Unlock()
	return u, true, nil
}

func (s *store) verifiedKeyOf(name, password string) [32]byte {
	m := hmac.New(sha256.New, s.verifiedKey)
	m.Write([]byte(name))
	m.Write([]byte{0})
	m.Write([]byte(password))
	var k [32]byte
	m.Sum(k[:0])
	return k
}

func (s *store) create(ctx context.Context, name, password string, roles role.Set) (User, error) {
	if err := validName(name); err != nil {
		return User{}, apierr.BadParam("name", "%v", err)
	}
	hash, err := s.hash(ctx, password)
	if err != nil {
		return User{}, err
	}
	var u User
	err = s.update(func(f *usersFile) error {
		if f.find(name) != nil {
			return apierr.New(http.StatusConflict, "user %q already exists", name)
		}
		if len(f.Users) >= maxUsers {
			return apierr.New(http.StatusConflict, "at most %d users", maxUsers)
		}
		r := userRecord{Name: name, ID: newID(), Roles: roles, Password: hash, Created: s.now().UTC()}
		f.Users = append(f.Users, r)
		u = r.view()
		return nil
	})
	return u, err
}

func (s *store) setRoles(name string, roles role.Set) (User, error) {
	var u User
	err := s.update(func(f *usersFile) error {
		r := f.find(name)
		if r == nil {
			return errNotFound("user")
		}
		if name == AdminName && roles&role.Admin == 0 {
			return apierr.BadParam("roles", "user %q always has the admin role", AdminName)
		}
		r.Roles = roles
		for i := range r.Tokens { // a token never has more rights than its user
			r.Tokens[i].Roles = roles.Grant(r.Tokens[i].Roles)
		}
		u = r.view()
		return nil
	})
	return u, err
}

// setPassword replaces name's password.
func (s *store) setPassword(ctx context.Context, name, password string) (User, error) {
	hash, err := s.hash(ctx, password)
	if err != nil {
		return User{}, err
	}
	var u User
	err = s.update(func(f *usersFile) error {
		r := f.find(name)
		if r == nil {
			return errNotFound("user")
		}
		r.Password = hash
		u = r.view()
		return nil
	})
	return u, err
}

func (s *store) delete(name string) (User, error) {
	var u User
	err := s.update(func(f *usersFile) error {
		if name == AdminName {
			return apierr.New(http.StatusForbidden, "user %q cannot be deleted", AdminName)
		}
		i := slices.IndexFunc(f.Users, func(r userRecord) bool { return r.Name == name })
		if i < 0 {
			return errNotFound("user")
		}
		u = f.Users[i].view()
		f.Users = slices.Delete(f.Users, i, i+1)
		return nil
	})
	return u, err
}

// userByID returns the user with that id, if it still exists.
func (s *store) userByID(name, id string) (User, bool) {
	u, ok := s.user(name)
	if !ok || subtle.ConstantTimeCompare([]byte(u.id), []byte(id)) != 1 {
		return User{}, false
	}
	return u, true
}
