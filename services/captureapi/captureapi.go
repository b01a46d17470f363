// Package captureapi puts packet capture and extraction (package extract)
// on the REST API, for callers with the pcap role:
//
//	captureapi.Register(router, captureapi.Config{Captures: svc, PcapDir: rings.PcapDir})
//
// Routes:
//
//	GET    /API/data/modules/capture                    a pcap: live from now, or from a ring buffer
//	                                                    (see spec/rest-api.md "Packets")
//	GET    /API/data/modules/capture/captures           running and recent captures with their counters
//	POST   /API/data/modules/capture/captures/:id/stop  stops a running capture (what it got is kept)
//	GET    /API/data/modules/capture/files              the pcap files captureToMedia wrote
//	GET    /API/data/modules/capture/files/:file        downloads one
//	DELETE /API/data/modules/capture/files/:file        deletes one
package captureapi

import (
	"errors"
	"fmt"
	"io/fs"
	"mime"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/multimeter-fw/multimeter/services/api"
	"github.com/multimeter-fw/multimeter/services/apierr"
	"github.com/multimeter-fw/multimeter/services/extract"
	"github.com/multimeter-fw/multimeter/services/role"
)

// Config wires the routes.
type Config struct {
	Captures *extract.Service
	// PcapDir returns the directory captureToMedia writes to; an error
	// means there is none (no storage device holds pcap files).
	PcapDir func() (string, error)
}

type handlers struct {
	cfg Config
}

// Register adds the routes to rt.
func Register(rt *api.Router, cfg Config) {
	h := &handlers{cfg: cfg}
	rt.HandleRaw("GET", "/API/data/modules/capture", role.Pcap, func(w http.ResponseWriter, r *api.Request) {
		cfg.Captures.ServeHTTP(w, r.HTTP)
	})
	rt.Handle("GET", "/API/data/modules/capture/captures", role.Pcap, h.captures)
	rt.Handle("POST", "/API/data/modules/capture/captures/:id/stop", role.Pcap, h.stop)
	rt.Handle("GET", "/API/data/modules/capture/files", role.Pcap, h.files)
	rt.HandleRaw("GET", "/API/data/modules/capture/files/:file", role.Pcap, h.download)
	rt.Handle("DELETE", "/API/data/modules/capture/files/:file", role.Pcap, h.remove)
}

func (h *handlers) captures(*api.Request) (any, error) {
	return map[string]any{"captures": h.cfg.Captures.Registry.List()}, nil
}

func (h *handlers) stop(r *api.Request) (any, error) {
	id, err := strconv.ParseUint(r.Param("id"), 10, 64)
	if err != nil {
		return nil, apierr.New(http.StatusNotFound, "no capture %q", r.Param("id"))
	}
	if err := h.cfg.Captures.Registry.Stop(id); err != nil {
		return nil, apierr.New(http.StatusNotFound, "no running capture %d", id)
	}
	return nil, nil
}

// File is a pcap file of the pcap area.
type File struct {
	Name     string    `json:"name"`
	Size     int64     `json:"size"`
	Modified time.Time `json:"modified"`
}

func (h *handlers) files(*api.Request) (any, error) {
	dir, err := h.pcapDir()
	if err != nil {
		return nil, err
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, fmt.Errorf("captureapi: list pcap files: %w", err)
	}
	out := []File{}
	for _, e := range entries {
		if !isCaptureFile(e.Name()) || !e.Type().IsRegular() {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue // deleted meanwhile
		}
		out = append(out, File{Name: e.Name(), Size: info.Size(), Modified: info.ModTime().UTC()})
	}
	slices.SortFunc(out, func(a, b File) int { return strings.Compare(a.Name, b.Name) })
	return map[string]any{"files": out}, nil
}

func (h *handlers) pcapDir() (string, error) {
	dir, err := h.cfg.PcapDir()
	if err != nil {
		return "", apierr.New(http.StatusServiceUnavailable, "no storage device holds pcap files")
	}
	return dir, nil
}

// isCaptureFile tells the files captureToMedia finished from its
// temporary files (dot files) and anything else.
func isCaptureFile(name string) bool {
	return !strings.HasPrefix(name, ".") && (strings.HasSuffix(name, ".pcap") || strings.HasSuffix(name, ".pcapng"))
}

// open opens a pcap file of the pcap area by name; names with a path, dot
// files and other files are not found.
func (h *handlers) open(name string) (*os.File, string, error) {
	dir, err := h.pcapDir()
	if err != nil {
		return nil, "", err
	}
	if !isCaptureFile(name) || name != filepath.Base(name) {
		return nil, "", apierr.New(http.StatusNotFound, "no pcap file %q", name)
	}
	path := filepath.Join(dir, name)
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", apierr.New(http.StatusNotFound, "no pcap file %q", name)
	}
	if err != nil {
		return nil, "", fmt.Errorf("captureapi: open %s: %w", name, err)
	}
	if info, err := f.Stat(); err != nil || !info.Mode().IsRegular() {
		f.Close()
		return nil, "", apierr.New(http.StatusNotFound, "no pcap file %q", name)
	}
	return f, path, nil
}

func (h *handlers) download(w http.ResponseWriter, r *api.Request) {
	name := r.Param("file")
	f, _, err := h.open(name)
	if err != nil {
		apierr.Write(w, err)
		return
	}
	defer f.Close()
	info, err := f.Stat()
	if err != nil {
		apierr.Write(w, err)
		return
	}
	ctype := "application/vnd.tcpdump.pcap"
	if strings.HasSuffix(name, ".pcapng") {
		ctype = "application/x-pcapng"
	}
	w.Header().Set("Content-Type", ctype)
	w.Header().Set("Content-Disposition", mime.FormatMediaType("attachment", map[string]string{"filename": name}))
	http.ServeContent(w, r.HTTP, name, info.ModTime(), f)
}

func (h *handlers) remove(r *api.Request) (any, error) {
	f, path, err := h.open(r.Param("file"))
	if err != nil {
		return nil, err
	}
	f.Close()
	if err := os.Remove(path); err != nil {
		return nil, fmt.Errorf("captureapi: delete %s: %w", r.Param("file"), err)
	}
	return nil, nil
}
