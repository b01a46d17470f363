package httpsredirect

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
)

func TestHandler(t *testing.T) {
	tests := []struct {
		port, method, host, target string
		status                     int
		location                   string
	}{
		{"443", "GET", "mm.example", "/", 308, "https://mm.example/"},
		{"443", "GET", "mm.example:80", "/API/info/system?x=1&y=%20", 308, "https://mm.example/API/info/system?x=1&y=%20"},
		{"8443", "POST", "10.0.0.5:8080", "/API/auth/login", 308, "https://10.0.0.5:8443/API/auth/login"},
		{"443", "GET", "[2001:db8::1]:80", "/a", 308, "https://[2001:db8::1]/a"},
		{"8443", "GET", "[2001:db8::1]", "/a", 308, "https://[2001:db8::1]:8443/a"},
		{"443", "GET", "evil.example/path", "/", 400, ""},
		{"443", "GET", "user@evil.example", "/", 400, ""},
		{"443", "GET", "a:b:c", "/", 400, ""},
		{"443", "GET", "", "/", 400, ""},
	}
	for _, tt := range tests {
		r := httptest.NewRequest(tt.method, "http://placeholder"+tt.target, strings.NewReader(""))
		r.Host = tt.host
		w := httptest.NewRecorder()
		Handler(tt.port).ServeHTTP(w, r)
		if w.Code != tt.status || w.Header().Get("Location") != tt.location {
			t.Errorf("Handler(%s) %s Host %q %s = %d %q; want %d %q", tt.port, tt.method, tt.host, tt.target,
				w.Code, w.Header().Get("Location"), tt.status, tt.location)
		}
	}
}

var _ http.Handler = Handler("443")
