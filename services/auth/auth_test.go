package auth

import (
	"bytes"
	"context"
	"encoding/base64"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/multimeter-fw/multimeter/services/apierr"
	"github.com/multimeter-fw/multimeter/services/passhash"
	"github.com/multimeter-fw/multimeter/services/ratelimit"
	"github.com/multimeter-fw/multimeter/services/role"
)

// cheap keeps argon2 fast in tests; the parameters travel with each hash,
// so the code paths are the production ones.
var cheap = passhash.Params{MemoryKiB: 64, Time: 1, Threads: 1}

type clock struct {
	mu sync.Mutex
	t  time.Time
}

func (c *clock) now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) advance(d time.Duration) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
}

type fixture struct {
	svc     *Service
	clock   *clock
	dir     string
	log     *bytes.Buffer
	console *bytes.Buffer
}

const adminPW = "admin-password-1"

func newFixture(t *testing.T, cfg Config) *fixture {
	t.Helper()
	f := &fixture{clock: &clock{t: time.Unix(1700000000, 0)}, dir: t.TempDir(), log: &bytes.Buffer{}, console: &bytes.Buffer{}}
	if cfg.UsersFile == "" {
		cfg.UsersFile = filepath.Join(f.dir, "users.json")
	}
	if cfg.AdminPassword == "" {
		cfg.AdminPassword = adminPW
	}
	cfg.HashParams, cfg.Console, cfg.Now = cheap, f.console, f.clock.now
	svc, err := New(cfg, slog.New(slog.NewTextHandler(f.log, nil)))
	if err != nil {
		t.Fatalf("New: %v", err)
	}
	f.svc = svc
	return f
}

// req builds a request from client addr with optional Basic credentials.
func req(method, addr string, header ...string) *http.Request {
	r := httptest.NewRequest(method, "https://mm.example/API/info/system", nil)
	r.RemoteAddr = net.JoinHostPort(addr, "40000")
	r.Host = "mm.example"
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	return r
}

func basic(user, pw string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))
}

func status(err error) int {
	if err == nil {
		return 200
	}
	return apierr.Status(err)
}

func (f *fixture) mustCreate(t *testing.T, name string, roles role.Set) {
	t.Helper()
	if _, err := f.svc.CreateUser(context.Background(), name, name+"-password", roles); err != nil {
		t.Fatalf("CreateUser(%s): %v", name, err)
	}
}

