// Package webui serves the appliance's browser UI: static HTML, CSS and
// JavaScript modules embedded in the binary, built only on the REST API
// and the websocket (/API/ws) that scripts use too.
//
//	ui, err := webui.New(webui.Config{})
//	mux.Handle("/", ui) // everything outside /API
//
// The index is served at / and revalidated on every load (ETag). Every
// other asset lives under /assets/<version>/, where the version is a
// digest of all embedded files, so assets are cached for a year and a new
// firmware can never be mixed with an old cached script. JavaScript
// modules import each other by relative path and so stay inside one
// version. Responses carry a strict Content-Security-Policy (no inline
// script or style, nothing from other origins, no framing).
//
// The UI needs no authentication to load; the API it calls does.
package webui

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"fmt"
	"io/fs"
	"net/http"
	"path"
	"strings"
	"time"
)

//go:embed static
var static embed.FS

// AssetPrefix is the path under which the versioned assets are served.
const AssetPrefix = "/assets/"

// versionPlaceholder in index.html is replaced by AssetPrefix+version.
const versionPlaceholder = "/assets/@VERSION@"

// ContentSecurityPolicy is sent with every UI response. 'self' in
// connect-src also covers the same-origin websocket (wss:).
const ContentSecurityPolicy = "default-src 'none'; script-src 'self'; style-src 'self'; " +
	"img-src 'self' data: blob:; connect-src 'self'; font-src 'self'; manifest-src 'self'; " +
	"base-uri 'none'; form-action 'self'; frame-ancestors 'none'"

// Config configures the UI handler. The zero value means the defaults.
type Config struct {
	// Files replaces the embedded assets (tests); it must hold index.html
	// at its root.
	Files fs.FS
}

// asset is one file ready to serve.
type asset struct {
	body, gzipped []byte
	ctype         string
	etag          string // quoted strong ETag of body
}

// Handler serves the UI. Create it with New.
type Handler struct {
	version string
	index   *asset
	assets  map[string]*asset // by path below the version, e.g. "js/main.js"
}

// New reads and indexes the assets.
func New(cfg Config) (*Handler, error) {
	files := cfg.Files
	if files == nil {
		sub, err := fs.Sub(static, "static")
		if err != nil {
			return nil, fmt.Errorf("webui: embedded assets: %w", err)
		}
		files = sub
	}
	h := &Handler{assets: map[string]*asset{}}
	all := sha256.New()
	var indexSrc []byte
	err := fs.WalkDir(files, ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || d.IsDir() {
			return err
		}
		body, err := fs.ReadFile(files, name)
		if err != nil {
			return err
		}
		if name == "index.html" {
			indexSrc = body
		}
		ctype, ok := contentTypes[path.Ext(name)]
		if !ok {
			return fmt.Errorf("no content type for %s", name)
		}
		sum := sha256.Sum256(body)
		fmt.Fprintf(all, "%s\x00%x\x00", name, sum)
		h.assets[name] = newAsset(body, ctype)
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("webui: reading assets: %w", err)
	}
	if indexSrc == nil {
		return nil, fmt.Errorf("webui: reading assets: no index.html")
	}
	h.version = hex.EncodeToString(all.Sum(nil))[:16]
	index := bytes.ReplaceAll(indexSrc, []byte(versionPlaceholder), []byte(AssetPrefix+h.version))
	h.index = newAsset(index, contentTypes[".html"])
	return h, nil
}

// contentTypes maps the extensions the UI uses; the system's MIME tables
// are not consulted, since the image may have none.
var contentTypes = map[string]string{
	".html":  "text/html; charset=utf-8",
	".css":   "text/css; charset=utf-8",
	".js":    "text/javascript; charset=utf-8",
	".json":  "application/json",
	".svg":   "image/svg+xml",
	".png":   "image/png",
	".ico":   "image/x-icon",
	".woff2": "font/woff2",
	".txt":   "text/plain; charset=utf-8",
}

