package auth

import (
	"crypto/rand"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/base64"
	"encoding/hex"
	"errors"
	"net/http"
	"slices"
	"strings"
	"time"
	"unicode"

	"github.com/multimeter-fw/multimeter/services/apierr"
	"github.com/multimeter-fw/multimeter/services/role"
)

// API tokens look like "mmt_<id>_<secret>": the id finds the token (and is
// what a list or a revocation names), the 256-bit secret proves it. Only
// the secret's SHA-256 is stored; it has too much entropy for a slow hash
// to add anything.
const (
	tokenPrefix      = "mmt_"
	idLen            = 16
	secretLen        = 32
	maxTokensPerUser = 32
	maxTokenNameLen  = 64
)

type tokenRecord struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Roles   role.Set  `json:"roles"`
	Hash    string    `json:"hash"` // hex SHA-256 of the secret
	Created time.Time `json:"created"`
}

// Token is what the API shows of a token: never its secret or hash.
type Token struct {
	ID      string    `json:"id"`
	Name    string    `json:"name"`
	Roles   role.Set  `json:"roles"`
	Created time.Time `json:"created"`
}

func (t *tokenRecord) view() Token {
	return Token{ID: t.ID, Name: t.Name, Roles: t.Roles, Created: t.Created}
}

func (t *tokenRecord) validate(owner role.Set) error {
	if !validID(t.ID) {
		return errors.New("invalid id")
	}
	if err := validTokenName(t.Name); err != nil {
		return err
	}
	if b, err := hex.DecodeString(t.Hash); err != nil || len(b) != sha256.Size {
		return errors.New("invalid hash")
	}
	if !owner.Allows(t.Roles) {
		return errors.New("roles beyond its owner's")
	}
	return nil
}

func validTokenName(name string) error {
	if name == "" || len(name) > maxTokenNameLen {
		return errors.New("token name must have 1 to 64 bytes")
	}
	for _, c := range name {
		if !unicode.IsPrint(c) {
			return errors.New("token name has unprintable characters")
		}
	}
	return nil
}

// newID returns 16 random lower-case base32 characters (80 bits).
func newID() string { return strings.ToLower(rand.Text()[:idLen]) }

func hashSecret(secret []byte) string {
	sum := sha256.Sum256(secret)
	return hex.EncodeToString(sum[:])
}

// parseToken splits "mmt_<id>_<secret>".
func parseToken(tok string) (id string, secret []byte, ok bool) {
	rest, ok := strings.CutPrefix(tok, tokenPrefix)
	if !ok {
		return "", nil, false
	}
	id, enc, ok := strings.Cut(rest, "_")
	if !ok || !validID(id) {
		return "", nil, false
	}
	secret, err := base64.RawURLEncoding.Strict().DecodeString(enc)
	if err != nil || len(secret) != secretLen {
		return "", nil, false
	}
	return id, secret, true
}

// createToken makes a token for user with roles, which must be within the
// user's own. It returns the secret token string, shown only this once.
func (s *store) createToken(user, name string, roles role.Set) (Token, string, error) {
	if err := validTokenName(name); err != nil {
		return Token{}, "", apierr.BadParam("name", "%v", err)
	}
	secret := make([]byte, secretLen)
	rand.Read(secret)
	rec := tokenRecord{ID: newID(), Name: name, Roles: roles, Hash: hashSecret(secret), Created: s.now().UTC()}
	err := s.update(func(f *usersFile) error {
		u := f.find(user)
		if u == nil {
			return errNotFound("user")
		}
		if !u.Roles.Allows(roles) {
			return apierr.New(http.StatusForbidden, "a token cannot have roles its user lacks (user has [%s])", u.Roles)
		}
		if len(u.Tokens) >= maxTokensPerUser {
			return apierr.New(http.StatusConflict, "at most %d tokens per user", maxTokensPerUser)
		}
		u.Tokens = append(u.Tokens, rec)
		return nil
	})
	if err != nil {
		return Token{}, "", err
	}
	return rec.view(), tokenPrefix + rec.ID + "_" + base64.RawURLEncoding.EncodeToString(secret), nil
}

func (s *store) tokens(user string) ([]Token, error) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u := s.data.find(user)
	if u == nil {
		return nil, errNotFound("user")
	}
	out := make([]Token, len(u.Tokens))
	for i := range u.Tokens {
		out[i] = u.Tokens[i].view()
	}
	return out, nil
}

func (s *store) revokeToken(user, id string) error {
	return s.update(func(f *usersFile) error {
		u := f.find(user)
		if u == nil {
			return errNotFound("user")
		}
		i := slices.IndexFunc(u.Tokens, func(t tokenRecord) bool { return t.ID == id })
		if i < 0 {
			return errNotFound("token")
		}
		u.Tokens = slices.Delete(u.Tokens, i, i+1)
		return nil
	})
}

// checkToken returns the token's user and its effective roles: the
// token's, cut down to what the user has now.
func (s *store) checkToken(tok string) (User, Token, bool) {
	id, secret, ok := parseToken(tok)
	if !ok {
		return User{}, Token{}, false
	}
	want := hashSecret(secret)
	s.mu.RLock()
	defer s.mu.RUnlock()
	for i := range s.data.Users {
		u := &s.data.Users[i]
		for j := range u.Tokens {
			t := &u.Tokens[j]
			if t.ID != id {
				continue
			}
			if subtle.ConstantTimeCompare([]byte(t.Hash), []byte(want)) != 1 {
				return User{}, Token{}, false
			}
			v := t.view()
			v.Roles = u.Roles.Grant(t.Roles)
			return u.view(), v, true
		}
	}
	return User{}, Token{}, false
}

// token returns a token of user by id.
func (s *store) token(user, id string) (Token, bool) {
	s.mu.RLock()
	defer s.mu.RUnlock()
	u := s.data.find(user)
	if u == nil {
		return Token{}, false
	}
	for i := range u.Tokens {
		if u.Tokens[i].ID == id {
			return u.Tokens[i].view(), true
		}
	}
	return Token{}, false
}