func TestFirstBootGeneratedPassword(t *testing.T) {
	dir := t.TempDir()
	var console, logs bytes.Buffer
	cfg := Config{UsersFile: filepath.Join(dir, "users.json"), Console: &console, HashParams: cheap}
	svc, err := New(cfg, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	_, pw, ok := strings.Cut(console.String(), `"admin" is `)
	pw, _, _ = strings.Cut(pw, "\n")
	if !ok || len(pw) < 20 {
		t.Fatalf("console = %q; want the generated admin password", console.String())
	}
	if strings.Contains(logs.String(), pw) {
		t.Errorf("log %q contains the generated password", logs.String())
	}
	if _, err := svc.Authenticate(req("GET", "192.0.2.1", "Authorization", basic("admin", pw))); err != nil {
		t.Errorf("Authenticate(admin, generated password) = %v; want success", err)
	}
	data, _ := os.ReadFile(cfg.UsersFile)
	if bytes.Contains(data, []byte(pw)) {
		t.Errorf("users file contains the password in clear")
	}
	if fi, err := os.Stat(cfg.UsersFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("users file mode = %v, %v; want 0600", fi.Mode(), err)
	}

	// A restart neither shows nor changes the password, even when one is
	// passed: it is only for a fresh data directory.
	console.Reset()
	cfg.AdminPassword = "something-else"
	svc, err = New(cfg, slog.New(slog.NewJSONHandler(&logs, nil)))
	if err != nil {
		t.Fatal(err)
	}
	if console.Len() != 0 {
		t.Errorf("second start wrote %q to the console; want nothing", console.String())
	}
	if _, err := svc.Authenticate(req("GET", "192.0.2.1", "Authorization", basic("admin", pw))); err != nil {
		t.Errorf("after restart Authenticate(admin, generated password) = %v; want success", err)
	}
}

func TestFirstBootGivenPassword(t *testing.T) {
	f := newFixture(t, Config{})
	if f.console.Len() != 0 {
		t.Errorf("console = %q; want nothing when the password was given", f.console)
	}
	p, err := f.svc.Authenticate(req("GET", "192.0.2.1", "Authorization", basic("admin", adminPW)))
	if err != nil || p.User != "admin" || p.Roles != role.Admin || p.Method != MethodBasic {
		t.Errorf("Authenticate(admin) = %+v, %v; want admin with the admin role", p, err)
	}
	_, err = New(Config{UsersFile: filepath.Join(t.TempDir(), "u.json"), AdminPassword: "short"}, slog.New(slog.DiscardHandler))
	if err == nil {
		t.Errorf("New with a 5-byte admin password succeeded; want an error")
	}
}

func TestCorruptUsersFileRefused(t *testing.T) {
	path := filepath.Join(t.TempDir(), "users.json")
	os.WriteFile(path, []byte(`{"version":1,"users":[]}`), 0o600)
	_, err := New(Config{UsersFile: path, HashParams: cheap}, slog.New(slog.DiscardHandler))
	if err == nil || !strings.Contains(err.Error(), path) {
		t.Errorf("New(users file without admin) = %v; want an error naming the file", err)
	}
	if data, _ := os.ReadFile(path); string(data) != `{"version":1,"users":[]}` {
		t.Errorf("a refused users file was rewritten: %s", data)
	}
}

func TestAuthenticate(t *testing.T) {
	f := newFixture(t, Config{})
	f.mustCreate(t, "viewer", role.Stats)
	_, tok, err := f.svc.CreateToken(Principal{User: "admin", Method: MethodBasic}, "viewer", "grafana", role.Stats)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name       string
		header     []string
		wantStatus int
		wantUser   string
		wantMethod Method
		challenge  bool
	}{
		{"nothing", nil, 401, "", 0, true},
		{"nothing from the UI", []string{"X-Requested-With", "fetch"}, 401, "", 0, false},
		{"basic", []string{"Authorization", basic("viewer", "viewer-password")}, 200, "viewer", MethodBasic, false},
		{"basic wrong password", []string{"Authorization", basic("viewer", "nope-nope")}, 401, "", 0, true},
		{"basic unknown user", []string{"Authorization", basic("ghost", "viewer-password")}, 401, "", 0, true},
		{"basic malformed", []string{"Authorization", "Basic !!!"}, 401, "", 0, true},
		{"bearer", []string{"Authorization", "Bearer " + tok}, 200, "viewer", MethodToken, false},
		{"bearer lower case scheme", []string{"Authorization", "bearer " + tok}, 200, "viewer", MethodToken, false},
		{"bearer tampered", []string{"Authorization", "Bearer " + tok[:len(tok)-2] + "AA"}, 401, "", 0, true},
		{"bearer garbage", []string{"Authorization", "Bearer mmt_x_y"}, 401, "", 0, true},
		{"other scheme", []string{"Authorization", "Digest x"}, 401, "", 0, true},
		{"bad cookie", []string{"Cookie", SessionCookie + "=nope"}, 401, "", 0, true},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			// A fresh address per case keeps the rate limiter out of it.
			r := req("GET", "198.51.100."+string(rune('1'+i)), tt.header...)
			p, err := f.svc.Authenticate(r)
			if got := status(err); got != tt.wantStatus {
				t.Fatalf("Authenticate = %+v, %v; want status %d", p, err, tt.wantStatus)
			}
			if err != nil {
				e := apierr.From(err)
				if got := e.Header.Get("WWW-Authenticate") != ""; got != tt.challenge {
					t.Errorf("challenge sent = %v; want %v", got, tt.challenge)
				}
				if strings.Contains(e.Message, "ghost") || strings.Contains(e.Message, "viewer") {
					t.Errorf("error %q names a user", e.Message)
				}
				return
			}
			if p.User != tt.wantUser || p.Method != tt.wantMethod || p.Roles != role.Stats {
				t.Errorf("Authenticate = %+v; want %s via %s with stats", p, tt.wantUser, tt.wantMethod)
			}
		})
	}
	if strings.Contains(f.log.String(), "nope-nope") {
		t.Errorf("log contains a tried password: %s", f.log)
	}
	if !strings.Contains(f.log.String(), "authentication failed") {
		t.Errorf("log has no authentication failure: %s", f.log)
	}
}

