package ws

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"
	"unicode"

	"github.com/gorilla/websocket"

	"github.com/multimeter-fw/multimeter/services/apierr"
	"github.com/multimeter-fw/multimeter/services/apiparam"
	"github.com/multimeter-fw/multimeter/services/auth"
)

// client is one websocket connection. Its reader runs in the HTTP
// handler's goroutine (Serve), its writer in a goroutine Serve starts
// and waits for; the hub only queues messages.
type client struct {
	conn *websocket.Conn
	send chan []byte
	done chan struct{} // closed when the client is to go away

	closeOnce sync.Once
	closeCode int
	closeText string

	mu   sync.Mutex
	p    auth.Principal
	subs map[string]subscription
}

func (c *client) principal() auth.Principal {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.p
}

func (c *client) setPrincipal(p auth.Principal) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.p = p
}

func (c *client) snapshot() (map[string]subscription, auth.Principal) {
	c.mu.Lock()
	defer c.mu.Unlock()
	subs := make(map[string]subscription, len(c.subs))
	for id, s := range c.subs {
		subs[id] = s
	}
	return subs, c.p
}

// close asks the writer to send a close frame and end the connection. It
// reports whether this call was the one that closed it.
func (c *client) close(code int, text string) bool {
	first := false
	c.closeOnce.Do(func() {
		c.closeCode, c.closeText = code, text
		close(c.done)
		first = true
	})
	return first
}

// Serve upgrades an authenticated request to a websocket and serves it
// until the client leaves, is dropped or the hub stops.
func (h *Hub) Serve(w http.ResponseWriter, r *http.Request, p auth.Principal) {
	h.mu.Lock()
	switch {
	case h.closed:
		h.mu.Unlock()
		apierr.Write(w, apierr.New(http.StatusServiceUnavailable, "shutting down"))
		return
	case len(h.clients) >= h.cfg.MaxClients:
		h.mu.Unlock()
		e := apierr.New(http.StatusServiceUnavailable, "too many websocket clients (at most %d)", h.cfg.MaxClients)
		e.RetryAfter = 10 * time.Second
		apierr.Write(w, e)
		return
	}
	// Reserve the place before the upgrade so that concurrent upgrades
	// cannot overshoot the cap.
	c := &client{send: make(chan []byte, h.cfg.SendQueue), done: make(chan struct{}), p: p, subs: map[string]subscription{}}
	h.clients[c] = struct{}{}
	h.wg.Add(1)
	h.mu.Unlock()
	defer func() {
		h.mu.Lock()
		delete(h.clients, c)
		h.mu.Unlock()
		h.wg.Done()
	}()

	conn, err := h.upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader has answered
	}
	c.conn = conn
	conn.SetReadLimit(h.cfg.MaxMessageBytes)
	conn.SetReadDeadline(time.Now().Add(h.cfg.PongTimeout))
	conn.SetPongHandler(func(string) error {
		return conn.SetReadDeadline(time.Now().Add(h.cfg.PongTimeout))
	})
	var writer sync.WaitGroup
	writer.Go(func() { h.write(c) })
	h.read(c)
	c.close(websocket.CloseNormalClosure, "")
	writer.Wait() // the writer closes the connection
}

// write sends queued messages and pings until the client is closed, then
// sends the close frame. A closed client gets no more queued messages.
func (h *Hub) write(c *client) {
	ping := time.NewTicker(h.cfg.PingInterval)
	defer ping.Stop()
	defer c.conn.Close() // unblocks the reader
	for {
		select {
		case <-c.done:
			h.sendClose(c)
			return
		default:
		}
		select {
		case msg := <-c.send:
			c.conn.SetWriteDeadline(time.Now().Add(h.cfg.WriteTimeout))
			if err := c.conn.WriteMessage(websocket.TextMessage, msg); err != nil {
				h.writeFailed(c, err)
				return
			}
		case <-ping.C:
			if err := c.conn.WriteControl(websocket.PingMessage, nil, time.Now().Add(h.cfg.WriteTimeout)); err != nil {
				h.writeFailed(c, err)
				return
			}
		case <-c.done:
			h.sendClose(c)
			return
		}
	}
}

// writeFailed closes c after a failed write. A write that timed out is a
// client that stopped reading with its socket buffers full, as much a
// client not keeping up as one whose queue overflowed, and is counted so.
func (h *Hub) writeFailed(c *client, err error) {
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		h.drop(c, websocket.CloseAbnormalClosure, "", "write timed out")
		return
	}
	c.close(websocket.CloseAbnormalClosure, "")
}

// sendClose tells the client why it is being closed, if it can still
// hear it.
func (h *Hub) sendClose(c *client) {
	if c.closeCode == websocket.CloseAbnormalClosure {
		return
	}
	msg := websocket.FormatCloseMessage(c.closeCode, c.closeText)
	c.conn.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
}

// clientMsg is a message from the client.
type clientMsg struct {
	Type   string                     `json:"type"`
	ID     string                     `json:"id"`
	Topic  string                     `json:"topic"`
	Params map[string]json.RawMessage `json:"params"`
}

type replyMsg struct {
	Type   string `json:"type"`
	ID     string `json:"id,omitempty"`
	Error  string `json:"error,omitempty"`
	Status int    `json:"status,omitempty"`
}

