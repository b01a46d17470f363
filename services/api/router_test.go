package api

import (
	"cmp"
	"context"
	"encoding/csv"
	"encoding/json"
	"errors"
	"io"
	"log/slog"
	"net/http"
	"net/http/httptest"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	gocmp "github.com/google/go-cmp/cmp"

	"github.com/multimeter-fw/multimeter/services/apilist"
	"github.com/multimeter-fw/multimeter/services/apiparam"
	"github.com/multimeter-fw/multimeter/services/auth"
	"github.com/multimeter-fw/multimeter/services/passhash"
	"github.com/multimeter-fw/multimeter/services/role"
)

type peer struct {
	IP    string `json:"ip"`
	Bytes int    `json:"bytes"`
}

var peers = apilist.Spec[peer]{
	Keys:    []apilist.Key[peer]{{Name: "bytes", Compare: func(a, b peer) int { return cmp.Compare(a.Bytes, b.Bytes) }}},
	Order:   func(a, b peer) int { return strings.Compare(a.IP, b.IP) },
	Columns: []apilist.Column[peer]{{Name: "ip", Value: func(p peer) string { return p.IP }}},
}

type slots []int

func (s slots) HasSlot(n int) bool { return slices.Contains(s, n) }

type server struct {
	*httptest.Server
	rt *Router
}

// newServer serves a table shaped like the statistics API over real TLS,
// with the real auth service, admin's password "admin-password" and the
// users "viewer" (stats) and "capturer" (pcap), password = name+"-password".
func newServer(t *testing.T) *server {
	t.Helper()
	a, err := auth.New(auth.Config{
		UsersFile:     filepath.Join(t.TempDir(), "users.json"),
		AdminPassword: "admin-password",
		HashParams:    passhash.Params{MemoryKiB: 64, Time: 1, Threads: 1},
	}, slog.New(slog.DiscardHandler))
	if err != nil {
		t.Fatal(err)
	}
	for name, roles := range map[string]role.Set{"viewer": role.Stats, "capturer": role.Pcap} {
		if _, err := a.CreateUser(context.Background(), name, name+"-password", roles); err != nil {
			t.Fatal(err)
		}
	}
	rt := New(Config{Hostname: "mm-1", Instances: slots{0, 1}}, a, slog.New(slog.DiscardHandler))
	echo := func(r *Request) (any, error) {
		return map[string]any{"ip": r.Param("ip"), "mac": r.Param("mac"), "slot": r.Instance.Slot, "user": r.Principal.User}, nil
	}
	rt.Handle("GET", "/API/stats/modules/ip/ips/protocol", role.Stats, echo)
	rt.Handle("GET", "/API/stats/modules/ip/ips/:ip", role.Stats, echo)
	rt.Handle("GET", "/API/stats/modules/ip/ips/:ip/peers", role.Stats, func(r *Request) (any, error) {
		opts, err := apiparam.ParseList(r.Query)
		if err != nil {
			return nil, err
		}
		items := []peer{{"10.0.0.2", 5}, {"10.0.0.1", 7}, {"10.0.0.3", 1}}
		csv, _ := apiparam.CSV(r.Query)
		return peers.Select(slices.Values(items), opts, csv)
	})
	rt.Handle("GET", "/API/stats/modules/ip/ips_paged", role.Stats, echo)
	rt.Handle("GET", "/API/stats/modules/mac/macs/:mac", role.Stats, echo)
	rt.HandleRaw("GET", "/API/data/modules/capture", role.Pcap, func(w http.ResponseWriter, r *Request) {
		w.Header().Set("Content-Type", "application/vnd.tcpdump.pcap")
		io.WriteString(w, "pcap")
	})
	rt.Handle("GET", "/API/system/things", role.Admin, echo)
	rt.Handle("POST", "/API/system/things", role.Admin, func(*Request) (any, error) {
		return WithStatus(http.StatusCreated, map[string]string{"ok": "yes"}), nil
	})
	rt.Handle("DELETE", "/API/system/things", role.Admin, func(*Request) (any, error) { return nil, nil })
	rt.Handle("GET", "/API/info/panic", 0, func(*Request) (any, error) { panic("boom") })
	rt.Handle("GET", "/API/info/broken", 0, func(*Request) (any, error) { return nil, errors.New("disk /x/y failed") })
	rt.HandlePublic("POST", "/API/auth/login", func(*Request) (any, error) { return map[string]string{"public": "yes"}, nil })
	s := &server{Server: httptest.NewTLSServer(rt), rt: rt}
	t.Cleanup(s.Close)
	return s
}

type response struct {
	status int
	header http.Header
	body   []byte
}

