package daemon

import (
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net/http"
	"net/http/cookiejar"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/multimeter-fw/multimeter/services/auth"
	"github.com/multimeter-fw/multimeter/services/role"
)

const adminPW = "admin-password-1"

// newDaemon builds the daemon's services on a fresh data directory and
// serves its route table over TLS.
func newDaemon(t *testing.T) (*system, *httptest.Server) {
	t.Helper()
	cfg := Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", AdminPassword: adminPW, Hostname: "mm-test", Console: io.Discard}
	cfg.fillDefaults()
	sys, err := build(cfg, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { sys.close() })
	srv := httptest.NewTLSServer(sys.router)
	t.Cleanup(srv.Close)
	return sys, srv
}

type cred struct {
	user, password, bearer string
}

func (c cred) apply(r *http.Request) {
	switch {
	case c.bearer != "":
		r.Header.Set("Authorization", "Bearer "+c.bearer)
	case c.user != "":
		r.SetBasicAuth(c.user, c.password)
	}
}

func do(t *testing.T, hc *http.Client, method, url string, c cred, body string, header ...string) (int, http.Header, []byte) {
	t.Helper()
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r, err := http.NewRequest(method, url, rd)
	if err != nil {
		t.Fatal(err)
	}
	c.apply(r)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	resp, err := hc.Do(r)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, resp.Header, b
}

// statusOf sends a request without a body and returns the status without
// reading the body, which may be an endless stream (a live capture).
func statusOf(t *testing.T, hc *http.Client, method, url string, c cred) int {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	r, err := http.NewRequestWithContext(ctx, method, url, nil)
	if err != nil {
		t.Fatal(err)
	}
	c.apply(r)
	resp, err := hc.Do(r)
	if err != nil {
		t.Fatalf("%s %s: %v", method, url, err)
	}
	resp.Body.Close()
	return resp.StatusCode
}

// rolePolicy is who may call what, written down independently of the
// route table: every route must match one entry, with the same roles.
var rolePolicy = []struct {
	prefix string
	need   role.Set
}{
	{"/API/system/", role.Admin},
	{"/API/stats/reset", role.Admin},
	{"/API/stats/", role.Stats},
	{"/API/data/modules/capture", role.Pcap},
	{"/API/data/pcap", role.Admin},
	{"/API/auth/", 0},
	{"/API/info/", 0},
	{"/API/ws", 0},
}

var sampleParams = strings.NewReplacer(":user", "nobody", ":token", "aaaaaaaaaaaaaaaa", ":ip", "10.1.2.3", ":mac", "ff:ff:ff:ff:ff:ff",
	":protocol", "HTTP", ":port", "tcp:80", ":vlan", "10", ":label", "16", ":marking", "dscp:46", ":size", "64",
	":message", "icmp:8:0", ":etherType", "0x0800", ":call", "0123456789abcdef")

