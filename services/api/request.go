package api

import (
	"bytes"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"strings"

	"github.com/multimeter-fw/multimeter/services/apierr"
	"github.com/multimeter-fw/multimeter/services/apiparam"
	"github.com/multimeter-fw/multimeter/services/auth"
)

// Request is what a handler gets: the HTTP request, the path parameters,
// the query, the caller and the analysis instance it addresses.
type Request struct {
	HTTP      *http.Request
	Query     apiparam.Query
	Principal auth.Principal // zero on public routes
	Instance  apiparam.Instance

	params map[string]string
	w      http.ResponseWriter
}

// Writer returns the response writer, for handlers that set headers or
// cookies; the router writes the body.
func (r *Request) Writer() http.ResponseWriter { return r.w }

// Param returns a path parameter by name, without the colon ("ip" for
// :ip).
func (r *Request) Param(name string) string { return r.params[name] }

// MaxBodyBytes bounds the JSON bodies DecodeJSON reads.
const MaxBodyBytes = 64 << 10

// DecodeJSON reads the body as one JSON object into v. Unknown fields,
// trailing data, a wrong content type and bodies over MaxBodyBytes are
// 400s (413 for the size).
func (r *Request) DecodeJSON(v any) error {
	ct := r.HTTP.Header.Get("Content-Type")
	if ct != "" && !strings.HasPrefix(ct, "application/json") && !strings.HasPrefix(ct, "application/x-www-form-urlencoded") {
		// curl -d sends the form type whatever the body is; anything else
		// is a client that meant something different.
		return apierr.New(http.StatusUnsupportedMediaType, "want a JSON body, got %s", ct)
	}
	return DecodeJSON(http.MaxBytesReader(r.w, r.HTTP.Body, MaxBodyBytes), v)
}

// DecodeJSON decodes exactly one JSON value from rd into v, refusing
// unknown fields; errors are 400s naming the field where JSON says which.
// A body of null is refused: decoding it would leave v as it was, so a
// PUT of null would quietly mean "the defaults".
func DecodeJSON(rd io.Reader, v any) error {
	dec := json.NewDecoder(rd)
	var raw json.RawMessage
	if err := dec.Decode(&raw); err != nil {
		if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
			return err
		}
		return apierr.New(http.StatusBadRequest, "invalid JSON body: %v", err)
	}
	if _, err := dec.Token(); !errors.Is(err, io.EOF) {
		return apierr.New(http.StatusBadRequest, "invalid JSON body: data after the object")
	}
	if string(raw) == "null" {
		return apierr.New(http.StatusBadRequest, "invalid JSON body: null")
	}
	strict := json.NewDecoder(bytes.NewReader(raw))
	strict.DisallowUnknownFields()
	if err := strict.Decode(v); err != nil {
		if te, ok := errors.AsType[*json.UnmarshalTypeError](err); ok && te.Field != "" {
			return apierr.BadParam(te.Field, "want %s", te.Type)
		}
		return apierr.New(http.StatusBadRequest, "invalid JSON body: %v", err)
	}
	return nil
}

type statusValue struct {
	status int
	value  any
}

// WithStatus makes a handler's value go out with another status than 200,
// such as 201 for a created resource.
func WithStatus(status int, v any) any { return statusValue{status: status, value: v} }
