// Package apierr is the REST API's error shape: every failed request is
// answered with JSON {"error": "...", "status": N} and the matching HTTP
// status.
//
//	return nil, apierr.New(http.StatusNotFound, "unknown IP %s", ip)
//	...
//	apierr.Write(w, err) // any error; unknown ones become a 500 without details
//
// It is a leaf package so that parameter parsing, authentication and the
// router can all return errors of the same shape without importing each
// other.
package apierr

import (
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"strconv"
	"time"
)

// Error is an error the client is meant to see.
type Error struct {
	Message string `json:"error"`
	Status  int    `json:"status"`
	// Param names the query parameter or body field at fault, if any.
	Param string `json:"param,omitempty"`
	// RetryAfter, when set, is sent as the Retry-After header (429, 503).
	RetryAfter time.Duration `json:"-"`
	// Header holds extra response headers (Allow on a 405,
	// WWW-Authenticate on a 401).
	Header http.Header `json:"-"`
}

func (e *Error) Error() string { return e.Message }

// New returns an *Error with a formatted message.
func New(status int, format string, args ...any) *Error {
	return &Error{Status: status, Message: fmt.Sprintf(format, args...)}
}

// BadParam is the 400 for a query parameter or body field with a wrong
// value; the message starts with the parameter's name so that a script's
// author sees at once what to fix.
func BadParam(param, format string, args ...any) *Error {
	return &Error{
		Status:  http.StatusBadRequest,
		Message: "parameter " + param + ": " + fmt.Sprintf(format, args...),
		Param:   param,
	}
}

// Status returns the HTTP status err maps to: an *Error's own, 413 for a
// body over its limit, else 500.
func Status(err error) int {
	if e, ok := errors.AsType[*Error](err); ok {
		return e.Status
	}
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusInternalServerError
}

// From converts any error to the *Error the client sees. Errors that are
// not *Error are internal: their text may carry paths or other details,
// so the client only gets the status text.
func From(err error) *Error {
	if e, ok := errors.AsType[*Error](err); ok {
		return e
	}
	status := Status(err)
	if status == http.StatusRequestEntityTooLarge {
		return New(status, "request body too large")
	}
	return New(status, "%s", http.StatusText(status))
}

// Write sends err as the JSON error shape.
func Write(w http.ResponseWriter, err error) {
	e := From(err)
	h := w.Header()
	for k, v := range e.Header {
		h[k] = v
	}
	if e.RetryAfter > 0 {
		secs := int64((e.RetryAfter + time.Second - 1) / time.Second)
		h.Set("Retry-After", strconv.FormatInt(secs, 10))
	}
	h.Set("Content-Type", "application/json")
	h.Set("X-Content-Type-Options", "nosniff")
	h.Del("Content-Length")
	w.WriteHeader(e.Status)
	json.NewEncoder(w).Encode(e)
}