func TestUnknownAndKnownUsersLookAlike(t *testing.T) {
	f := newFixture(t, Config{})
	_, errKnown := f.svc.Authenticate(req("GET", "192.0.2.1", "Authorization", basic("admin", "wrong-password")))
	_, errUnknown := f.svc.Authenticate(req("GET", "192.0.2.2", "Authorization", basic("nobody", "wrong-password")))
	if k, u := apierr.From(errKnown), apierr.From(errUnknown); k.Message != u.Message || k.Status != u.Status {
		t.Errorf("wrong password answers %d %q, unknown user %d %q; want the same", k.Status, k.Message, u.Status, u.Message)
	}
}

func TestRateLimitPerUser(t *testing.T) {
	f := newFixture(t, Config{UserLimit: limit(3, time.Minute), ClientLimit: limit(100, time.Second)})
	for i := range 3 {
		_, err := f.svc.Authenticate(req("GET", "192.0.2."+string(rune('1'+i)), "Authorization", basic("admin", "wrong-password")))
		if status(err) != 401 {
			t.Fatalf("failure %d: status %d; want 401", i, status(err))
		}
	}
	// Now even the right password from a new address waits: the name is
	// locked, not the address.
	_, err := f.svc.Authenticate(req("GET", "203.0.113.9", "Authorization", basic("admin", adminPW)))
	e := apierr.From(err)
	if e.Status != 429 || e.RetryAfter <= 0 {
		t.Fatalf("4th attempt = %v (retry after %v); want 429 with Retry-After", err, e.RetryAfter)
	}
	f.clock.advance(time.Minute)
	if _, err := f.svc.Authenticate(req("GET", "203.0.113.9", "Authorization", basic("admin", adminPW))); err != nil {
		t.Errorf("a minute later Authenticate = %v; want success", err)
	}
}

func TestRateLimitPerClient(t *testing.T) {
	f := newFixture(t, Config{UserLimit: limit(100, time.Second), ClientLimit: limit(3, time.Minute)})
	for i, name := range []string{"a", "b", "c"} {
		_, err := f.svc.Authenticate(req("GET", "2001:db8::1", "Authorization", basic(name, "wrong-password")))
		if status(err) != 401 {
			t.Fatalf("failure %d: status %d; want 401", i, status(err))
		}
	}
	// Same /64, other host: the same client for the limiter.
	_, err := f.svc.Authenticate(req("GET", "2001:db8::2", "Authorization", basic("admin", adminPW)))
	if status(err) != 429 {
		t.Errorf("after 3 failures from 2001:db8::/64: status %d; want 429", status(err))
	}
	if _, err := f.svc.Authenticate(req("GET", "2001:db8:1::1", "Authorization", basic("admin", adminPW))); err != nil {
		t.Errorf("another /64: %v; want success", err)
	}
	_, err = f.svc.Authenticate(req("GET", "2001:db8::3", "Authorization", "Bearer mmt_aaaaaaaaaaaaaaaa_x"))
	if status(err) != 429 {
		t.Errorf("token attempt from a limited client: status %d; want 429", status(err))
	}
}

func limit(burst int, refill time.Duration) ratelimit.Config {
	return ratelimit.Config{Burst: burst, Refill: refill}
}

