package main

import (
	"github.com/multimeter-fw/multimeter/tools/peertest"

	"bufio"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// daemonProc is a running multimeterd binary.
type daemonProc struct {
	cmd      *exec.Cmd
	mu       sync.Mutex
	stderr   strings.Builder
	https    string // host:port
	redirect string
	password string // from the console, on first boot
	exited   chan error
}

func buildBinary(t *testing.T) string {
	t.Helper()
	goBin, err := exec.LookPath("go")
	if err != nil {
		t.Skip("go tool not in PATH")
	}
	bin := filepath.Join(t.TempDir(), "multimeterd")
	out, err := exec.Command(goBin, "build", "-o", bin, ".").CombinedOutput()
	if err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	return bin
}

// start runs the binary on dataDir and waits for both listeners.
func start(t *testing.T, bin, dataDir string, extra ...string) *daemonProc {
	t.Helper()
	return startWith(t, nil, bin, dataDir, extra...)
}

// startWith runs the binary under a command prefix, such as
// "ip netns exec NS".
func startWith(t *testing.T, prefix []string, bin, dataDir string, extra ...string) *daemonProc {
	t.Helper()
	args := append([]string{"--data", dataDir, "--listen", "127.0.0.1:0", "--http-redirect-listen", "127.0.0.1:0"}, extra...)
	argv := append(append(append([]string(nil), prefix...), bin), args...)
	d := &daemonProc{cmd: exec.Command(argv[0], argv[1:]...), exited: make(chan error, 1)}
	pipe, err := d.cmd.StderrPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := d.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	ready := make(chan struct{})
	go func() {
		sc := bufio.NewScanner(pipe)
		signalled := false
		for sc.Scan() {
			line := sc.Text()
			d.mu.Lock()
			d.stderr.WriteString(line + "\n")
			if _, pw, ok := strings.Cut(line, `password of user "admin" is `); ok {
				d.password = strings.TrimSpace(pw)
			}
			var entry struct{ Msg, Addr string }
			if json.Unmarshal([]byte(line), &entry) == nil {
				switch entry.Msg {
				case "https listening":
					d.https = entry.Addr
				case "http redirect listening":
					d.redirect = entry.Addr
				}
			}
			if !signalled && d.https != "" && d.redirect != "" {
				signalled = true
				close(ready)
			}
			d.mu.Unlock()
		}
		io.Copy(io.Discard, pipe)
		d.exited <- d.cmd.Wait()
	}()
	t.Cleanup(func() {
		if d.cmd.ProcessState == nil {
			d.cmd.Process.Kill()
		}
	})
	select {
	case <-ready:
	case err := <-d.exited:
		t.Fatalf("multimeterd exited early: %v\n%s", err, d.log())
	case <-time.After(60 * time.Second):
		t.Fatalf("multimeterd did not start listening:\n%s", d.log())
	}
	return d
}

func (d *daemonProc) log() string {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.stderr.String()
}

func (d *daemonProc) stop(t *testing.T) {
	t.Helper()
	d.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case err := <-d.exited:
		if err != nil {
			t.Errorf("multimeterd after SIGTERM: %v; want a clean exit\n%s", err, d.log())
		}
	case <-time.After(30 * time.Second):
		t.Fatalf("multimeterd did not stop on SIGTERM")
	}
}

// sh runs a shell pipeline the way an operator types it and returns its
// trimmed output.
func sh(t *testing.T, script string) string {
	t.Helper()
	out, err := exec.Command("bash", "-o", "pipefail", "-c", script).Output()
	if err != nil {
		stderr := ""
		if ee, ok := err.(*exec.ExitError); ok {
			stderr = string(ee.Stderr)
		}
		t.Fatalf("%s: %v\n%s%s", script, err, out, stderr)
	}
	return strings.TrimSpace(string(out))
}

// expectSh fails the test (and goes on) unless the script prints want.
func expectSh(t *testing.T, name, script, want string) {
	t.Helper()
	if got := sh(t, script); got != want {
		t.Errorf("%s:\n  %s\n  = %q; want %q", name, script, got, want)
	}
}

func TestOperatorWithCurl(t *testing.T) {
	peertest.Need(t, "curl", "jq", "bash")
	bin := buildBinary(t)
	t.Run("first boot generated password", func(t *testing.T) { operatorSession(t, bin) })
	t.Run("given admin password", func(t *testing.T) {
		d := start(t, bin, t.TempDir(), "--admin-password", "given-password")
		if d.password != "" {
			t.Errorf("console showed a password although one was given")
		}
		if got := sh(t, `curl --silent -k -o /dev/null -w '%{http_code}' -u admin:given-password 'https://`+d.https+`/API/info/system'`); got != "200" {
			t.Errorf("admin with the given password = %s; want 200", got)
		}
		d.stop(t)
	})
}

