package webui

import (
	"bytes"
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"
)

func newHandler(t *testing.T) *Handler {
	t.Helper()
	h, err := New(Config{})
	if err != nil {
		t.Fatalf("New() = %v", err)
	}
	return h
}

func get(h http.Handler, method, target string, header ...string) *httptest.ResponseRecorder {
	r := httptest.NewRequest(method, target, nil)
	for i := 0; i+1 < len(header); i += 2 {
		r.Header.Set(header[i], header[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

func TestServe(t *testing.T) {
	h := newHandler(t)
	v := h.Version()
	tests := []struct {
		method, path string
		status       int
		ctype        string
		cache        string
	}{
		{"GET", "/", 200, "text/html; charset=utf-8", "no-cache"},
		{"GET", "/index.html", 200, "text/html; charset=utf-8", "no-cache"},
		{"HEAD", "/", 200, "text/html; charset=utf-8", "no-cache"},
		{"GET", "/assets/" + v + "/js/main.js", 200, "text/javascript; charset=utf-8", "public, max-age=31536000, immutable"},
		{"GET", "/assets/" + v + "/css/app.css", 200, "text/css; charset=utf-8", "public, max-age=31536000, immutable"},
		{"GET", "/assets/" + v + "/favicon.svg", 200, "image/svg+xml", "public, max-age=31536000, immutable"},
		{"GET", "/favicon.ico", 200, "image/svg+xml", "public, max-age=86400"},
		{"GET", "/assets/0123456789abcdef/js/main.js", 404, "text/plain; charset=utf-8", "no-store"},
		{"GET", "/assets/" + v + "/index.html", 404, "text/plain; charset=utf-8", "no-store"},
		{"GET", "/assets/" + v + "/js/nothing.js", 404, "text/plain; charset=utf-8", "no-store"},
		{"GET", "/assets/" + v + "/../js/main.js", 404, "text/plain; charset=utf-8", "no-store"},
		{"GET", "/js/main.js", 404, "text/plain; charset=utf-8", "no-store"},
		{"GET", "/ips/10.1.2.3", 404, "text/plain; charset=utf-8", "no-store"},
		{"POST", "/", 405, "text/plain; charset=utf-8", ""},
		{"DELETE", "/assets/" + v + "/js/main.js", 405, "text/plain; charset=utf-8", ""},
	}
	for _, tt := range tests {
		t.Run(tt.method+" "+tt.path, func(t *testing.T) {
			w := get(h, tt.method, tt.path)
			if w.Code != tt.status {
				t.Fatalf("%s %s = %d; want %d", tt.method, tt.path, w.Code, tt.status)
			}
			if got := w.Header().Get("Content-Type"); got != tt.ctype {
				t.Errorf("Content-Type = %q; want %q", got, tt.ctype)
			}
			if got := w.Header().Get("Cache-Control"); got != tt.cache {
				t.Errorf("Cache-Control = %q; want %q", got, tt.cache)
			}
			for name, want := range map[string]string{
				"Content-Security-Policy": ContentSecurityPolicy,
				"X-Content-Type-Options":  "nosniff",
				"X-Frame-Options":         "DENY",
				"Referrer-Policy":         "no-referrer",
			} {
				if got := w.Header().Get(name); got != want {
					t.Errorf("%s = %q; want %q", name, got, want)
				}
			}
			if tt.status == 405 && w.Header().Get("Allow") != "GET, HEAD" {
				t.Errorf("Allow = %q; want GET, HEAD", w.Header().Get("Allow"))
			}
		})
	}
}

// TestCSPIsStrict guards the policy itself: no inline or eval'd script,
// no other origins, no framing.
func TestCSPIsStrict(t *testing.T) {
	for _, bad := range []string{"'unsafe-inline'", "'unsafe-eval'", "*", "http:", "https:"} {
		if strings.Contains(ContentSecurityPolicy, bad) {
			t.Errorf("ContentSecurityPolicy contains %s", bad)
		}
	}
	for _, want := range []string{"default-src 'none'", "script-src 'self'", "frame-ancestors 'none'", "base-uri 'none'"} {
		if !strings.Contains(ContentSecurityPolicy, want) {
			t.Errorf("ContentSecurityPolicy lacks %s", want)
		}
	}
}

// TestIndexReferencesVersionedAssets checks that every asset the index
// names is served under the current version, and that the index holds
// no inline script or style (the CSP would block it).
func TestIndexReferencesVersionedAssets(t *testing.T) {
	h := newHandler(t)
	body := get(h, "GET", "/").Body.String()
	if strings.Contains(body, "@VERSION@") {
		t.Fatalf("index still has the version placeholder")
	}
	refs := regexp.MustCompile(`(?:src|href)="(/[^"]+)"`).FindAllStringSubmatch(body, -1)
	if len(refs) < 3 {
		t.Fatalf("index references %d assets; want the icon, the stylesheet and the script", len(refs))
	}
	for _, m := range refs {
		if !strings.HasPrefix(m[1], AssetPrefix+h.Version()+"/") {
			t.Errorf("index references %s; want it under %s%s/", m[1], AssetPrefix, h.Version())
		}
		if w := get(h, "GET", m[1]); w.Code != 200 {
			t.Errorf("GET %s = %d; want 200", m[1], w.Code)
		}
	}
	if regexp.MustCompile(`<script(?:\s[^>]*)?>[^<\s]`).MatchString(body) || strings.Contains(body, "<style") || strings.Contains(body, " style=") {
		t.Errorf("index has inline script or style:\n%s", body)
	}
}

// TestModuleImportsResolve follows every relative import of every
// JavaScript module: a typo would only show in a browser otherwise.
func TestModuleImportsResolve(t *testing.T) {
	h := newHandler(t)
	imp := regexp.MustCompile(`(?:import|from)\s*\(?\s*'(\.{1,2}/[^']+)'`)
	for name := range h.assets {
		if !strings.HasSuffix(name, ".js") {
			continue
		}
		for _, m := range imp.FindAllStringSubmatch(string(h.assets[name].body), -1) {
			target := resolve(name, m[1])
			if h.assets[target] == nil {
				t.Errorf("%s imports %s (%s), which is not an asset", name, m[1], target)
			}
		}
	}
}

func resolve(from, rel string) string {
	dir := from[:strings.LastIndex(from, "/")+1]
	parts := strings.Split(dir+rel, "/")
	var out []string
	for _, p := range parts {
		switch p {
		case ".", "":
		case "..":
			if len(out) > 0 {
				out = out[:len(out)-1]
			}
		default:
			out = append(out, p)
		}
	}
	return strings.Join(out, "/")
}

func TestETagRevalidation(t *testing.T) {
	h := newHandler(t)
	for _, path := range []string{"/", AssetPrefix + h.Version() + "/js/main.js"} {
		for _, enc := range []string{"", "gzip"} {
			first := get(h, "GET", path, "Accept-Encoding", enc)
			etag := first.Header().Get("ETag")
			if etag == "" {
				t.Fatalf("GET %s (Accept-Encoding %q): no ETag", path, enc)
			}
			again := get(h, "GET", path, "Accept-Encoding", enc, "If-None-Match", etag)
			if again.Code != http.StatusNotModified {
				t.Errorf("GET %s with If-None-Match %s = %d; want 304", path, etag, again.Code)
			}
		}
	}
}

func TestGzip(t *testing.T) {
	h := newHandler(t)
	path := AssetPrefix + h.Version() + "/css/app.css"
	plain := get(h, "GET", path)
	tests := []struct {
		accept string
		gzip   bool
	}{
		{"", false},
		{"gzip", true},
		{"br, gzip;q=0.8", true},
		{"gzip;q=0", false},
		{"identity", false},
	}
	for _, tt := range tests {
		w := get(h, "GET", path, "Accept-Encoding", tt.accept)
		gotGzip := w.Header().Get("Content-Encoding") == "gzip"
		if gotGzip != tt.gzip {
			t.Errorf("Accept-Encoding %q: gzip = %v; want %v", tt.accept, gotGzip, tt.gzip)
		}
		if !strings.Contains(w.Header().Get("Vary"), "Accept-Encoding") {
			t.Errorf("Accept-Encoding %q: Vary = %q; want Accept-Encoding", tt.accept, w.Header().Get("Vary"))
		}
		body := w.Body.Bytes()
		if gotGzip {
			zr, err := gzip.NewReader(bytes.NewReader(body))
			if err != nil {
				t.Fatalf("gzip.NewReader: %v", err)
			}
			if body, err = io.ReadAll(zr); err != nil {
				t.Fatalf("gunzip: %v", err)
			}
		}
		if !bytes.Equal(body, plain.Body.Bytes()) {
			t.Errorf("Accept-Encoding %q: body differs from the plain one", tt.accept)
		}
	}
}

// TestVersionFollowsContent: another asset byte means another version,
// so browsers never keep a stale cached file.
func TestVersionFollowsContent(t *testing.T) {
	a := fstest.MapFS{
		"index.html":  {Data: []byte(`<script type="module" src="/assets/@VERSION@/x.js"></script>`)},
		"x.js":        {Data: []byte("export const a = 1;\n")},
		"css/app.css": {Data: []byte("body{}")},
	}
	b := fstest.MapFS{}
	for k, v := range a {
		b[k] = &fstest.MapFile{Data: v.Data}
	}
	b["x.js"] = &fstest.MapFile{Data: []byte("export const a = 2;\n")}
	ha, err := New(Config{Files: a})
	if err != nil {
		t.Fatal(err)
	}
	hb, err := New(Config{Files: b})
	if err != nil {
		t.Fatal(err)
	}
	if ha.Version() == hb.Version() {
		t.Errorf("Version() = %s for both contents; want different", ha.Version())
	}
	if w := get(hb, "GET", AssetPrefix+ha.Version()+"/x.js"); w.Code != 404 {
		t.Errorf("GET old version's asset = %d; want 404", w.Code)
	}
}

func TestNewRejects(t *testing.T) {
	tests := map[string]fs.FS{
		"no index":     fstest.MapFS{"a.js": {Data: []byte("1")}},
		"unknown type": fstest.MapFS{"index.html": {Data: []byte("x")}, "a.exe": {Data: []byte("MZ")}},
	}
	for name, files := range tests {
		if _, err := New(Config{Files: files}); err == nil {
			t.Errorf("New(%s) = nil error; want one", name)
		}
	}
}