// login starts a session and returns a function making requests with its
// cookie.
func (f *fixture) login(t *testing.T, user, pw string) (Principal, func(method string, header ...string) *http.Request) {
	t.Helper()
	w := httptest.NewRecorder()
	p, err := f.svc.Login(w, req("POST", "192.0.2.50"), user, pw)
	if err != nil {
		t.Fatalf("Login(%s): %v", user, err)
	}
	var cookie *http.Cookie
	for _, c := range w.Result().Cookies() {
		if c.Name == SessionCookie {
			cookie = c
		}
	}
	if cookie == nil || !cookie.Secure || !cookie.HttpOnly || cookie.SameSite != http.SameSiteStrictMode || cookie.Path != "/" {
		t.Fatalf("session cookie = %+v; want Secure, HttpOnly, SameSite=Strict, Path=/", cookie)
	}
	return p, func(method string, header ...string) *http.Request {
		r := req(method, "192.0.2.50", header...)
		r.AddCookie(&http.Cookie{Name: cookie.Name, Value: cookie.Value})
		return r
	}
}

func TestSessionCSRF(t *testing.T) {
	f := newFixture(t, Config{})
	p, with := f.login(t, "admin", adminPW)
	if len(p.CSRFToken) < 32 {
		t.Fatalf("Login CSRF token = %q; want a long random one", p.CSRFToken)
	}
	tests := []struct {
		name   string
		r      *http.Request
		status int
	}{
		{"GET needs no token", with("GET"), 200},
		{"POST without token", with("POST"), 403},
		{"DELETE with a wrong token", with("DELETE", CSRFHeader, p.CSRFToken[1:]+"x"), 403},
		{"PUT with the token", with("PUT", CSRFHeader, p.CSRFToken), 200},
		{"POST with the token from another site", with("POST", CSRFHeader, p.CSRFToken, "Origin", "https://evil.example"), 403},
		{"POST with the token from this site", with("POST", CSRFHeader, p.CSRFToken, "Origin", "https://mm.example"), 200},
		{"POST over Basic needs no token", req("POST", "192.0.2.51", "Authorization", basic("admin", adminPW)), 200},
	}
	for _, tt := range tests {
		got, err := f.svc.Authenticate(tt.r)
		if status(err) != tt.status {
			t.Errorf("%s: Authenticate = %v; want status %d", tt.name, err, tt.status)
		}
		if err == nil && tt.r.Header.Get("Authorization") == "" && (got.Method != MethodSession || got.CSRFToken != p.CSRFToken) {
			t.Errorf("%s: principal %+v; want the session", tt.name, got)
		}
	}
}

func TestSessionExpiry(t *testing.T) {
	f := newFixture(t, Config{SessionIdle: 10 * time.Minute, SessionLifetime: time.Hour})
	_, with := f.login(t, "admin", adminPW)
	for range 6 { // used every 9 minutes, it lives until the absolute limit
		f.clock.advance(9 * time.Minute)
		if _, err := f.svc.Authenticate(with("GET")); err != nil {
			t.Fatalf("session used every 9 minutes died at %v: %v", f.clock.now(), err)
		}
	}
	f.clock.advance(7 * time.Minute) // 61 minutes after login
	if _, err := f.svc.Authenticate(with("GET")); status(err) != 401 {
		t.Errorf("session past its lifetime: %v; want 401", err)
	}

	_, with = f.login(t, "admin", adminPW)
	f.clock.advance(11 * time.Minute)
	if _, err := f.svc.Authenticate(with("GET")); status(err) != 401 {
		t.Errorf("session idle for 11 minutes: %v; want 401", err)
	}

	p, with := f.login(t, "admin", adminPW)
	f.svc.Logout(httptest.NewRecorder(), p)
	if _, err := f.svc.Authenticate(with("GET")); status(err) != 401 {
		t.Errorf("session after logout: %v; want 401", err)
	}
}