// operatorSession does what an operator does on a fresh appliance: read
// the password off the console, script the API with curl and jq, use a
// token and a browser-like session, restart.
func operatorSession(t *testing.T, bin string) {
	dataDir := t.TempDir()
	d := start(t, bin, dataDir)
	pw := d.password
	if len(pw) < 20 {
		t.Fatalf("no generated admin password on the console:\n%s", d.log())
	}
	if n := strings.Count(d.log(), pw); n != 1 {
		t.Errorf("the generated password appears %d times on stderr; want once (console only, never the log)", n)
	}
	base := "https://" + d.https

	expectSh(t, "no credentials", `curl --silent -k '`+base+`/API/info/system' | jq -r .error`, "authentication required")
	expectSh(t, "no credentials status", `curl --silent -k -o /dev/null -w '%{http_code}' '`+base+`/API/info/system'`, "401")
	expectSh(t, "basic auth", `curl --silent -k -u 'admin:`+pw+`' '`+base+`/API/info/system' | jq -r .product`, "Multimeter")
	expectSh(t, "OPTIONS", `curl --silent -k -u 'admin:`+pw+`' '`+base+`/API/system' -X OPTIONS | jq -c .subResources`, `["users","log","ringbuffer","replay","analyze-pcap","interfaces","analysis"]`)
	expectSh(t, "404", `curl --silent -k -u 'admin:`+pw+`' '`+base+`/API/nope' | jq -c '[.status, .error]'`, `[404,"no resource /API/nope"]`)

	// Users and roles, as an admin scripts them.
	expectSh(t, "create viewer", `curl --silent -k -u 'admin:`+pw+`' '`+base+`/API/system/users' -d '{"name":"viewer","password":"viewer-password","roles":["stats"]}' | jq -r '.roles[]'`, "stats")
	expectSh(t, "viewer may not manage users", `curl --silent -k -o /dev/null -w '%{http_code}' -u viewer:viewer-password '`+base+`/API/system/users'`, "403")
	expectSh(t, "wrong password", `curl --silent -k -o /dev/null -w '%{http_code}' -u viewer:nope-nope '`+base+`/API/info/system'`, "401")

	liveFeed(t, d.https, "viewer", "viewer-password")

	// A token for a script.
	token := sh(t, `curl --silent -k -u 'admin:`+pw+`' '`+base+`/API/system/users/viewer/tokens' -d '{"name":"script","roles":["stats"]}' | jq -r .secret`)
	expectSh(t, "bearer", `curl --silent -k -H 'Authorization: Bearer `+token+`' '`+base+`/API/auth/session' | jq -c '[.user, .method, .roles]'`, `["viewer","token",["stats"]]`)
	tokenID := sh(t, `curl --silent -k -u viewer:viewer-password '`+base+`/API/auth/tokens' | jq -r '.tokens[0].id'`)
	expectSh(t, "revoke own token", `curl --silent -k -o /dev/null -w '%{http_code}' -u viewer:viewer-password -X DELETE '`+base+`/API/auth/tokens/`+tokenID+`'`, "204")
	expectSh(t, "revoked bearer", `curl --silent -k -o /dev/null -w '%{http_code}' -H 'Authorization: Bearer `+token+`' '`+base+`/API/auth/session'`, "401")

	// A browser-like session with a cookie jar and the CSRF token.
	jar := filepath.Join(t.TempDir(), "cookies")
	csrf := sh(t, `curl --silent -k -c `+jar+` '`+base+`/API/auth/login' -d '{"username":"viewer","password":"viewer-password"}' | jq -r .csrfToken`)
	cookies := sh(t, "cat "+jar)
	if !strings.Contains(cookies, "#HttpOnly_127.0.0.1\tFALSE\t/\tTRUE\t0\t__Host-mm_session\t") {
		t.Errorf("cookie jar %q; want an HttpOnly, Secure session cookie for /", cookies)
	}
	expectSh(t, "session", `curl --silent -k -b `+jar+` '`+base+`/API/auth/session' | jq -r .user`, "viewer")
	expectSh(t, "POST without CSRF", `curl --silent -k -o /dev/null -w '%{http_code}' -b `+jar+` '`+base+`/API/auth/tokens' -d '{"name":"x","roles":[]}'`, "403")
	expectSh(t, "POST with CSRF", `curl --silent -k -o /dev/null -w '%{http_code}' -b `+jar+` -H 'X-CSRF-Token: `+csrf+`' '`+base+`/API/auth/tokens' -d '{"name":"x","roles":[]}'`, "201")
	expectSh(t, "form login", `curl --silent -k -o /dev/null -w '%{http_code}' '`+base+`/API/auth/login' -d username=viewer -d password=viewer-password`, "200")
	expectSh(t, "password change", `curl --silent -k -o /dev/null -w '%{http_code}' -b `+jar+` -H 'X-CSRF-Token: `+csrf+`' '`+base+`/API/auth/password' -d '{"oldPassword":"viewer-password","newPassword":"viewer-password-2"}'`, "204")
	expectSh(t, "old password", `curl --silent -k -o /dev/null -w '%{http_code}' -u viewer:viewer-password '`+base+`/API/info/system'`, "401")
	expectSh(t, "new password", `curl --silent -k -o /dev/null -w '%{http_code}' -u viewer:viewer-password-2 '`+base+`/API/info/system'`, "200")
	expectSh(t, "logout", `curl --silent -k -o /dev/null -w '%{http_code}' -b `+jar+` -H 'X-CSRF-Token: `+csrf+`' -X POST '`+base+`/API/auth/logout'`, "204")
	expectSh(t, "after logout", `curl --silent -k -o /dev/null -w '%{http_code}' -b `+jar+` '`+base+`/API/auth/session'`, "401")

	// Plain HTTP only redirects.
	expectSh(t, "redirect", `curl --silent -o /dev/null -w '%{http_code} %{redirect_url}' 'http://`+d.redirect+`/API/info/system?x=1'`,
		"308 "+base+"/API/info/system?x=1")

	if strings.Contains(d.log(), "nope-nope") || strings.Contains(d.log(), "viewer-password") {
		t.Errorf("a password reached the log:\n%s", d.log())
	}
	if !strings.Contains(d.log(), `"msg":"authentication failed"`) {
		t.Errorf("no authentication failure in the log:\n%s", d.log())
	}
	d.stop(t)

	// A restart keeps the users; nothing new on the console.
	d = start(t, bin, dataDir, "--admin-password", "ignored-now")
	if d.password != "" {
		t.Errorf("second start showed a password again")
	}
	expectSh(t, "after restart", `curl --silent -k -u 'admin:`+pw+`' 'https://`+d.https+`/API/system/users' | jq -r '.users[].name' | sort | tr '\n' ' '`, "admin viewer")
	d.stop(t)
}