// read handles the client's messages until the connection ends.
func (h *Hub) read(c *client) {
	for {
		kind, data, err := c.conn.ReadMessage()
		if err != nil {
			return
		}
		c.conn.SetReadDeadline(time.Now().Add(h.cfg.PongTimeout))
		if kind != websocket.TextMessage {
			h.reply(c, replyMsg{Type: "error", Error: "want JSON text messages", Status: http.StatusBadRequest})
			continue
		}
		m, err := ParseMessage(data)
		if err != nil {
			e := apierr.From(err)
			h.reply(c, replyMsg{Type: "error", ID: m.ID, Error: e.Message, Status: e.Status})
			continue
		}
		switch m.Type {
		case "subscribe":
			h.subscribe(c, m)
		case "unsubscribe":
			c.mu.Lock()
			delete(c.subs, m.ID)
			c.mu.Unlock()
			h.reply(c, replyMsg{Type: "unsubscribed", ID: m.ID})
		}
	}
}

func (h *Hub) reply(c *client, m replyMsg) {
	b, _ := json.Marshal(m)
	c.queue(b)
}

// queue hands the reader's own replies to the writer, waiting for room:
// a client that sends faster than it reads only slows down its own reader.
// (The hub's periodic updates never wait; see Hub.enqueue.)
func (c *client) queue(msg []byte) {
	select {
	case c.send <- msg:
	case <-c.done:
	}
}

// subscribe checks a subscription by computing its value once; only a
// subscription that works is kept, and its first value goes out at once.
func (h *Hub) subscribe(c *client, m Message) {
	s := subscription{topic: m.Topic, params: apiparam.FromMap(m.Params), key: canonicalKey(m.Topic, m.Params)}
	p := c.principal()
	if r := h.evaluate(s, p.Roles, nil); r.err != nil {
		h.reply(c, replyMsg{Type: "error", ID: m.ID, Error: r.err.Message, Status: r.err.Status})
		return
	}
	c.mu.Lock()
	_, replacing := c.subs[m.ID]
	if !replacing && len(c.subs) >= h.cfg.MaxSubscriptions {
		c.mu.Unlock()
		h.reply(c, replyMsg{Type: "error", ID: m.ID, Error: fmt.Sprintf("at most %d subscriptions", h.cfg.MaxSubscriptions), Status: http.StatusBadRequest})
		return
	}
	c.subs[m.ID] = s
	c.mu.Unlock()
	h.reply(c, replyMsg{Type: "subscribed", ID: m.ID})
	if msg := h.update(c, h.cfg.Now().Unix(), nil); msg != nil {
		c.queue(msg)
	}
}

// Message is a client message after validation.
type Message struct {
	Type   string // "subscribe" or "unsubscribe"
	ID     string
	Topic  string
	Params map[string]string
}

const (
	maxIDLen     = 64
	maxParams    = 16
	maxParamText = 256
)

// ParseMessage decodes and validates a client message: a known type, an
// id of 1 to 64 printable characters, a topic for subscribe, and params
// whose values are strings, numbers or booleans. Errors are 400s.
func ParseMessage(data []byte) (Message, error) {
	var raw clientMsg
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&raw); err != nil {
		return Message{}, apierr.New(http.StatusBadRequest, "invalid message: %v", err)
	}
	m := Message{Type: raw.Type, ID: raw.ID, Topic: raw.Topic}
	if m.Type != "subscribe" && m.Type != "unsubscribe" {
		return m, apierr.BadParam("type", "want subscribe or unsubscribe, got %q", truncate(m.Type))
	}
	if !printable(m.ID, maxIDLen) {
		return Message{Type: m.Type}, apierr.BadParam("id", "want 1 to %d printable characters", maxIDLen)
	}
	if m.Type == "unsubscribe" {
		return m, nil
	}
	if !printable(m.Topic, maxIDLen) {
		return m, apierr.BadParam("topic", "want 1 to %d printable characters", maxIDLen)
	}
	if len(raw.Params) > maxParams {
		return m, apierr.BadParam("params", "at most %d parameters", maxParams)
	}
	m.Params = make(map[string]string, len(raw.Params))
	for name, v := range raw.Params {
		if !printable(name, maxIDLen) {
			return m, apierr.BadParam("params", "parameter names want 1 to %d printable characters", maxIDLen)
		}
		text, ok := scalar(v)
		if !ok || len(text) > maxParamText {
			return m, apierr.BadParam(name, "want a string, number or boolean of at most %d bytes", maxParamText)
		}
		m.Params[name] = text
	}
	return m, nil
}

// scalar turns a JSON string, number or boolean into the text a query
// parameter would have carried.
func scalar(v json.RawMessage) (string, bool) {
	var s string
	if json.Unmarshal(v, &s) == nil {
		return s, true
	}
	var n json.Number
	if json.Unmarshal(v, &n) == nil {
		return n.String(), true
	}
	var b bool
	if json.Unmarshal(v, &b) == nil {
		return strconv.FormatBool(b), true
	}
	return "", false
}

func printable(s string, max int) bool {
	if s == "" || len(s) > max {
		return false
	}
	for _, r := range s {
		if !unicode.IsPrint(r) {
			return false
		}
	}
	return true
}

func truncate(s string) string {
	if len(s) > maxIDLen {
		return s[:maxIDLen] + "..."
	}
	return s
}