func TestTokens(t *testing.T) {
	f := newFixture(t, Config{})
	f.mustCreate(t, "ops", role.Stats|role.Pcap)
	byAdmin := Principal{User: "admin", Method: MethodSession}
	if _, _, err := f.svc.CreateToken(byAdmin, "ops", "too much", role.Admin); status(err) != 403 {
		t.Errorf("CreateToken(admin role for a stats user) = %v; want 403", err)
	}
	tok, secret, err := f.svc.CreateToken(byAdmin, "ops", "grafana", role.Stats)
	if err != nil {
		t.Fatal(err)
	}
	bearer := func() (Principal, error) {
		return f.svc.Authenticate(req("GET", "192.0.2.9", "Authorization", "Bearer "+secret))
	}
	if p, err := bearer(); err != nil || p.Roles != role.Stats || p.TokenID != tok.ID {
		t.Errorf("Authenticate(token) = %+v, %v; want ops with stats only", p, err)
	}
	if _, _, err := f.svc.CreateToken(Principal{User: "ops", Method: MethodToken}, "ops", "again", role.Stats); status(err) != 403 {
		t.Errorf("CreateToken by a token = %v; want 403", err)
	}
	list, _ := f.svc.Tokens("ops")
	if len(list) != 1 || list[0].ID != tok.ID {
		t.Errorf("Tokens(ops) = %+v; want the one token", list)
	}
	data, _ := os.ReadFile(filepath.Join(f.dir, "users.json"))
	if bytes.Contains(data, []byte(secret[len(secret)-43:])) {
		t.Errorf("users file contains the token secret")
	}

	// Cutting the user's roles cuts the token's.
	if _, err := f.svc.SetRoles("ops", role.Pcap); err != nil {
		t.Fatal(err)
	}
	if p, err := bearer(); err != nil || p.Roles != 0 {
		t.Errorf("after the user lost stats, token = %+v, %v; want no roles", p, err)
	}
	if err := f.svc.RevokeToken("ops", tok.ID); err != nil {
		t.Fatal(err)
	}
	if _, err := bearer(); status(err) != 401 {
		t.Errorf("revoked token: %v; want 401", err)
	}
	if err := f.svc.RevokeToken("ops", tok.ID); status(err) != 404 {
		t.Errorf("revoking twice: %v; want 404", err)
	}
}

func TestDeletedUserLosesEverything(t *testing.T) {
	f := newFixture(t, Config{})
	f.mustCreate(t, "temp", role.Stats)
	sessP, with := f.login(t, "temp", "temp-password")
	_, secret, _ := f.svc.CreateToken(sessP, "temp", "t", role.Stats)
	basicReq := func() *http.Request {
		return req("GET", "192.0.2.7", "Authorization", basic("temp", "temp-password"))
	}
	basicP, err := f.svc.Authenticate(basicReq())
	if err != nil {
		t.Fatal(err)
	}
	if err := f.svc.DeleteUser("temp"); err != nil {
		t.Fatal(err)
	}
	// Recreated under the same name and password, it is a new user: the old
	// session, token and connections stay dead.
	f.mustCreate(t, "temp", role.Stats|role.Pcap)
	if _, err := f.svc.Authenticate(with("GET")); status(err) != 401 {
		t.Errorf("deleted user's session: %v; want 401", err)
	}
	if _, err := f.svc.Authenticate(req("GET", "192.0.2.8", "Authorization", "Bearer "+secret)); status(err) != 401 {
		t.Errorf("deleted user's token: %v; want 401", err)
	}
	for _, p := range []Principal{sessP, basicP} {
		if _, err := f.svc.Refresh(p); status(err) != 401 {
			t.Errorf("Refresh(deleted user's %s) = %v; want 401", p.Method, err)
		}
	}
	if p, err := f.svc.Authenticate(basicReq()); err != nil || p.Roles != role.Stats|role.Pcap {
		t.Errorf("new user temp = %+v, %v; want stats and pcap", p, err)
	}
}

