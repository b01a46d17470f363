package daemon

import (
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/multimeter-fw/multimeter/services/logring"
)

func TestSystemLog(t *testing.T) {
	ring := logring.New(0)
	log := slog.New(slog.NewJSONHandler(ring, nil))
	cfg := Config{DataDir: t.TempDir(), Listen: "127.0.0.1:0", AdminPassword: adminPW, Hostname: "mm-test", Console: io.Discard, Logs: ring}
	cfg.fillDefaults()
	sys, err := build(cfg, log)
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewTLSServer(sys.router)
	defer srv.Close()
	log.Info("first line")
	log.Info("second line")
	admin := cred{user: "admin", password: adminPW}

	get := func(query string) []logring.Entry {
		t.Helper()
		code, _, body := do(t, srv.Client(), "GET", srv.URL+"/API/system/log"+query, admin, "")
		if code != 200 {
			t.Fatalf("GET /API/system/log%s = %d %s; want 200", query, code, body)
		}
		var got struct{ Entries []logring.Entry }
		if err := json.Unmarshal(body, &got); err != nil {
			t.Fatal(err)
		}
		return got.Entries
	}
	find := func(es []logring.Entry, msg string) (uint64, bool) {
		for _, e := range es {
			if strings.Contains(e.Line, `"msg":"`+msg+`"`) {
				return e.Seq, true
			}
		}
		return 0, false
	}
	all := get("")
	first, ok1 := find(all, "first line")
	_, ok2 := find(all, "second line")
	if !ok1 || !ok2 {
		t.Fatalf("GET /API/system/log = %+v; want both logged lines", all)
	}
	later := get(fmt.Sprintf("?after=%d", first))
	if _, ok := find(later, "first line"); ok {
		t.Errorf("GET ?after=%d still has the first line: %+v", first, later)
	}
	if _, ok := find(later, "second line"); !ok {
		t.Errorf("GET ?after=%d lacks the second line: %+v", first, later)
	}
	for _, q := range []string{"?after=-1", "?after=x"} {
		if code, _, body := do(t, srv.Client(), "GET", srv.URL+"/API/system/log"+q, admin, ""); code != 400 {
			t.Errorf("GET /API/system/log%s = %d %s; want 400", q, code, body)
		}
	}
	if code, _, _ := do(t, srv.Client(), "GET", srv.URL+"/API/system/log", cred{}, ""); code != 401 {
		t.Errorf("GET /API/system/log without credentials = %d; want 401", code)
	}
}
