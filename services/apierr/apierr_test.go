package apierr

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

func TestWrite(t *testing.T) {
	limited := New(http.StatusTooManyRequests, "slow down")
	limited.RetryAfter = 1500 * time.Millisecond
	notAllowed := New(http.StatusMethodNotAllowed, "nope")
	notAllowed.Header = http.Header{"Allow": {"GET, OPTIONS"}}
	tooBig := fmt.Errorf("read body: %w", &http.MaxBytesError{Limit: 10})
	tests := []struct {
		name       string
		err        error
		wantStatus int
		wantMsg    string
		wantParam  string
		wantHeader map[string]string
	}{
		{"api error", New(404, "unknown IP %s", "10.0.0.1"), 404, "unknown IP 10.0.0.1", "", nil},
		{"bad param", BadParam("count", "want an integer"), 400, "parameter count: want an integer", "count", nil},
		{"wrapped", fmt.Errorf("ctx: %w", New(403, "no")), 403, "no", "", nil},
		{"retry after", limited, 429, "slow down", "", map[string]string{"Retry-After": "2"}},
		{"allow", notAllowed, 405, "nope", "", map[string]string{"Allow": "GET, OPTIONS"}},
		{"internal hides details", errors.New("open /secret/path: permission denied"), 500, "Internal Server Error", "", nil},
		{"body too large", tooBig, 413, "request body too large", "", nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rec := httptest.NewRecorder()
			Write(rec, tt.err)
			if rec.Code != tt.wantStatus {
				t.Errorf("Write(%v) status = %d; want %d", tt.err, rec.Code, tt.wantStatus)
			}
			if ct := rec.Header().Get("Content-Type"); ct != "application/json" {
				t.Errorf("Content-Type = %q; want application/json", ct)
			}
			var body map[string]any
			if err := json.Unmarshal(rec.Body.Bytes(), &body); err != nil {
				t.Fatalf("body %q: %v", rec.Body, err)
			}
			if body["error"] != tt.wantMsg || body["status"] != float64(tt.wantStatus) {
				t.Errorf("body = %v; want error %q status %d", body, tt.wantMsg, tt.wantStatus)
			}
			if p, _ := body["param"].(string); p != tt.wantParam {
				t.Errorf("param = %q; want %q", p, tt.wantParam)
			}
			if strings.Contains(rec.Body.String(), "secret") {
				t.Errorf("body %q leaks an internal error", rec.Body)
			}
			for k, v := range tt.wantHeader {
				if got := rec.Header().Get(k); got != v {
					t.Errorf("header %s = %q; want %q", k, got, v)
				}
			}
		})
	}
}
