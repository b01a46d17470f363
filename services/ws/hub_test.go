package ws_test

import (
	"context"
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"errors"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/multimeter-fw/multimeter/services/api"
	"github.com/multimeter-fw/multimeter/services/apierr"
	"github.com/multimeter-fw/multimeter/services/auth"
	"github.com/multimeter-fw/multimeter/services/passhash"
	"github.com/multimeter-fw/multimeter/services/role"
	"github.com/multimeter-fw/multimeter/services/ws"
)

type env struct {
	srv  *httptest.Server
	hub  *ws.Hub
	auth *auth.Service
	big  string
}

// newEnv serves /API/ws through the real router and auth service over
// TLS. Users: admin (admin-password), viewer (viewer-password, stats).
func newEnv(t *testing.T, cfg ws.Config) *env {
	t.Helper()
	log := slog.New(slog.DiscardHandler)
	a, err := auth.New(auth.Config{
		UsersFile:     filepath.Join(t.TempDir(), "users.json"),
		AdminPassword: "admin-password",
		HashParams:    passhash.Params{MemoryKiB: 64, Time: 1, Threads: 1},
	}, log)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := a.CreateUser(context.Background(), "viewer", "viewer-password", role.Stats); err != nil {
		t.Fatal(err)
	}
	e := &env{auth: a, big: strings.Repeat("x", 256<<10), hub: ws.New(cfg, a, log)}
	var ticks atomic.Int64
	e.hub.Register("counter", 0, ws.ProviderFunc(func(ws.Request) (any, error) { return ticks.Add(1), nil }))
	e.hub.Register("echo", 0, ws.ProviderFunc(func(r ws.Request) (any, error) {
		if r.Params.Has("fail") {
			return nil, apierr.BadParam("fail", "asked to fail")
		}
		count, err := r.Params.Int("count", 0, 0, 100)
		return map[string]any{"count": count, "roles": r.Roles}, err
	}))
	e.hub.Register("big", 0, ws.ProviderFunc(func(ws.Request) (any, error) { return e.big, nil }))
	e.hub.Register("secret", role.Admin, ws.ProviderFunc(func(ws.Request) (any, error) { return "admin only", nil }))

	rt := api.New(api.Config{}, a, log)
	rt.HandleRaw("GET", "/API/ws", 0, func(w http.ResponseWriter, r *api.Request) { e.hub.Serve(w, r.HTTP, r.Principal) })
	e.srv = httptest.NewTLSServer(rt)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan struct{})
	go func() { e.hub.Run(ctx); close(done) }()
	t.Cleanup(func() {
		cancel()
		<-done
		e.srv.Close()
	})
	return e
}

func basic(user, pw string) http.Header {
	return http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+pw))}}
}

func (e *env) dial(h http.Header) (*websocket.Conn, *http.Response, error) {
	d := websocket.Dialer{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, HandshakeTimeout: 10 * time.Second}
	return d.Dial("wss"+strings.TrimPrefix(e.srv.URL, "https")+"/API/ws", h)
}