func (r response) json(t *testing.T) map[string]any {
	t.Helper()
	var m map[string]any
	if err := json.Unmarshal(r.body, &m); err != nil {
		t.Fatalf("body %q is not JSON: %v", r.body, err)
	}
	return m
}

// do sends a request as user (password user+"-password"; "" for none).
func (s *server) do(t *testing.T, method, path, user string, header ...string) response {
	t.Helper()
	req, err := http.NewRequest(method, s.URL+path, nil)
	if err != nil {
		t.Fatal(err)
	}
	if user != "" {
		req.SetBasicAuth(user, user+"-password")
	}
	for i := 0; i+1 < len(header); i += 2 {
		req.Header.Set(header[i], header[i+1])
	}
	resp, err := s.Client().Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	return response{status: resp.StatusCode, header: resp.Header, body: body}
}

func TestOptionsFromReference(t *testing.T) {
	s := newServer(t)
	tests := []struct {
		path, user string
		want       []string
	}{
		{"/API/stats/modules/ip/ips", "admin", []string{"protocol", ":ip"}},
		{"/API/stats/modules/ip/ips/10.0.54.254", "admin", []string{"peers"}},
		{"/API/stats/modules", "viewer", []string{"ip", "mac"}},
		{"/API/stats/modules/mac/macs/ff:ff:ff:ff:ff:ff", "viewer", []string{}},
		// Each user sees the branches it can reach.
		{"/API", "admin", []string{"stats", "data", "system", "info", "auth"}},
		{"/API", "viewer", []string{"stats", "info", "auth"}},
		{"/API", "capturer", []string{"data", "info", "auth"}},
	}
	for _, tt := range tests {
		r := s.do(t, "OPTIONS", tt.path, tt.user)
		var got struct{ SubResources []string }
		if err := json.Unmarshal(r.body, &got); r.status != 200 || err != nil {
			t.Errorf("OPTIONS %s as %s = %d %s", tt.path, tt.user, r.status, r.body)
			continue
		}
		if diff := gocmp.Diff(tt.want, got.SubResources); diff != "" {
			t.Errorf("OPTIONS %s as %s subResources (-want +got):\n%s", tt.path, tt.user, diff)
		}
	}
	if r := s.do(t, "OPTIONS", "/API/system", "viewer"); r.status != 403 {
		t.Errorf("OPTIONS /API/system as viewer = %d; want 403", r.status)
	}
	if r := s.do(t, "OPTIONS", "/API/stats", ""); r.status != 401 {
		t.Errorf("OPTIONS /API/stats without credentials = %d; want 401", r.status)
	}
}

// TestOptionsDerivedFromTable checks every node's OPTIONS answer against
// the children computed from the pattern strings of Routes().
func TestOptionsDerivedFromTable(t *testing.T) {
	s := newServer(t)
	children := map[string][]string{} // node pattern -> child segments in first-registration order
	for _, r := range s.rt.Routes() {
		segs := strings.Split(strings.TrimPrefix(r.Pattern, "/"), "/")
		for i := range segs {
			parent := "/" + strings.Join(segs[:i], "/")
			if !slices.Contains(children[parent], segs[i]) {
				children[parent] = append(children[parent], segs[i])
			}
		}
	}
	sample := map[string]string{":ip": "10.1.2.3", ":mac": "ff:ff:ff:ff:ff:ff"}
	for pattern, kids := range children {
		path := pattern
		for k, v := range sample {
			path = strings.ReplaceAll(path, k, v)
		}
		r := s.do(t, "OPTIONS", path, "admin")
		var got struct{ SubResources []string }
		json.Unmarshal(r.body, &got)
		want := slices.Clone(kids)
		slices.Sort(want)
		slices.Sort(got.SubResources)
		if diff := gocmp.Diff(want, got.SubResources); diff != "" {
			t.Errorf("OPTIONS %s (-from the table +answered):\n%s", path, diff)
		}
	}
}

