// Package passhash hashes and checks passwords with argon2id, in the PHC
// string format that carries its own salt and parameters:
//
//	$argon2id$v=19$m=19456,t=2,p=1$<salt>$<hash>     (base64, no padding)
//
//	enc, err := passhash.Hash(password, passhash.Params{}) // zero: defaults
//	ok, err := passhash.Verify(password, enc)
//
// Because the parameters travel with each hash, they can be raised later
// without invalidating stored passwords.
package passhash

import (
	"crypto/rand"
	"crypto/subtle"
	"encoding/base64"
	"errors"
	"fmt"
	"strings"

	"golang.org/x/crypto/argon2"
)

// Params are argon2id's cost parameters. The zero value of a field means
// its default: OWASP's recommendation of 19 MiB, two passes, one thread.
type Params struct {
	MemoryKiB uint32
	Time      uint32
	Threads   uint8
}

const (
	defaultMemoryKiB = 19 * 1024
	defaultTime      = 2
	defaultThreads   = 1
	saltLen          = 16
	keyLen           = 32

	// Bounds for hashes read back, so a tampered users file cannot make a
	// login allocate gigabytes or spin for minutes.
	maxMemoryKiB = 256 * 1024
	maxTime      = 16
	maxThreads   = 16
)

// ErrMalformed is returned for an encoded hash that is not one this
// package writes.
var ErrMalformed = errors.New("passhash: malformed argon2id hash")

func (p Params) withDefaults() Params {
	if p.MemoryKiB == 0 {
		p.MemoryKiB = defaultMemoryKiB
	}
	if p.Time == 0 {
		p.Time = defaultTime
	}
	if p.Threads == 0 {
		p.Threads = defaultThreads
	}
	return p
}

// Hash returns the PHC encoding of password under a fresh random salt.
func Hash(password string, p Params) (string, error) {
	p = p.withDefaults()
	if p.MemoryKiB > maxMemoryKiB || p.Time > maxTime || p.Threads > maxThreads {
		return "", fmt.Errorf("passhash: parameters %+v over the limits", p)
	}
	salt := make([]byte, saltLen)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("passhash: salt: %w", err)
	}
	return hashWithSalt(password, salt, p), nil
}

func hashWithSalt(password string, salt []byte, p Params) string {
	key := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, keyLen)
	b64 := base64.RawStdEncoding
	return fmt.Sprintf("$argon2id$v=%d$m=%d,t=%d,p=%d$%s$%s",
		argon2.Version, p.MemoryKiB, p.Time, p.Threads, b64.EncodeToString(salt), b64.EncodeToString(key))
}

// Verify reports whether password matches the encoded hash. The
// comparison takes the same time wherever the first differing byte is.
func Verify(password, encoded string) (bool, error) {
	p, salt, want, err := decode(encoded)
	if err != nil {
		return false, err
	}
	got := argon2.IDKey([]byte(password), salt, p.Time, p.MemoryKiB, p.Threads, uint32(len(want)))
	return subtle.ConstantTimeCompare(got, want) == 1, nil
}

// Check validates an encoded hash without computing anything, for
// checking a users file when it is loaded.
func Check(encoded string) error {
	_, _, _, err := decode(encoded)
	return err
}

func decode(encoded string) (p Params, salt, key []byte, err error) {
	parts := strings.Split(encoded, "$")
	if len(parts) != 6 || parts[0] != "" || parts[1] != "argon2id" {
		return p, nil, nil, ErrMalformed
	}
	var version int
	if _, err := fmt.Sscanf(parts[2], "v=%d", &version); err != nil || version != argon2.Version {
		return p, nil, nil, fmt.Errorf("%w: version %q", ErrMalformed, parts[2])
	}
	var threads uint32
	n, err := fmt.Sscanf(parts[3], "m=%d,t=%d,p=%d", &p.MemoryKiB, &p.Time, &threads)
	if err != nil || n != 3 || fmt.Sprintf("m=%d,t=%d,p=%d", p.MemoryKiB, p.Time, threads) != parts[3] {
		return p, nil, nil, fmt.Errorf("%w: parameters %q", ErrMalformed, parts[3])
	}
	if p.MemoryKiB < 8 || p.MemoryKiB > maxMemoryKiB || p.Time < 1 || p.Time > maxTime || threads < 1 || threads > maxThreads {
		return p, nil, nil, fmt.Errorf("%w: parameters %q out of bounds", ErrMalformed, parts[3])
	}
	p.Threads = uint8(threads)
	b64 := base64.RawStdEncoding.Strict()
	if salt, err = b64.DecodeString(parts[4]); err != nil || len(salt) < 8 || len(salt) > 64 {
		return p, nil, nil, fmt.Errorf("%w: salt", ErrMalformed)
	}
	if key, err = b64.DecodeString(parts[5]); err != nil || len(key) < 16 || len(key) > 64 {
		return p, nil, nil, fmt.Errorf("%w: key", ErrMalformed)
	}
	return p, salt, key, nil
}
