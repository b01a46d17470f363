package statsapi

import (
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
)

// FuzzRoutes sends arbitrary statistics paths, query strings and instance
// headers through the real router to the analysed fixture: nothing may
// panic or fail inside (5xx), every answer is one of the statuses the
// contract names, and every error is the JSON shape, a 400 naming what is
// wrong.
func FuzzRoutes(f *testing.F) {
	f.Add("modules/ip/ips_paged", "sort=bps&reverse=true&page=0&count=1", "", false)
	f.Add("modules/ip/ips/10.1.0.1/peers", "sort=bytes&reverse=true&page=0&count=9999&timespan=60&values=100", ":0", false)
	f.Add("modules/mac/macs/ff:ff:ff:ff:ff:ff", "starttime=1772366400&endtime=1772366405&skiphistorydata=false", "", false)
	f.Add("modules/ip/globalConnections/csv", "csv=true&group=1", "mm-test:1", false)
	f.Add("modules/l4_ports/ports/tcp:443", "timespan=7&values=3", "", true)
	fx := newFixture(f)
	f.Fuzz(func(t *testing.T, path, query, header string, options bool) {
		method := http.MethodGet
		if options {
			method = http.MethodOptions
		}
		target := Prefix + "/" + url.PathEscape(path)
		if strings.ContainsAny(path, "/") {
			// Keep the fuzzer's segments: escape each one.
			segs := strings.Split(path, "/")
			for i, s := range segs {
				segs[i] = url.PathEscape(s)
			}
			target = Prefix + "/" + strings.Join(segs, "/")
		}
		req := httptest.NewRequest(method, "https://mm-test"+target, nil)
		req.URL.RawQuery = query
		req.SetBasicAuth("admin", "admin-password")
		if header != "" && !strings.ContainsAny(header, "\r\n\x00") {
			req.Header.Set("X-AllegroPackets-Multimeter-ID", header)
		}
		rec := httptest.NewRecorder()
		fx.rt.ServeHTTP(rec, req)
		switch rec.Code {
		case 200, 204, 400, 404, 405, 503:
		default:
			t.Fatalf("%s %s?%s (instance %q) = %d %s", method, target, query, header, rec.Code, rec.Body)
		}
		if strings.HasPrefix(rec.Header().Get("Content-Type"), "text/csv") {
			return
		}
		var body map[string]any
		if rec.Code != 204 && json.Unmarshal(rec.Body.Bytes(), &body) != nil {
			t.Fatalf("%s %s?%s = %d with a body that is not JSON: %.200s", method, target, query, rec.Code, rec.Body)
		}
		if rec.Code == 400 {
			msg, _ := body["error"].(string)
			if body["status"] != float64(400) || msg == "" {
				t.Fatalf("%s %s?%s: 400 body %s", method, target, query, rec.Body)
			}
		}
	})
}