func TestRolesAcrossRouteTable(t *testing.T) {
	sys, srv := newDaemon(t)
	ctx := context.Background()
	users := map[string]role.Set{"stats": role.Stats, "pcap": role.Pcap, "statspcap": role.Stats | role.Pcap, "noroles": 0, "admin2": role.Admin}
	for name, roles := range users {
		if _, err := sys.auth.CreateUser(ctx, name, name+"-password", roles); err != nil {
			t.Fatal(err)
		}
	}
	_, statsToken, err := sys.auth.CreateToken(auth.Principal{User: "admin", Method: auth.MethodBasic}, "admin", "stats token", role.Stats)
	if err != nil {
		t.Fatal(err)
	}
	callers := []struct {
		name  string
		cred  cred
		roles role.Set
	}{
		{"admin", cred{user: "admin", password: adminPW}, role.Admin},
		{"second admin", cred{user: "admin2", password: "admin2-password"}, role.Admin},
		{"stats", cred{user: "stats", password: "stats-password"}, role.Stats},
		{"pcap", cred{user: "pcap", password: "pcap-password"}, role.Pcap},
		{"stats and pcap", cred{user: "statspcap", password: "statspcap-password"}, role.Stats | role.Pcap},
		{"no roles", cred{user: "noroles", password: "noroles-password"}, 0},
		{"admin's stats token", cred{bearer: statsToken}, role.Stats},
	}
	routes := sys.router.Routes()
	if len(routes) < 10 {
		t.Fatalf("route table has %d routes; want the whole API", len(routes))
	}
	for _, rt := range routes {
		if rt.Public {
			if rt.Pattern != "/API/auth/login" {
				t.Errorf("%s %s answers without authentication; only the login may", rt.Method, rt.Pattern)
			}
			continue
		}
		need, found := role.Set(0), false
		for _, p := range rolePolicy {
			if strings.HasPrefix(rt.Pattern, p.prefix) {
				need, found = p.need, true
				break
			}
		}
		if !found {
			t.Errorf("%s %s is not covered by the role policy", rt.Method, rt.Pattern)
			continue
		}
		if rt.Need != need {
			t.Errorf("%s %s needs %q; the policy says %q", rt.Method, rt.Pattern, rt.Need, need)
		}
		url := srv.URL + sampleParams.Replace(rt.Pattern)
		if st := statusOf(t, srv.Client(), rt.Method, url, cred{}); st != 401 {
			t.Errorf("%s %s without credentials = %d; want 401", rt.Method, rt.Pattern, st)
		}
		for _, c := range callers {
			st := statusOf(t, srv.Client(), rt.Method, url, c.cred)
			allowed := c.roles.Allows(need)
			switch {
			case allowed && (st == 401 || st == 403):
				t.Errorf("%s %s as %s = %d; want it allowed", rt.Method, rt.Pattern, c.name, st)
			case !allowed && st != 403:
				t.Errorf("%s %s as %s = %d; want 403", rt.Method, rt.Pattern, c.name, st)
			}
		}
	}
}

// browser is a cookie-keeping client, like the UI in a browser.
func browser(t *testing.T, srv *httptest.Server) *http.Client {
	jar, _ := cookiejar.New(nil)
	hc := *srv.Client()
	hc.Jar = jar
	return &hc
}

func login(t *testing.T, srv *httptest.Server, hc *http.Client, user, pw string) string {
	t.Helper()
	st, _, body := do(t, hc, "POST", srv.URL+"/API/auth/login", cred{}, `{"username":"`+user+`","password":"`+pw+`"}`,
		"Content-Type", "application/json")
	var ans struct {
		User      string
		CSRFToken string
	}
	if err := json.Unmarshal(body, &ans); st != 200 || err != nil || ans.CSRFToken == "" || ans.User != user {
		t.Fatalf("login as %s = %d %s", user, st, body)
	}
	return ans.CSRFToken
}

func TestBrowserSessionAndCSRF(t *testing.T) {
	_, srv := newDaemon(t)
	hc := browser(t, srv)
	csrf := login(t, srv, hc, "admin", adminPW)
	if st, _, body := do(t, hc, "GET", srv.URL+"/API/info/system", cred{}, ""); st != 200 || !strings.Contains(string(body), `"hostname":"mm-test"`) {
		t.Errorf("GET /API/info/system with the session = %d %s", st, body)
	}
	tokenBody := `{"name":"ui","roles":["stats"]}`
	if st, _, body := do(t, hc, "POST", srv.URL+"/API/auth/tokens", cred{}, tokenBody); st != 403 || !strings.Contains(string(body), "CSRF") {
		t.Errorf("POST without the CSRF header = %d %s; want 403", st, body)
	}
	if st, _, body := do(t, hc, "POST", srv.URL+"/API/auth/tokens", cred{}, tokenBody, "X-CSRF-Token", "forged"); st != 403 {
		t.Errorf("POST with a forged CSRF token = %d %s; want 403", st, body)
	}
	if st, _, body := do(t, hc, "POST", srv.URL+"/API/auth/tokens", cred{}, tokenBody, "X-CSRF-Token", csrf); st != 201 {
		t.Errorf("POST with the CSRF token = %d %s; want 201", st, body)
	}
	// The session answer hands the token back to a reloaded page.
	_, _, body := do(t, hc, "GET", srv.URL+"/API/auth/session", cred{}, "")
	if !strings.Contains(string(body), csrf) {
		t.Errorf("GET /API/auth/session = %s; want the CSRF token", body)
	}
	if st, _, _ := do(t, hc, "POST", srv.URL+"/API/auth/logout", cred{}, "", "X-CSRF-Token", csrf); st != 204 {
		t.Errorf("logout = %d; want 204", st)
	}
	if st, _, _ := do(t, hc, "GET", srv.URL+"/API/info/system", cred{}, ""); st != 401 {
		t.Errorf("after logout = %d; want 401", st)
	}
}

