// Package ws is the live feed of the browser UI: GET /API/ws upgrades to a
// websocket on which a client subscribes to topics, and once per second
// the hub sends it the current value of every subscription, so the UI
// never polls.
//
//	hub := ws.New(ws.Config{}, authService, log)
//	hub.Register("system", 0, ws.ProviderFunc(func(ws.Request) (any, error) { return sys.Info(), nil }))
//	go hub.Run(ctx)
//	router.HandleRaw("GET", "/API/ws", 0, func(w http.ResponseWriter, r *api.Request) {
//		hub.Serve(w, r.HTTP, r.Principal)
//	})
//
// Protocol (JSON text messages). The client sends
//
//	{"type": "subscribe", "id": "top", "topic": "system", "params": {"count": 10}}
//	{"type": "unsubscribe", "id": "top"}
//
// and receives
//
//	{"type": "subscribed", "id": "top"}
//	{"type": "error", "id": "top", "error": "unknown topic \"x\"", "status": 404}
//	{"type": "update", "time": 1700000000, "values": {"top": ...}, "errors": {"id": {"error": ..., "status": ...}}}
//
// An update goes out right after a subscription and then every second.
// Params are the topic's query parameters (strings, numbers or booleans),
// parsed with package apiparam like a REST request's.
//
// The caller is authenticated by the API's router like any request; the
// hub checks the Origin, re-checks the credentials every second (a
// logout, a revoked token or a deleted user ends the connection), caps
// the number of clients, and drops a client whose bounded send queue is
// full instead of waiting for it. Pings find dead connections.
package ws

import (
	"context"
	"encoding/json"
	"log/slog"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/multimeter-fw/multimeter/services/apierr"
	"github.com/multimeter-fw/multimeter/services/apiparam"
	"github.com/multimeter-fw/multimeter/services/auth"
	"github.com/multimeter-fw/multimeter/services/role"
)

// Request is what a provider gets for one subscription.
type Request struct {
	Params apiparam.Query
	Roles  role.Set // the subscriber's current roles
}

// Provider produces a topic's current value. It is called from several
// goroutines at once and must be quick: the hub calls it every second.
// Its errors reach the client as {"error", "status"} (use package apierr
// for a status other than 500).
type Provider interface {
	Value(Request) (any, error)
}

// ProviderFunc adapts a function to Provider.
type ProviderFunc func(Request) (any, error)

// Value calls f.
func (f ProviderFunc) Value(r Request) (any, error) { return f(r) }

// Authority re-checks a client's credentials; *auth.Service is one.
type Authority interface {
	Refresh(auth.Principal) (auth.Principal, error)
}

// Config tunes the hub. Zero fields mean the defaults.
type Config struct {
	Interval         time.Duration // between updates; default 1s
	MaxClients       int           // default 64
	MaxSubscriptions int           // per client; default 32
	SendQueue        int           // messages queued per client before it is dropped; default 4
	WriteTimeout     time.Duration // default 10s
	PingInterval     time.Duration // default 20s
	PongTimeout      time.Duration // default 60s: a client silent for this long is gone
	MaxMessageBytes  int64         // largest client message; default 4096
	Now              func() time.Time
}

func (c *Config) fillDefaults() {
	if c.Interval <= 0 {
		c.Interval = time.Second
	}
	if c.MaxClients <= 0 {
		c.MaxClients = 64
	}
	if c.MaxSubscriptions <= 0 {
		c.MaxSubscriptions = 32
	}
	if c.SendQueue <= 0 {
		c.SendQueue = 4
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	if c.PingInterval <= 0 {
		c.PingInterval = 20 * time.Second
	}
	if c.PongTimeout <= 0 {
		c.PongTimeout = 60 * time.Second
	}
	if c.MaxMessageBytes <= 0 {
		c.MaxMessageBytes = 4096
	}
	if c.Now == nil {
		c.Now = time.Now
	}
}

type topic struct {
	need     role.Set
	provider Provider
}

// Hub owns the websocket clients. Register topics before Serve and Run.
type Hub struct {
	cfg      Config
	auth     Authority
	log      *slog.Logger
	upgrader websocket.Upgrader
	topics   map[string]topic

	mu      sync.Mutex
	clients map[*client]struct{}
	closed  bool
	wg      sync.WaitGroup

	dropped atomic.Uint64
}

// New returns a Hub with no topics.
func New(cfg Config, a Authority, log *slog.Logger) *Hub {
	cfg.fillDefaults()
	h := &Hub{cfg: cfg, auth: a, log: log, topics: map[string]topic{}, clients: map[*client]struct{}{}}
	h.upgrader = websocket.Upgrader{
		HandshakeTimeout: 10 * time.Second,
		CheckOrigin:      auth.SameOrigin,
		Error: func(w http.ResponseWriter, _ *http.Request, status int, reason error) {
			apierr.Write(w, apierr.New(status, "websocket: %v", reason))
		},
	}
	return h
}

// Register adds a topic that subscribers with the roles in need may
// subscribe to. It panics on a duplicate name: topics are fixed at
// start-up.
func (h *Hub) Register(name string, need role.Set, p Provider) {
	if _, dup := h.topics[name]; dup {
		panic("ws: topic " + name + " registered twice")
	}
	h.topics[name] = topic{need: need, provider: p}
}

// Stats are the hub's gauges.
type Stats struct {
	Clients int    `json:"clients"`
	Dropped uint64 `json:"dropped"` // clients dropped for not keeping up
}

// Stats returns the current gauges.
func (h *Hub) Stats() Stats {
	h.mu.Lock()
	defer h.mu.Unlock()
	return Stats{Clients: len(h.clients), Dropped: h.dropped.Load()}
}

// Run sends the updates until ctx is done, then closes every client and
// waits for their goroutines.
func (h *Hub) Run(ctx context.Context) error {
	t := time.NewTicker(h.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			h.mu.Lock()
			h.closed = true
			for c := range h.clients {
				c.close(websocket.CloseGoingAway, "server shutting down")
			}
			h.mu.Unlock()
			h.wg.Wait()
			return nil
		case <-t.C:
			h.tick()
		}
	}
}