func TestErrors(t *testing.T) {
	s := newServer(t)
	tests := []struct {
		name, method, path, user string
		header                   []string
		status                   int
		allow, param             string
	}{
		{"unknown path", "GET", "/API/stats/nothing", "admin", nil, 404, "", ""},
		{"unknown path unauthenticated", "GET", "/API/stats/nothing", "", nil, 401, "", ""},
		{"unknown path bad password", "GET", "/API/nothing", "admin", []string{"Authorization", "Basic YWRtaW46eA=="}, 401, "", ""},
		{"empty segment", "GET", "/API//stats", "admin", nil, 404, "", ""},
		{"wrong method", "POST", "/API/stats/modules/ip/ips/10.0.0.1", "admin", nil, 405, "GET, HEAD, OPTIONS", ""},
		{"wrong method on inner node", "GET", "/API/stats", "admin", nil, 405, "OPTIONS", ""},
		{"all methods listed", "PUT", "/API/system/things", "admin", nil, 405, "DELETE, GET, HEAD, OPTIONS, POST", ""},
		{"role missing", "GET", "/API/system/things", "viewer", nil, 403, "", ""},
		{"pcap role missing", "GET", "/API/data/modules/capture", "viewer", nil, 403, "", ""},
		{"stats role missing", "GET", "/API/stats/modules/ip/ips_paged", "capturer", nil, 403, "", ""},
		{"bad list parameter", "GET", "/API/stats/modules/ip/ips/10.0.0.1/peers?count=x", "viewer", nil, 400, "", "count"},
		{"unknown sort key", "GET", "/API/stats/modules/ip/ips/10.0.0.1/peers?SORT=pps", "viewer", nil, 400, "", "sort"},
		{"csv value", "GET", "/API/stats/modules/ip/ips/10.0.0.1?csv=yes", "viewer", nil, 400, "", "csv"},
		{"csv of a non-list", "GET", "/API/stats/modules/ip/ips/10.0.0.1?csv=true", "viewer", nil, 400, "", "csv"},
		{"bad mm-id", "GET", "/API/stats/modules/ip/ips/10.0.0.1?mm-id=:x", "viewer", nil, 400, "", "mm-id"},
		{"unknown slot", "GET", "/API/stats/modules/ip/ips/10.0.0.1?mm-id=:2", "viewer", nil, 404, "", ""},
		{"unknown device", "GET", "/API/stats/modules/ip/ips/10.0.0.1?mm-id=other:1", "viewer", nil, 404, "", ""},
		{"unknown slot by header", "GET", "/API/stats/modules/ip/ips/10.0.0.1", "viewer", []string{apiparam.HeaderInstance, ":7"}, 404, "", ""},
		{"handler panic", "GET", "/API/info/panic", "viewer", nil, 500, "", ""},
		{"handler internal error", "GET", "/API/info/broken", "viewer", nil, 500, "", ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.do(t, tt.method, tt.path, tt.user, tt.header...)
			if r.status != tt.status {
				t.Fatalf("%s %s = %d %s; want %d", tt.method, tt.path, r.status, r.body, tt.status)
			}
			m := r.json(t)
			if m["status"] != float64(tt.status) || m["error"] == "" {
				t.Errorf("body = %v; want {error, status: %d}", m, tt.status)
			}
			if got := r.header.Get("Allow"); got != tt.allow {
				t.Errorf("Allow = %q; want %q", got, tt.allow)
			}
			if p, _ := m["param"].(string); p != tt.param || !strings.Contains(m["error"].(string), tt.param) {
				t.Errorf("error %v names param %q; want %q", m["error"], p, tt.param)
			}
			if strings.Contains(string(r.body), "/x/y") {
				t.Errorf("body %s leaks an internal error", r.body)
			}
		})
	}
	// The server survived the panic.
	if r := s.do(t, "GET", "/API/stats/modules/ip/ips/protocol", "viewer"); r.status != 200 {
		t.Errorf("after a handler panic GET = %d; want 200", r.status)
	}
}