// liveFeed subscribes to the "system" topic over the daemon's websocket and
// checks that updates arrive second after second.
func liveFeed(t *testing.T, hostport, user, password string) {
	t.Helper()
	url := "wss://" + hostport + "/API/ws"
	d := websocket.Dialer{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, HandshakeTimeout: 10 * time.Second}
	auth := http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))}}
	if _, resp, err := d.Dial(url, nil); err == nil || resp == nil || resp.StatusCode != 401 {
		t.Errorf("websocket without credentials: %v, %v; want 401", err, resp)
	}
	foreign := auth.Clone()
	foreign.Set("Origin", "https://evil.example")
	if _, resp, err := d.Dial(url, foreign); err == nil || resp == nil || resp.StatusCode != 403 {
		t.Errorf("websocket from a foreign origin: %v, %v; want 403", err, resp)
	}
	c, _, err := d.Dial(url, auth)
	if err != nil {
		t.Fatalf("websocket: %v", err)
	}
	defer c.Close()
	if err := c.WriteJSON(map[string]any{"type": "subscribe", "id": "s", "topic": "system"}); err != nil {
		t.Fatal(err)
	}
	var times []int64
	for len(times) < 4 {
		c.SetReadDeadline(time.Now().Add(30 * time.Second))
		var m struct {
			Type   string
			Time   int64
			Values map[string]struct {
				Product  string
				Hostname string
			}
		}
		if err := c.ReadJSON(&m); err != nil {
			t.Fatalf("websocket read: %v", err)
		}
		if m.Type != "update" {
			continue
		}
		if m.Values["s"].Product != "Multimeter" || m.Values["s"].Hostname == "" {
			t.Fatalf("update %+v; want the system information", m)
		}
		times = append(times, m.Time)
	}
	// The first update comes with the subscription, then one per second.
	if !slices.IsSorted(times) || times[3] <= times[1] {
		t.Errorf("update times %v; want updates second after second", times)
	}
}