// tick sends every client its update. Values are computed once per topic,
// parameters and roles, however many clients share them.
func (h *Hub) tick() {
	h.mu.Lock()
	clients := make([]*client, 0, len(h.clients))
	for c := range h.clients {
		clients = append(clients, c)
	}
	h.mu.Unlock()
	memo := map[string]result{}
	now := h.cfg.Now().Unix()
	for _, c := range clients {
		select {
		case <-c.done: // on its way out
			continue
		default:
		}
		p, err := h.auth.Refresh(c.principal())
		if err != nil {
			c.close(4401, "credentials no longer valid")
			continue
		}
		c.setPrincipal(p)
		if msg := h.update(c, now, memo); msg != nil {
			h.enqueue(c, msg)
		}
	}
}

type result struct {
	value json.RawMessage
	err   *apierr.Error
}

// evaluate computes one subscription's value, memoised per tick.
func (h *Hub) evaluate(s subscription, roles role.Set, memo map[string]result) result {
	key := s.key + "\x00" + roles.String()
	if r, ok := memo[key]; ok {
		return r
	}
	var r result
	t, ok := h.topics[s.topic]
	switch {
	case !ok:
		r.err = apierr.New(http.StatusNotFound, "unknown topic %q", s.topic)
	case !roles.Allows(t.need):
		r.err = apierr.New(http.StatusForbidden, "topic %q needs the role %s", s.topic, t.need)
	default:
		v, err := t.provider.Value(Request{Params: s.params, Roles: roles})
		if err == nil {
			r.value, err = json.Marshal(v)
		}
		if err != nil {
			r.err = apierr.From(err)
		}
	}
	if memo != nil {
		memo[key] = r
	}
	return r
}

type updateMsg struct {
	Type   string                     `json:"type"`
	Time   int64                      `json:"time"`
	Values map[string]json.RawMessage `json:"values"`
	Errors map[string]*apierr.Error   `json:"errors,omitempty"`
}

// update builds c's update message, or nil when it has no subscriptions.
func (h *Hub) update(c *client, now int64, memo map[string]result) []byte {
	subs, p := c.snapshot()
	if len(subs) == 0 {
		return nil
	}
	msg := updateMsg{Type: "update", Time: now, Values: map[string]json.RawMessage{}}
	for id, s := range subs {
		r := h.evaluate(s, p.Roles, memo)
		if r.err != nil {
			if msg.Errors == nil {
				msg.Errors = map[string]*apierr.Error{}
			}
			msg.Errors[id] = r.err
			continue
		}
		msg.Values[id] = r.value
	}
	b, _ := json.Marshal(msg)
	return b
}

// enqueue hands a message to c's writer, dropping c if its queue is full:
// one slow client must not hold up the others.
func (h *Hub) enqueue(c *client, msg []byte) {
	select {
	case c.send <- msg:
	case <-c.done:
	default:
		h.drop(c, websocket.ClosePolicyViolation, "too slow: updates are not being read", "send queue full")
	}
}

// drop closes c for not keeping up, with close code and text, and counts
// it unless c was closed already.
func (h *Hub) drop(c *client, code int, text, why string) {
	if c.close(code, text) {
		h.dropped.Add(1)
		h.log.Info("websocket client dropped: "+why, "user", c.principal().User)
	}
}

// subscription is one of a client's subscriptions.
type subscription struct {
	topic  string
	params apiparam.Query
	key    string // topic and params in a canonical form, for memoising
}

func canonicalKey(topic string, params map[string]string) string {
	names := make([]string, 0, len(params))
	for k := range params {
		names = append(names, k)
	}
	slices.Sort(names)
	pairs := make([][2]string, 0, len(names)+1)
	pairs = append(pairs, [2]string{"", topic})
	for _, k := range names {
		pairs = append(pairs, [2]string{k, params[k]})
	}
	b, _ := json.Marshal(pairs) // unambiguous whatever the strings hold
	return string(b)
}
