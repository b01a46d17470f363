// Package replayapi puts pcap upload and analysis (package replay) on the
// REST API, as the reference's three commands call it:
//
//	curl -k -u USER:PASSWORD "https://mm/API/system/replay/upload" -d '{"fileName": "abc.pcapng", "fileSize": 1234, "replaySlotID": 1, "forceSlotID": true, "useReplayBuffer": true}'
//	curl -k -u USER:PASSWORD "https://mm/API/data/pcap?mm-id=:1" -d '{"command":"start"}'
//	curl -F 'name=file' -F 'filename=abc.pcapng' -F 'file=@abc.pcapng' -k -u USER:PASSWORD "https://mm/API/system/analyze-pcap?replaySlotID=1"
//
// Routes (admin):
//
//	POST /API/system/replay/upload           announce an upload -> the slot's status
//	GET  /API/system/replay                  every slot's upload and analysis
//	POST /API/data/pcap?mm-id=:N             {"command": "start"} or {"command": "stop"}
//	GET  /API/data/pcap?mm-id=:N             the slot's upload and analysis, also while it streams
//	POST /API/system/analyze-pcap?replaySlotID=N
//	     the capture as multipart/form-data (in the part named "file", or
//	     the first file part), or as the raw body with Content-Type
//	     application/octet-stream; answers when it is analysed
//
// Errors: 400 for a bad field or a broken capture (also one of another
// size than the announced fileSize: its packets are analysed, but some
// are missing or it is not the file announced), 404 for a slot with
// nothing announced, 409 for a command the slot's state does not allow,
// 413 for a capture over the upload limit.
package replayapi

import (
	"errors"
	"fmt"
	"io"
	"mime"
	"mime/multipart"
	"net/http"
	"strings"
	"time"

	"github.com/multimeter-fw/multimeter/services/api"
	"github.com/multimeter-fw/multimeter/services/apierr"
	"github.com/multimeter-fw/multimeter/services/replay"
	"github.com/multimeter-fw/multimeter/services/role"
)

// multipartSlack is what the multipart framing and the small form fields
// may add to the capture in a request body.
const multipartSlack = 64 << 10

// maxFieldBytes bounds a form field other than the capture.
const maxFieldBytes = 4 << 10

type handlers struct {
	svc *replay.Service
}

// Register adds the routes to rt.
func Register(rt *api.Router, svc *replay.Service) {
	h := &handlers{svc: svc}
	rt.Handle("POST", "/API/system/replay/upload", role.Admin, h.prepare)
	rt.Handle("GET", "/API/system/replay", role.Admin, h.list)
	rt.Handle("POST", "/API/system/analyze-pcap", role.Admin, h.analyze)
	rt.Handle("POST", "/API/data/pcap", role.Admin, h.command)
	rt.Handle("GET", "/API/data/pcap", role.Admin, h.status)
}

func (h *handlers) prepare(r *api.Request) (any, error) {
	var up replay.Upload
	if err := r.DecodeJSON(&up); err != nil {
		return nil, err
	}
	return wrap(h.svc.Prepare(up))
}

func (h *handlers) list(*api.Request) (any, error) {
	return map[string]any{"uploads": h.svc.List()}, nil
}

// Command is the body of POST /API/data/pcap.
type Command struct {
	Command string `json:"command"`
}

func (h *handlers) command(r *api.Request) (any, error) {
	slot, err := pcapSlot(r)
	if err != nil {
		return nil, err
	}
	var c Command
	if err := r.DecodeJSON(&c); err != nil {
		return nil, err
	}
	switch c.Command {
	case "start":
		return wrap(h.svc.Start(slot))
	case "stop":
		return wrap(h.svc.Stop(slot))
	}
	return nil, apierr.BadParam("command", "%q: want start or stop", c.Command)
}

func (h *handlers) status(r *api.Request) (any, error) {
	slot, err := pcapSlot(r)
	if err != nil {
		return nil, err
	}
	return wrap(h.svc.Status(slot))
}