func TestLoginRateLimited(t *testing.T) {
	_, srv := newDaemon(t)
	var st int
	var hdr http.Header
	for i := range 20 {
		st, hdr, _ = do(t, srv.Client(), "POST", srv.URL+"/API/auth/login", cred{}, "username=admin&password=wrong-password")
		if st == 429 {
			t.Logf("rate limited after %d failures", i)
			break
		}
		if st != 401 {
			t.Fatalf("wrong password = %d; want 401", st)
		}
		if c := hdr.Get("WWW-Authenticate"); c != "" {
			t.Fatalf("failed login answered with a challenge %q; a browser would pop up a Basic dialog", c)
		}
	}
	if st != 429 || hdr.Get("Retry-After") == "" {
		t.Fatalf("20 wrong passwords: last status %d, Retry-After %q; want 429 with Retry-After", st, hdr.Get("Retry-After"))
	}
	if st, _, _ := do(t, srv.Client(), "GET", srv.URL+"/API/info/system", cred{user: "admin", password: adminPW}, ""); st != 429 {
		t.Errorf("right password while limited = %d; want 429", st)
	}
}

func TestUserAdministration(t *testing.T) {
	_, srv := newDaemon(t)
	admin := cred{user: "admin", password: adminPW}
	hc := srv.Client()
	u := srv.URL + "/API/system/users"
	tests := []struct {
		name, method, path, body string
		status                   int
		mention                  string
	}{
		{"create", "POST", "", `{"name":"viewer","password":"viewer-password","roles":["stats"]}`, 201, `"viewer"`},
		{"create again", "POST", "", `{"name":"viewer","password":"viewer-password","roles":["stats"]}`, 409, "exists"},
		{"bad name", "POST", "", `{"name":"Bad Name","password":"viewer-password","roles":[]}`, 400, "name"},
		{"unknown role", "POST", "", `{"name":"x","password":"viewer-password","roles":["root"]}`, 400, "root"},
		{"missing roles", "POST", "", `{"name":"x","password":"viewer-password"}`, 400, "roles"},
		{"unknown field", "POST", "", `{"name":"x","password":"viewer-password","roles":[],"isAdmin":true}`, 400, "isAdmin"},
		{"huge body", "POST", "", `{"name":"` + strings.Repeat("x", 100000) + `"}`, 413, "too large"},
		{"get", "GET", "/viewer", "", 200, `"stats"`},
		{"get unknown", "GET", "/nobody", "", 404, "not found"},
		{"update roles", "PUT", "/viewer", `{"roles":["stats","pcap"]}`, 200, `"pcap"`},
		{"update nothing", "PUT", "/viewer", `{}`, 400, "nothing"},
		{"short password changes nothing", "PUT", "/viewer", `{"roles":[],"password":"short"}`, 400, "password"},
		{"admin keeps admin", "PUT", "/admin", `{"roles":["stats"]}`, 400, "admin"},
		{"delete admin", "DELETE", "/admin", "", 403, "cannot"},
		{"token beyond roles", "POST", "/viewer/tokens", `{"name":"t","roles":["admin"]}`, 403, "lacks"},
		{"list", "GET", "", "", 200, `"viewer"`},
	}
	for _, tt := range tests {
		st, _, body := do(t, hc, tt.method, u+tt.path, admin, tt.body)
		if st != tt.status || !strings.Contains(string(body), tt.mention) {
			t.Errorf("%s: %s %s = %d %s; want %d mentioning %q", tt.name, tt.method, tt.path, st, body, tt.status, tt.mention)
		}
	}
	_, _, body := do(t, hc, "GET", u+"/viewer", admin, "")
	if !strings.Contains(string(body), `"pcap"`) {
		t.Errorf("after a refused update viewer = %s; want its roles unchanged (stats, pcap)", body)
	}
	if strings.Contains(string(body), "argon2") {
		t.Errorf("user answer %s contains the password hash", body)
	}
}

