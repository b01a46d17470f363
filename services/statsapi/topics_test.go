package statsapi

import (
	"crypto/tls"
	"encoding/base64"
	"encoding/json"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gorilla/websocket"
)

// dial opens the live feed as user.
func (f *fixture) dial(t *testing.T, user string) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}, HandshakeTimeout: 10 * time.Second}
	h := http.Header{"Authorization": {"Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+user+"-password"))}}
	c, resp, err := d.Dial("wss"+strings.TrimPrefix(f.srv.URL, "https")+"/API/ws", h)
	if err != nil {
		t.Fatalf("websocket as %s: %v (%v)", user, err, resp)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

type update struct {
	Type   string
	Values map[string]json.RawMessage
	Errors map[string]struct {
		Error  string
		Status int
	}
}

// nextUpdate reads until an update that answers every id in want.
func nextUpdate(t *testing.T, c *websocket.Conn, want ...string) update {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		c.SetReadDeadline(deadline)
		var u update
		if err := c.ReadJSON(&u); err != nil {
			t.Fatalf("websocket read: %v", err)
		}
		if u.Type != "update" {
			continue
		}
		all := true
		for _, id := range want {
			_, ok := u.Values[id]
			_, failed := u.Errors[id]
			all = all && (ok || failed)
		}
		if all {
			return u
		}
	}
}

// TestTopicsMatchREST subscribes to every topic and compares the first
// update with the REST answer for the same parameters (the captures are
// analysed completely, so nothing changes in between).
func TestTopicsMatchREST(t *testing.T) {
	f := newFixture(t)
	ip := f.firstItem(t, "/API/stats/modules/ip/ips_paged?sort=bytes&reverse=true", "ip")
	slotIP := f.firstItem(t, "/API/stats/modules/ip/ips_paged?sort=bytes&reverse=true&mm-id=:1", "ip")
	subs := []struct {
		id, topic string
		params    map[string]any
		rest      string // the REST path answering the same
	}{
		{"ip", "ip", map[string]any{"ip": ip}, "/API/stats/modules/ip/ips/" + ip},
		{"slotIP", "ip", map[string]any{"ip": slotIP, "mm-id": ":1"}, "/API/stats/modules/ip/ips/" + slotIP + "?mm-id=:1"},
		{"group", "ip", map[string]any{"ip": ip, "group": 0}, "/API/stats/modules/ip/ips/" + ip + "?group=0"},
		{"top", "ips_top", map[string]any{"count": 3}, "/API/stats/modules/ip/ips_paged?sort=bps&reverse=true&count=3"},
		{"topBytes", "ips_top", map[string]any{"count": 5, "sort": "bytes"}, "/API/stats/modules/ip/ips_paged?sort=bytes&reverse=true&count=5"},
		{"mac", "mac", map[string]any{"mac": "ff:ff:ff:ff:ff:ff"}, "/API/stats/modules/mac/macs/ff:ff:ff:ff:ff:ff"},
		{"macs", "macs_top", map[string]any{"sort": "pps"}, "/API/stats/modules/mac/macs_paged?sort=pps&reverse=true"},
		{"apps", "dpi_top", nil, "/API/stats/modules/dpi/protocols_paged?sort=bps&reverse=true"},
		{"ifs", "interfaces", nil, "/API/stats/interfaces"},
		{"load", "load", nil, "/API/stats/load"},
	}
	c := f.dial(t, "viewer")
	var ids []string
	for _, s := range subs {
		if err := c.WriteJSON(map[string]any{"type": "subscribe", "id": s.id, "topic": s.topic, "params": s.params}); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, s.id)
	}
	u := nextUpdate(t, c, ids...)
	for _, s := range subs {
		if e, failed := u.Errors[s.id]; failed {
			t.Errorf("topic %s %v: error %+v", s.topic, s.params, e)
			continue
		}
		sep := "?"
		if strings.Contains(s.rest, "?") {
			sep = "&"
		}
		var rest, live any
		f.getJSON(t, s.rest+sep+"skiphistorydata=true", &rest)
		json.Unmarshal(u.Values[s.id], &live)
		if s.topic == "load" { // sampled while running: both are empty after the replay
			continue
		}
		if diff := cmp.Diff(rest, live); diff != "" {
			t.Errorf("topic %s %v differs from GET %s (-REST +live):\n%s", s.topic, s.params, s.rest, diff)
		}
	}

	var d Dashboard
	c2 := f.dial(t, "viewer")
	c2.WriteJSON(map[string]any{"type": "subscribe", "id": "d", "topic": "dashboard"})
	json.Unmarshal(nextUpdate(t, c2, "d").Values["d"], &d)
	var ifs struct{ DisplayedItems []Interface }
	f.getJSON(t, "/API/stats/interfaces", &ifs)
	var p page
	f.getJSON(t, "/API/stats/modules/ip/ips_paged", &p)
	if d.Traffic.AllTime != ifs.DisplayedItems[0].AllTime || d.IPs != p.TotalItems || d.LastSecond == 0 {
		t.Errorf("dashboard %+v; want the interface's traffic %v and %d IPs", d, ifs.DisplayedItems[0].AllTime, p.TotalItems)
	}
}

func TestTopicErrors(t *testing.T) {
	f := newFixture(t)
	tests := []struct {
		user, topic string
		params      map[string]any
		status      int
	}{
		{"viewer", "ip", map[string]any{"ip": "not-an-ip"}, 400},
		{"viewer", "ip", map[string]any{"ip": "192.0.2.99"}, 404},
		{"viewer", "ip", nil, 400},
		{"viewer", "dashboard", map[string]any{"mm-id": ":3"}, 404},
		{"viewer", "dashboard", map[string]any{"mm-id": "elsewhere:1"}, 404},
		{"viewer", "ips_top", map[string]any{"count": 1000}, 400},
		{"viewer", "ips_top", map[string]any{"sort": "nonsense"}, 400},
		{"viewer", "dashboard", map[string]any{"group": 7}, 400},
		{"capturer", "dashboard", nil, 403},
		{"capturer", "ip", map[string]any{"ip": "10.1.0.1"}, 403},
	}
	for _, tt := range tests {
		t.Run(tt.user+" "+tt.topic, func(t *testing.T) {
			c := f.dial(t, tt.user)
			c.WriteJSON(map[string]any{"type": "subscribe", "id": "x", "topic": tt.topic, "params": tt.params})
			// A subscription that fails is refused at once.
			c.SetReadDeadline(time.Now().Add(20 * time.Second))
			var reply struct {
				Type, ID, Error string
				Status          int
			}
			if err := c.ReadJSON(&reply); err != nil {
				t.Fatal(err)
			}
			if reply.Type != "error" || reply.ID != "x" || reply.Status != tt.status || reply.Error == "" {
				t.Errorf("topic %s %v as %s: %+v; want an error with status %d", tt.topic, tt.params, tt.user, reply, tt.status)
			}
		})
	}
}