func (e *env) mustDial(t *testing.T, user string) *websocket.Conn {
	t.Helper()
	c, resp, err := e.dial(basic(user, user+"-password"))
	if err != nil {
		t.Fatalf("dial as %s: %v (%v)", user, err, resp)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

type message struct {
	Type   string
	ID     string
	Error  string
	Status int
	Time   int64
	Values map[string]json.RawMessage
	Errors map[string]struct {
		Error  string
		Status int
	}
}

func send(t *testing.T, c *websocket.Conn, v any) {
	t.Helper()
	if err := c.WriteJSON(v); err != nil {
		t.Fatal(err)
	}
}

func recv(t *testing.T, c *websocket.Conn) message {
	t.Helper()
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	var m message
	if err := c.ReadJSON(&m); err != nil {
		t.Fatalf("read: %v", err)
	}
	return m
}

// waitFor reads until a message satisfies ok.
func waitFor(t *testing.T, c *websocket.Conn, what string, ok func(message) bool) message {
	t.Helper()
	for range 1000 {
		if m := recv(t, c); ok(m) {
			return m
		}
	}
	t.Fatalf("no %s in 1000 messages", what)
	return message{}
}

func TestSubscribeAndUpdates(t *testing.T) {
	e := newEnv(t, ws.Config{Interval: 20 * time.Millisecond})
	c := e.mustDial(t, "viewer")
	send(t, c, map[string]any{"type": "subscribe", "id": "e", "topic": "echo", "params": map[string]any{"Count": 7}})
	if m := recv(t, c); m.Type != "subscribed" || m.ID != "e" {
		t.Fatalf("first message = %+v; want subscribed e", m)
	}
	m := recv(t, c)
	if m.Type != "update" || string(m.Values["e"]) != `{"count":7,"roles":["stats"]}` || m.Time == 0 {
		t.Fatalf("second message = %+v %s; want an update with the echo", m, m.Values["e"])
	}

	send(t, c, map[string]any{"type": "subscribe", "id": "n", "topic": "counter"})
	waitFor(t, c, "subscribed n", func(m message) bool { return m.Type == "subscribed" && m.ID == "n" })
	// Updates keep coming, each carrying every subscription, the counter
	// counting up.
	var last int64
	for i := range 5 {
		m := waitFor(t, c, "update", func(m message) bool { return m.Type == "update" })
		var n int64
		if err := json.Unmarshal(m.Values["n"], &n); err != nil || n <= last || m.Values["e"] == nil {
			t.Fatalf("update %d = %+v; want both subscriptions, counter above %d", i, m, last)
		}
		last = n
	}

	send(t, c, map[string]any{"type": "unsubscribe", "id": "e"})
	waitFor(t, c, "unsubscribed", func(m message) bool { return m.Type == "unsubscribed" && m.ID == "e" })
	m = waitFor(t, c, "update", func(m message) bool { return m.Type == "update" })
	if _, ok := m.Values["e"]; ok || m.Values["n"] == nil {
		t.Errorf("update after unsubscribe = %v; want only n", m.Values)
	}
}

func TestSubscriptionErrors(t *testing.T) {
	e := newEnv(t, ws.Config{Interval: time.Hour, MaxSubscriptions: 2})
	c := e.mustDial(t, "viewer")
	tests := []struct {
		name   string
		msg    any
		status int
		text   string
	}{
		{"unknown topic", map[string]any{"type": "subscribe", "id": "a", "topic": "nope"}, 404, "nope"},
		{"role missing", map[string]any{"type": "subscribe", "id": "a", "topic": "secret"}, 403, "admin"},
		{"provider error", map[string]any{"type": "subscribe", "id": "a", "topic": "echo", "params": map[string]any{"fail": true}}, 400, "fail"},
		{"bad param value", map[string]any{"type": "subscribe", "id": "a", "topic": "echo", "params": map[string]any{"count": "many"}}, 400, "count"},
		{"object param", map[string]any{"type": "subscribe", "id": "a", "topic": "echo", "params": map[string]any{"count": map[string]int{}}}, 400, "count"},
		{"bad type", map[string]any{"type": "publish", "id": "a"}, 400, "type"},
		{"no id", map[string]any{"type": "subscribe", "topic": "echo"}, 400, "id"},
		{"unknown field", map[string]any{"type": "subscribe", "id": "a", "topic": "echo", "extra": 1}, 400, "extra"},
		{"not JSON", "{", 400, "invalid"},
	}
	for _, tt := range tests {
		if s, ok := tt.msg.(string); ok {
			c.WriteMessage(websocket.TextMessage, []byte(s))
		} else {
			send(t, c, tt.msg)
		}
		m := recv(t, c)
		if m.Type != "error" || m.Status != tt.status || !strings.Contains(m.Error, tt.text) {
			t.Errorf("%s: reply %+v; want error %d mentioning %q", tt.name, m, tt.status, tt.text)
		}
	}
	for _, id := range []string{"1", "2", "3"} {
		send(t, c, map[string]any{"type": "subscribe", "id": id, "topic": "counter"})
	}
	var got []string
	for len(got) < 3 {
		if m := recv(t, c); m.Type != "update" {
			got = append(got, m.Type+" "+m.ID)
		}
	}
	if want := "subscribed 1,subscribed 2,error 3"; strings.Join(got, ",") != want {
		t.Errorf("three subscriptions with a limit of two: %v; want %s", got, want)
	}
}

func TestSlowClientDropped(t *testing.T) {
	// The queue is deep enough that a loaded machine cannot starve the fast
	// reader for its length (64 ticks), while the slow one, which never reads,
	// fills its socket buffers and then its queue.
	e := newEnv(t, ws.Config{Interval: 10 * time.Millisecond, SendQueue: 64, WriteTimeout: 2 * time.Second})
	fast := e.mustDial(t, "viewer")
	slow := e.mustDial(t, "viewer")
	sub := map[string]any{"type": "subscribe", "id": "b", "topic": "big"}
	send(t, fast, sub)
	send(t, slow, sub) // and never read again

	var fastUpdates atomic.Int64
	readErr := make(chan error, 1)
	go func() {
		for {
			fast.SetReadDeadline(time.Now().Add(30 * time.Second))
			_, data, err := fast.ReadMessage()
			if err != nil {
				readErr <- err
				return
			}
			if strings.Contains(string(data[:min(len(data), 40)]), `"update"`) {
				fastUpdates.Add(1)
			}
		}
	}()
	deadline := time.Now().Add(60 * time.Second)
	for e.hub.Stats().Dropped == 0 {
		if time.Now().After(deadline) {
			t.Fatalf("slow client never dropped; stats %+v", e.hub.Stats())
		}
		time.Sleep(10 * time.Millisecond)
	}
	// The fast client goes on receiving after the drop.
	after := fastUpdates.Load()
	for fastUpdates.Load() < after+20 {
		select {
		case err := <-readErr:
			t.Fatalf("fast client failed after the slow one was dropped: %v", err)
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("fast client stopped receiving: %d updates", fastUpdates.Load())
		}
		time.Sleep(5 * time.Millisecond)
	}
	if got := e.hub.Stats().Dropped; got != 1 {
		t.Errorf("dropped = %d; want only the slow client", got)
	}
	// The slow client's connection ends once it reads what was buffered.
	slow.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		if _, _, err := slow.ReadMessage(); err != nil {
			var ne interface{ Timeout() bool }
			if errors.As(err, &ne) && ne.Timeout() {
				t.Fatalf("slow client's connection is still open after being dropped")
			}
			break
		}
	}
}

// TestStalledWriterDropped: a client that stops reading with a queue too
// deep to overflow is dropped, and counted, when a write to it times out.
func TestStalledWriterDropped(t *testing.T) {
	e := newEnv(t, ws.Config{Interval: 10 * time.Millisecond, SendQueue: 1 << 14, WriteTimeout: 300 * time.Millisecond})
	stalled := e.mustDial(t, "viewer")
	send(t, stalled, map[string]any{"type": "subscribe", "id": "b", "topic": "big"}) // and never read again
	deadline := time.Now().Add(60 * time.Second)
	for st := e.hub.Stats(); st.Dropped == 0 || st.Clients != 0; st = e.hub.Stats() {
		if time.Now().After(deadline) {
			t.Fatalf("stalled client not dropped; stats %+v", st)
		}
		time.Sleep(10 * time.Millisecond)
	}
	if got := e.hub.Stats().Dropped; got != 1 {
		t.Errorf("dropped = %d; want 1", got)
	}
}

func TestHandshakeRejected(t *testing.T) {
	e := newEnv(t, ws.Config{})
	tests := []struct {
		name   string
		header http.Header
		status int
	}{
		{"no credentials", http.Header{}, 401},
		{"wrong password", basic("viewer", "wrong-password"), 401},
		{"foreign origin", withOrigin(basic("viewer", "viewer-password"), "https://evil.example"), 403},
		{"plain http origin", withOrigin(basic("viewer", "viewer-password"), "http://"+strings.TrimPrefix(e.srv.URL, "https://")), 403},
	}
	for _, tt := range tests {
		c, resp, err := e.dial(tt.header)
		if err == nil {
			c.Close()
			t.Errorf("%s: dial succeeded; want %d", tt.name, tt.status)
			continue
		}
		if resp == nil || resp.StatusCode != tt.status {
			t.Errorf("%s: dial = %v, %v; want HTTP %d", tt.name, err, resp, tt.status)
		}
	}
	c, _, err := e.dial(withOrigin(basic("viewer", "viewer-password"), e.srv.URL))
	if err != nil {
		t.Errorf("dial from the appliance's own origin: %v; want success", err)
	} else {
		c.Close()
	}
}

func withOrigin(h http.Header, origin string) http.Header {
	h.Set("Origin", origin)
	return h
}

func TestClientCap(t *testing.T) {
	e := newEnv(t, ws.Config{MaxClients: 2})
	e.mustDial(t, "viewer")
	e.mustDial(t, "viewer")
	if c, resp, err := e.dial(basic("viewer", "viewer-password")); err == nil || resp == nil || resp.StatusCode != 503 {
		if c != nil {
			c.Close()
		}
		t.Errorf("third client: %v, %v; want 503", err, resp)
	}
}

func TestRevokedTokenEndsConnection(t *testing.T) {
	e := newEnv(t, ws.Config{Interval: 10 * time.Millisecond})
	tok, secret, err := e.auth.CreateToken(auth.Principal{User: "admin", Method: auth.MethodBasic}, "viewer", "ws", role.Stats)
	if err != nil {
		t.Fatal(err)
	}
	c, _, err := e.dial(http.Header{"Authorization": {"Bearer " + secret}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	send(t, c, map[string]any{"type": "subscribe", "id": "n", "topic": "counter"})
	waitFor(t, c, "update", func(m message) bool { return m.Type == "update" })
	if err := e.auth.RevokeToken("viewer", tok.ID); err != nil {
		t.Fatal(err)
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		_, _, err := c.ReadMessage()
		if err == nil {
			continue
		}
		if !websocket.IsCloseError(err, 4401) {
			t.Errorf("after revocation the connection ended with %v; want close code 4401", err)
		}
		break
	}
}

func TestDeadClientReaped(t *testing.T) {
	e := newEnv(t, ws.Config{PingInterval: 20 * time.Millisecond, PongTimeout: 200 * time.Millisecond})
	c := e.mustDial(t, "viewer") // never reads, so never answers a ping
	_ = c
	deadline := time.Now().Add(30 * time.Second)
	for e.hub.Stats().Clients != 0 {
		if time.Now().After(deadline) {
			t.Fatalf("a client that answers no pings is still connected")
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func TestShutdownClosesClients(t *testing.T) {
	log := slog.New(slog.DiscardHandler)
	a, _ := auth.New(auth.Config{UsersFile: filepath.Join(t.TempDir(), "u.json"), AdminPassword: "admin-password",
		HashParams: passhash.Params{MemoryKiB: 64, Time: 1, Threads: 1}}, log)
	hub := ws.New(ws.Config{}, a, log)
	rt := api.New(api.Config{}, a, log)
	rt.HandleRaw("GET", "/API/ws", 0, func(w http.ResponseWriter, r *api.Request) { hub.Serve(w, r.HTTP, r.Principal) })
	srv := httptest.NewTLSServer(rt)
	defer srv.Close()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error)
	go func() { done <- hub.Run(ctx) }()
	e := &env{srv: srv}
	c := e.mustDial(t, "admin")
	cancel()
	if err := <-done; err != nil {
		t.Errorf("Run after cancel = %v; want nil", err)
	}
	c.SetReadDeadline(time.Now().Add(30 * time.Second))
	if _, _, err := c.ReadMessage(); !websocket.IsCloseError(err, websocket.CloseGoingAway) {
		t.Errorf("client read after shutdown = %v; want close 1001", err)
	}
}
