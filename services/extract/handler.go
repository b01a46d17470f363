package extract

import (
	"encoding/json"
	"errors"
	"net/http"
	"time"
)

// MMIDHeader carries mm-id as a header; scripts send this name.
const MMIDHeader = "X-AllegroPackets-Multimeter-ID"

// ServeHTTP serves GET /API/data/modules/capture. It does no
// authentication: the API router wraps it with the pcap permission.
func (s *Service) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodGet {
		w.Header().Set("Allow", http.MethodGet)
		writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed")
		return
	}
	q := r.URL.Query()
	if h := r.Header.Get(MMIDHeader); h != "" && q.Get("mm-id") == "" {
		q.Set("mm-id", h)
	}
	req, err := ParseRequest(q, time.Now())
	if err != nil {
		writeError(w, http.StatusBadRequest, err.Error())
		return
	}
	cw := &countingWriter{w: w}
	if !req.ToMedia {
		name, ctype := "capture.pcap", "application/vnd.tcpdump.pcap"
		if req.Format == FormatPcapng {
			name, ctype = "capture.pcapng", "application/x-pcapng"
		}
		w.Header().Set("Content-Type", ctype)
		w.Header().Set("Content-Disposition", `attachment; filename="`+name+`"`)
	}
	info, err := s.Run(r.Context(), req, cw)
	if err != nil {
		if cw.n > 0 {
			// The pcap is under way: all we can do is cut it short.
			s.log.Warn("capture failed while streaming", "err", err)
			panic(http.ErrAbortHandler)
		}
		var pe *ParamError
		switch {
		case errors.As(err, &pe):
			writeError(w, http.StatusBadRequest, err.Error())
		case errors.Is(err, ErrNotFound):
			writeError(w, http.StatusNotFound, err.Error())
		case errors.Is(err, ErrUnavailable):
			writeError(w, http.StatusServiceUnavailable, err.Error())
		default:
			s.log.Error("capture failed", "err", err)
			writeError(w, http.StatusInternalServerError, "capture failed")
		}
		return
	}
	if req.ToMedia {
		w.Header().Set("Content-Type", "application/json")
		json.NewEncoder(w).Encode(info)
	}
}

type countingWriter struct {
	w http.ResponseWriter
	n int64
}

func (c *countingWriter) Write(b []byte) (int, error) {
	n, err := c.w.Write(b)
	c.n += int64(n)
	if f, ok := c.w.(http.Flusher); ok && err == nil {
		f.Flush() // writes are large (the pcap writer buffers 1 MiB): stream them
	}
	return n, err
}

func writeError(w http.ResponseWriter, status int, msg string) {
	w.Header().Del("Content-Disposition")
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(map[string]any{"error": msg, "status": status})
}