func TestServe(t *testing.T) {
	s := newServer(t)
	tests := []struct {
		name, method, path, user string
		header                   []string
		status                   int
		want                     map[string]any
	}{
		{"literal wins over parameter", "GET", "/API/stats/modules/ip/ips/protocol", "viewer", nil, 200,
			map[string]any{"ip": "", "mac": "", "slot": 0.0, "user": "viewer"}},
		{"parameter", "GET", "/API/stats/modules/ip/ips/10.0.54.254", "viewer", nil, 200,
			map[string]any{"ip": "10.0.54.254", "mac": "", "slot": 0.0, "user": "viewer"}},
		{"IPv6 parameter, escaped", "GET", "/API/stats/modules/ip/ips/2001%3Adb8%3A%3A1/", "viewer", nil, 200,
			map[string]any{"ip": "2001:db8::1", "mac": "", "slot": 0.0, "user": "viewer"}},
		{"mac parameter", "GET", "/API/stats/modules/mac/macs/ff:ff:ff:ff:ff:ff", "viewer", nil, 200,
			map[string]any{"ip": "", "mac": "ff:ff:ff:ff:ff:ff", "slot": 0.0, "user": "viewer"}},
		{"mm-id slot", "GET", "/API/stats/modules/ip/ips_paged?MM-ID=:1&unknown=ignored", "viewer", nil, 200,
			map[string]any{"ip": "", "mac": "", "slot": 1.0, "user": "viewer"}},
		{"mm-id with this host", "GET", "/API/stats/modules/ip/ips_paged?mm-id=MM-1:1", "viewer", nil, 200,
			map[string]any{"ip": "", "mac": "", "slot": 1.0, "user": "viewer"}},
		{"instance header", "GET", "/API/stats/modules/ip/ips_paged", "viewer", []string{"X-AllegroPackets-Multimeter-ID", ":1"}, 200,
			map[string]any{"ip": "", "mac": "", "slot": 1.0, "user": "viewer"}},
		{"admin may do everything", "GET", "/API/system/things", "admin", nil, 200,
			map[string]any{"ip": "", "mac": "", "slot": 0.0, "user": "admin"}},
		{"created", "POST", "/API/system/things", "admin", nil, 201, map[string]any{"ok": "yes"}},
		{"public route without credentials", "POST", "/API/auth/login", "", nil, 200, map[string]any{"public": "yes"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := s.do(t, tt.method, tt.path, tt.user, tt.header...)
			if r.status != tt.status {
				t.Fatalf("%s %s = %d %s; want %d", tt.method, tt.path, r.status, r.body, tt.status)
			}
			if diff := gocmp.Diff(tt.want, r.json(t)); diff != "" {
				t.Errorf("%s %s body (-want +got):\n%s", tt.method, tt.path, diff)
			}
			if r.header.Get("Cache-Control") != "no-store" {
				t.Errorf("Cache-Control = %q; want no-store", r.header.Get("Cache-Control"))
			}
		})
	}
	if r := s.do(t, "DELETE", "/API/system/things", "admin"); r.status != 204 || len(r.body) != 0 {
		t.Errorf("DELETE = %d %q; want 204 without body", r.status, r.body)
	}
	if r := s.do(t, "HEAD", "/API/stats/modules/ip/ips/protocol", "viewer"); r.status != 200 {
		t.Errorf("HEAD on a GET route = %d; want 200", r.status)
	}
	if r := s.do(t, "GET", "/API/data/modules/capture", "capturer"); r.status != 200 || string(r.body) != "pcap" {
		t.Errorf("raw route = %d %q; want 200 pcap", r.status, r.body)
	}
}

func TestListAndCSV(t *testing.T) {
	s := newServer(t)
	r := s.do(t, "GET", "/API/stats/modules/ip/ips/10.0.0.9/peers?sort=bytes&reverse=true&page=0&count=2", "viewer")
	var page struct {
		DisplayedItems []peer
		TotalItems     int
	}
	if err := json.Unmarshal(r.body, &page); err != nil || r.status != 200 {
		t.Fatalf("peers = %d %s", r.status, r.body)
	}
	want := []peer{{"10.0.0.1", 7}, {"10.0.0.2", 5}}
	if diff := gocmp.Diff(want, page.DisplayedItems); diff != "" || page.TotalItems != 3 {
		t.Errorf("peers page (-want +got):\n%s total %d; want 3", diff, page.TotalItems)
	}
	r = s.do(t, "GET", "/API/stats/modules/ip/ips/10.0.0.9/peers?sort=bytes&csv=true", "viewer")
	if ct := r.header.Get("Content-Type"); r.status != 200 || !strings.HasPrefix(ct, "text/csv") {
		t.Fatalf("csv = %d %s %s", r.status, ct, r.body)
	}
	rows, err := csv.NewReader(strings.NewReader(string(r.body))).ReadAll()
	if err != nil {
		t.Fatal(err)
	}
	if diff := gocmp.Diff([][]string{{"ip"}, {"10.0.0.3"}, {"10.0.0.2"}, {"10.0.0.1"}}, rows); diff != "" {
		t.Errorf("csv rows (-want +got):\n%s", diff)
	}
}

func TestRegistrationMistakesPanic(t *testing.T) {
	tests := []struct {
		name  string
		first string
		then  string
	}{
		{"duplicate", "/API/a", "/API/a"},
		{"two parameter names", "/API/ips/:ip", "/API/ips/:addr/peers"},
		{"no leading slash", "", "API/a"},
		{"trailing slash", "", "/API/a/"},
		{"empty segment", "", "/API//a"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rt := New(Config{}, nil, slog.New(slog.DiscardHandler))
			h := func(*Request) (any, error) { return nil, nil }
			if tt.first != "" {
				rt.Handle("GET", tt.first, 0, h)
			}
			defer func() {
				if recover() == nil {
					t.Errorf("Handle(GET %s) after %q did not panic", tt.then, tt.first)
				}
			}()
			rt.Handle("GET", tt.then, 0, h)
		})
	}
}

var _ CSVWriter = (*apilist.Page[peer])(nil)