func TestTokensAndDeletedUsers(t *testing.T) {
	_, srv := newDaemon(t)
	hc := srv.Client()
	admin := cred{user: "admin", password: adminPW}
	do(t, hc, "POST", srv.URL+"/API/system/users", admin, `{"name":"ops","password":"ops-password","roles":["stats","pcap"]}`)
	ops := cred{user: "ops", password: "ops-password"}

	// ops makes its own token, limited to stats.
	st, _, body := do(t, hc, "POST", srv.URL+"/API/auth/tokens", ops, `{"name":"grafana","roles":["stats"]}`)
	var tok struct{ ID, Secret string }
	if err := json.Unmarshal(body, &tok); st != 201 || err != nil || !strings.HasPrefix(tok.Secret, "mmt_") {
		t.Fatalf("create token = %d %s", st, body)
	}
	bearer := cred{bearer: tok.Secret}
	if st, _, body := do(t, hc, "GET", srv.URL+"/API/auth/session", bearer, ""); st != 200 || !strings.Contains(string(body), `"roles":["stats"]`) {
		t.Errorf("session with the token = %d %s; want stats only", st, body)
	}
	if st, _, _ := do(t, hc, "POST", srv.URL+"/API/auth/tokens", bearer, `{"name":"child","roles":["stats"]}`); st != 403 {
		t.Errorf("a token minting a token = %d; want 403", st)
	}
	_, _, body = do(t, hc, "GET", srv.URL+"/API/system/users/ops/tokens", admin, "")
	if !strings.Contains(string(body), tok.ID) || strings.Contains(string(body), tok.Secret[len(tok.Secret)-20:]) {
		t.Errorf("token list %s; want the id and no secret", body)
	}

	// A revoked token stops working at once.
	_, _, body = do(t, hc, "POST", srv.URL+"/API/system/users/ops/tokens", admin, `{"name":"short-lived","roles":["pcap"]}`)
	var tok2 struct{ ID, Secret string }
	json.Unmarshal(body, &tok2)
	if st, _, _ := do(t, hc, "GET", srv.URL+"/API/info/system", cred{bearer: tok2.Secret}, ""); st != 200 {
		t.Fatalf("second token = %d; want 200", st)
	}
	if st, _, _ := do(t, hc, "DELETE", srv.URL+"/API/system/users/ops/tokens/"+tok2.ID, admin, ""); st != 204 {
		t.Fatalf("revoke = %d; want 204", st)
	}
	if st, _, _ := do(t, hc, "GET", srv.URL+"/API/info/system", cred{bearer: tok2.Secret}, ""); st != 401 {
		t.Errorf("revoked token = %d; want 401", st)
	}

	// A session and the token die with the user.
	hcB := browser(t, srv)
	login(t, srv, hcB, "ops", "ops-password")
	if st, _, _ := do(t, hc, "DELETE", srv.URL+"/API/system/users/ops", admin, ""); st != 204 {
		t.Fatalf("delete ops = %d", st)
	}
	for name, check := range map[string]func() int{
		"token":   func() int { st, _, _ := do(t, hc, "GET", srv.URL+"/API/info/system", bearer, ""); return st },
		"basic":   func() int { st, _, _ := do(t, hc, "GET", srv.URL+"/API/info/system", ops, ""); return st },
		"session": func() int { st, _, _ := do(t, hcB, "GET", srv.URL+"/API/info/system", cred{}, ""); return st },
	} {
		if st := check(); st != 401 {
			t.Errorf("deleted user's %s = %d; want 401", name, st)
		}
	}
}