// compressible lists the types worth gzipping.
func compressible(ctype string) bool {
	return strings.HasPrefix(ctype, "text/") || ctype == "image/svg+xml" || ctype == "application/json"
}

func newAsset(body []byte, ctype string) *asset {
	sum := sha256.Sum256(body)
	a := &asset{body: body, ctype: ctype, etag: `"` + hex.EncodeToString(sum[:12]) + `"`}
	if compressible(ctype) && len(body) > 512 {
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.BestCompression)
		zw.Write(body)
		zw.Close()
		if buf.Len() < len(body) {
			a.gzipped = buf.Bytes()
		}
	}
	return a
}

// Version is the digest that names the current assets.
func (h *Handler) Version() string { return h.version }

// ServeHTTP answers GET and HEAD for the index and the assets.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	hdr := w.Header()
	setSecurityHeaders(hdr)
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		hdr.Set("Allow", "GET, HEAD")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	p := r.URL.Path
	switch {
	case p == "/" || p == "/index.html":
		// Revalidated on every load, so a firmware update shows at once.
		hdr.Set("Cache-Control", "no-cache")
		serve(w, r, h.index)
		return
	case p == "/favicon.ico":
		// Browsers ask for it whatever the page says.
		if a := h.assets["favicon.svg"]; a != nil {
			hdr.Set("Cache-Control", "public, max-age=86400")
			serve(w, r, a)
			return
		}
	case strings.HasPrefix(p, AssetPrefix):
		version, name, _ := strings.Cut(strings.TrimPrefix(p, AssetPrefix), "/")
		a := h.assets[name]
		if version == h.version && a != nil && name != "index.html" {
			hdr.Set("Cache-Control", "public, max-age=31536000, immutable")
			serve(w, r, a)
			return
		}
	}
	hdr.Set("Cache-Control", "no-store")
	http.Error(w, "not found", http.StatusNotFound)
}

func setSecurityHeaders(h http.Header) {
	h.Set("Content-Security-Policy", ContentSecurityPolicy)
	h.Set("X-Content-Type-Options", "nosniff")
	h.Set("X-Frame-Options", "DENY")
	h.Set("Referrer-Policy", "no-referrer")
	h.Set("Cross-Origin-Opener-Policy", "same-origin")
	h.Set("Cross-Origin-Resource-Policy", "same-origin")
	h.Set("Permissions-Policy", "camera=(), microphone=(), geolocation=(), usb=(), payment=()")
	// No Strict-Transport-Security: the appliance starts with a
	// self-signed certificate, and HSTS would stop operators from
	// accepting it.
}

// serve writes a (maybe gzipped) asset; http.ServeContent answers
// If-None-Match, HEAD and ranges.
func serve(w http.ResponseWriter, r *http.Request, a *asset) {
	hdr := w.Header()
	hdr.Set("Content-Type", a.ctype)
	body, etag := a.body, a.etag
	if a.gzipped != nil {
		hdr.Add("Vary", "Accept-Encoding")
		if acceptsGzip(r) {
			body, etag = a.gzipped, strings.TrimSuffix(a.etag, `"`)+`-gz"`
			hdr.Set("Content-Encoding", "gzip")
		}
	}
	hdr.Set("ETag", etag)
	http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(body))
}

// acceptsGzip reports whether the client accepts gzip (q=0 refuses it).
func acceptsGzip(r *http.Request) bool {
	for part := range strings.SplitSeq(r.Header.Get("Accept-Encoding"), ",") {
		coding, params, _ := strings.Cut(strings.TrimSpace(part), ";")
		if strings.EqualFold(strings.TrimSpace(coding), "gzip") {
			q := strings.ReplaceAll(strings.TrimSpace(params), " ", "")
			return q != "q=0" && q != "q=0.0" && q != "q=0.00" && q != "q=0.000"
		}
	}
	return false
}
