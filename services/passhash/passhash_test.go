package passhash

import (
	"errors"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"testing"
)

// referenceHash runs the argon2 reference implementation's command line
// tool (Debian package argon2) and returns its encoded hash.
func referenceHash(t *testing.T, password, salt string, p Params) string {
	t.Helper()
	bin, err := exec.LookPath("argon2")
	if err != nil {
		if os.Getenv("CI") != "" {
			t.Fatal("argon2 (the reference implementation's CLI) is not installed; make deps installs it")
		}
		t.Skip("argon2 CLI not installed")
	}
	cmd := exec.Command(bin, salt, "-id", "-t", strconv.Itoa(int(p.Time)), "-k", strconv.Itoa(int(p.MemoryKiB)),
		"-p", strconv.Itoa(int(p.Threads)), "-l", strconv.Itoa(keyLen), "-e")
	cmd.Stdin = strings.NewReader(password)
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("argon2 %v: %v", cmd.Args, err)
	}
	return strings.TrimSpace(string(out))
}

func TestMatchesReferenceImplementation(t *testing.T) {
	tests := []struct {
		password, salt string
		p              Params
	}{
		{"correct horse battery staple", "somesalt12345678", Params{MemoryKiB: defaultMemoryKiB, Time: defaultTime, Threads: defaultThreads}},
		{"pässwörd ✓", "0123456789abcdef", Params{MemoryKiB: 1024, Time: 3, Threads: 2}},
		{"x", "saltsaltsaltsalt", Params{MemoryKiB: 64, Time: 1, Threads: 1}},
	}
	for _, tt := range tests {
		want := referenceHash(t, tt.password, tt.salt, tt.p)
		if got := hashWithSalt(tt.password, []byte(tt.salt), tt.p); got != want {
			t.Errorf("hashWithSalt(%q, %q, %+v) = %s; reference argon2 says %s", tt.password, tt.salt, tt.p, got, want)
		}
		if ok, err := Verify(tt.password, want); err != nil || !ok {
			t.Errorf("Verify(%q, reference hash %s) = %v, %v; want true", tt.password, want, ok, err)
		}
		if ok, err := Verify(tt.password+"x", want); err != nil || ok {
			t.Errorf("Verify(wrong password, reference hash) = %v, %v; want false", ok, err)
		}
	}
}

func TestHashVerify(t *testing.T) {
	p := Params{MemoryKiB: 64, Time: 1}
	a, err := Hash("secret-password", p)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := Hash("secret-password", p)
	if a == b {
		t.Errorf("Hash twice = %s both times; want different salts", a)
	}
	if !strings.HasPrefix(a, "$argon2id$v=19$m=64,t=1,p=1$") {
		t.Errorf("Hash = %s; want the PHC argon2id format with its parameters", a)
	}
	if ok, _ := Verify("secret-password", a); !ok {
		t.Errorf("Verify(right password) = false")
	}
	if ok, _ := Verify("secret-passwore", a); ok {
		t.Errorf("Verify(wrong password) = true")
	}
	if d, _ := Hash("x", Params{}); !strings.Contains(d, "m=19456,t=2,p=1") {
		t.Errorf("Hash with zero Params = %s; want the defaults m=19456,t=2,p=1", d)
	}
}

func TestMalformed(t *testing.T) {
	good := hashWithSalt("pw", []byte("saltsaltsaltsalt"), Params{MemoryKiB: 64, Time: 1, Threads: 1})
	parts := strings.Split(good, "$")
	with := func(i int, v string) string {
		p := append([]string(nil), parts...)
		p[i] = v
		return strings.Join(p, "$")
	}
	tests := []string{
		"",
		"plaintext",
		"$argon2i$v=19$m=64,t=1,p=1$c2FsdHNhbHRzYWx0c2FsdA$AAAAAAAAAAAAAAAAAAAAAA",
		with(2, "v=16"),
		with(3, "m=4294967295,t=1,p=1"), // would allocate 4 TiB
		with(3, "m=64,t=1000,p=1"),
		with(3, "m=64,t=1,p=0"),
		with(3, "m=64,t=1,p=1,x=2"),
		with(3, "m=064,t=1,p=1"),
		with(4, "!!"),
		with(4, ""),
		with(5, "AAAA"),
		good + "$",
	}
	for _, enc := range tests {
		if err := Check(enc); !errors.Is(err, ErrMalformed) {
			t.Errorf("Check(%q) = %v; want ErrMalformed", enc, err)
		}
		if ok, err := Verify("pw", enc); ok || err == nil {
			t.Errorf("Verify(pw, %q) = %v, %v; want false and an error", enc, ok, err)
		}
	}
	if err := Check(good); err != nil {
		t.Errorf("Check(%q) = %v; want nil", good, err)
	}
}