func TestPasswordChanges(t *testing.T) {
	f := newFixture(t, Config{})
	f.mustCreate(t, "bob", role.Stats)
	p1, with1 := f.login(t, "bob", "bob-password")
	_, with2 := f.login(t, "bob", "bob-password")

	r := with1("POST", CSRFHeader, p1.CSRFToken)
	if err := f.svc.ChangePassword(r, p1, "not-the-password", "new-password-1"); status(err) != 400 || apierr.From(err).Param != "oldPassword" {
		t.Errorf("ChangePassword(wrong old) = %v; want 400 naming oldPassword", err)
	}
	if err := f.svc.ChangePassword(r, p1, "bob-password", "short"); status(err) != 400 || apierr.From(err).Param != "newPassword" {
		t.Errorf("ChangePassword(short new) = %v; want 400 naming newPassword", err)
	}
	if err := f.svc.ChangePassword(r, p1, "bob-password", "new-password-1"); err != nil {
		t.Fatalf("ChangePassword: %v", err)
	}
	if _, err := f.svc.Authenticate(with1("GET")); err != nil {
		t.Errorf("the session that changed the password: %v; want it alive", err)
	}
	if _, err := f.svc.Authenticate(with2("GET")); status(err) != 401 {
		t.Errorf("bob's other session after a password change: %v; want 401", err)
	}
	if _, err := f.svc.Authenticate(req("GET", "192.0.2.3", "Authorization", basic("bob", "bob-password"))); status(err) != 401 {
		t.Errorf("old password after change: %v; want 401", err)
	}

	basicP, err := f.svc.Authenticate(req("GET", "192.0.2.3", "Authorization", basic("bob", "new-password-1")))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Refresh(basicP); err != nil {
		t.Errorf("Refresh(Basic principal) = %v; want it valid", err)
	}
	if _, err := f.svc.ResetPassword(context.Background(), "bob", "reset-password"); err != nil {
		t.Fatal(err)
	}
	if _, err := f.svc.Authenticate(with1("GET")); status(err) != 401 {
		t.Errorf("session after an admin reset: %v; want 401", err)
	}
	if _, err := f.svc.Refresh(basicP); status(err) != 401 {
		t.Errorf("Refresh(Basic principal) after a password reset = %v; want 401", err)
	}
	if _, err := f.svc.Refresh(Principal{User: "bob"}); status(err) != 401 {
		t.Errorf("Refresh(principal without a method) = %v; want 401", err)
	}
	if _, err := f.svc.Authenticate(req("GET", "192.0.2.4", "Authorization", basic("bob", "reset-password"))); err != nil {
		t.Errorf("reset password: %v; want success", err)
	}
}

func TestManageValidation(t *testing.T) {
	f := newFixture(t, Config{})
	ctx := context.Background()
	f.mustCreate(t, "carol", role.Stats)
	tests := []struct {
		name   string
		err    error
		status int
		param  string
	}{
		{"upper-case name", second(f.svc.CreateUser(ctx, "Carol", "password-1", 0)), 400, "name"},
		{"name with a colon", second(f.svc.CreateUser(ctx, "a:b", "password-1", 0)), 400, "name"},
		{"empty name", second(f.svc.CreateUser(ctx, "", "password-1", 0)), 400, "name"},
		{"long name", second(f.svc.CreateUser(ctx, strings.Repeat("a", 33), "password-1", 0)), 400, "name"},
		{"short password", second(f.svc.CreateUser(ctx, "dave", "1234567", 0)), 400, "password"},
		{"invalid UTF-8 password", second(f.svc.CreateUser(ctx, "dave", "pass\xffword", 0)), 400, "password"},
		{"existing user", second(f.svc.CreateUser(ctx, "carol", "password-1", 0)), 409, ""},
		{"delete admin", f.svc.DeleteUser("admin"), 403, ""},
		{"delete unknown", f.svc.DeleteUser("nobody"), 404, ""},
		{"admin without admin role", second(f.svc.SetRoles("admin", role.Stats)), 400, "roles"},
		{"roles of unknown user", second(f.svc.SetRoles("nobody", role.Stats)), 404, ""},
		{"token name empty", third(f.svc.CreateToken(Principal{}, "carol", "", role.Stats)), 400, "name"},
		{"token name control chars", third(f.svc.CreateToken(Principal{}, "carol", "a\nb", role.Stats)), 400, "name"},
		{"token for unknown user", third(f.svc.CreateToken(Principal{}, "nobody", "x", 0)), 404, ""},
	}
	for _, tt := range tests {
		e := apierr.From(tt.err)
		if tt.err == nil || e.Status != tt.status || e.Param != tt.param {
			t.Errorf("%s: error %v (param %q); want status %d naming %q", tt.name, tt.err, e.Param, tt.status, tt.param)
		}
	}
	if got := len(f.svc.Users()); got != 2 {
		t.Errorf("after only failed changes there are %d users; want 2", got)
	}
}

func second[T any](_ T, err error) error        { return err }
func third[T, U any](_ T, _ U, err error) error { return err }