// pcapSlot is the request's analysis slot, which must be a pcap slot.
func pcapSlot(r *api.Request) (int, error) {
	if r.Instance.Slot == 0 {
		return 0, apierr.BadParam("mm-id", "the main analysis takes no pcap commands; name a pcap analysis slot such as :1")
	}
	return r.Instance.Slot, nil
}

func (h *handlers) analyze(r *api.Request) (any, error) {
	slot, err := r.Query.Int("replaySlotID", -1, 1, 255)
	if err != nil {
		return nil, err
	}
	if slot < 0 {
		return nil, apierr.BadParam("replaySlotID", "required")
	}
	limit := h.svc.MaxBytes()
	if r.HTTP.ContentLength > limit+multipartSlack {
		return nil, apierr.New(http.StatusRequestEntityTooLarge, "capture of %d bytes exceeds the upload limit of %d bytes", r.HTTP.ContentLength, limit)
	}
	name, capture, err := captureOf(r.HTTP)
	if err != nil {
		return nil, err
	}
	// A stop ends a read that waits for a slow client.
	rc := http.NewResponseController(r.Writer())
	interrupt := func() { rc.SetReadDeadline(time.Now()) }
	return wrap(h.svc.Analyze(r.HTTP.Context(), int(slot), replay.Input{Name: name, Body: capture, Interrupt: interrupt}))
}

// captureOf finds the capture in the request body: the file part of a
// multipart form (the part named "file", else the first with a file
// name), or the whole body.
func captureOf(r *http.Request) (name string, capture io.Reader, err error) {
	ct, params, _ := mime.ParseMediaType(r.Header.Get("Content-Type"))
	switch ct {
	case "multipart/form-data":
	case "application/octet-stream", "application/vnd.tcpdump.pcap", "application/x-pcapng":
		return "", r.Body, nil
	default:
		return "", nil, apierr.New(http.StatusUnsupportedMediaType,
			"want the capture as multipart/form-data (curl -F 'file=@capture.pcap') or application/octet-stream, got %q", ct)
	}
	mr := multipart.NewReader(r.Body, params["boundary"])
	for {
		part, err := mr.NextPart()
		if errors.Is(err, io.EOF) {
			return "", nil, apierr.BadParam("file", "the form has no file part")
		}
		if err != nil {
			return "", nil, apierr.New(http.StatusBadRequest, "malformed multipart body: %v", err)
		}
		if part.FormName() == "file" || part.FileName() != "" {
			if part.FileName() != "" {
				name = part.FileName()
			}
			return name, part, nil
		}
		// Small fields before the file; "filename" names the capture.
		v, err := io.ReadAll(io.LimitReader(part, maxFieldBytes+1))
		if err != nil {
			return "", nil, apierr.New(http.StatusBadRequest, "malformed multipart body: %v", err)
		}
		if len(v) > maxFieldBytes {
			return "", nil, apierr.BadParam(part.FormName(), "form field longer than %d bytes", maxFieldBytes)
		}
		if part.FormName() == "filename" {
			name = strings.TrimSpace(string(v))
		}
	}
}

// wrap maps the replay service's errors to API errors.
func wrap(st replay.Status, err error) (any, error) {
	e, ok := errors.AsType[*replay.Error](err)
	switch {
	case err == nil:
		return st, nil
	case !ok:
		return nil, fmt.Errorf("replayapi: %w", err)
	case e.Field != "":
		return nil, apierr.BadParam(e.Field, "%s", e.Msg)
	}
	status := http.StatusInternalServerError
	switch e.Kind {
	case replay.ErrInvalid, replay.ErrBadCapture:
		status = http.StatusBadRequest
	case replay.ErrTooLarge:
		status = http.StatusRequestEntityTooLarge
	case replay.ErrNoSlot:
		status = http.StatusNotFound
	case replay.ErrState:
		status = http.StatusConflict
	}
	return nil, apierr.New(status, "%s", e.Msg)
}
