// Package api is the REST API's one route table. A route is a method, a
// path pattern such as /API/stats/modules/ip/ips/:ip/peers, the roles it
// needs and a handler; the table answers GET (and POST, PUT, DELETE), CSV
// and OPTIONS from the same entries:
//
//	rt := api.New(api.Config{Hostname: host}, authService, log)
//	rt.Handle("GET", "/API/stats/modules/ip/ips/:ip", role.Stats, ipHandler)
//	rt.Handle("GET", "/API/stats/modules/ip/ips_paged", role.Stats, ipsPaged)
//	srv.Handler = rt
//
// For every request it authenticates the caller (401/403/429), finds the
// route (404, or 405 with Allow), checks the roles (403), parses the query
// and the analysis instance (mm-id or the X-AllegroPackets-Multimeter-ID
// header: 400, or 404 for an unknown device or slot) and renders what the
// handler returns as JSON, or as CSV for csv=true. Every error is the
// JSON shape of package apierr. OPTIONS on any node answers
// {"subResources": [...]} listing the children the caller can reach:
// literal children by name, a parameter child as ":ip".
package api

import (
	"bufio"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"net/url"
	"slices"
	"strings"
	"time"

	"github.com/multimeter-fw/multimeter/services/apierr"
	"github.com/multimeter-fw/multimeter/services/apiparam"
	"github.com/multimeter-fw/multimeter/services/auth"
	"github.com/multimeter-fw/multimeter/services/role"
)

// Handler answers a route with a value to render as JSON (or CSV, if the
// value is a CSVWriter and the client sent csv=true), or an error to
// render as the JSON error shape. A nil value with a nil error is a 204.
type Handler func(*Request) (any, error)

// RawHandler answers a route by writing the response itself: streams and
// the websocket upgrade. It reports errors with apierr.Write.
type RawHandler func(http.ResponseWriter, *Request)

// CSVWriter is a value with a CSV form, such as an apilist.Page.
type CSVWriter interface {
	WriteCSV(io.Writer) error
}

// Instances tells which analysis slots exist (0 is the live analysis,
// 1.. the pcap analysis slots).
type Instances interface {
	HasSlot(slot int) bool
}

// Config configures a Router. Zero fields mean the defaults.
type Config struct {
	// Hostname is this device's name: mm-id's device part must be empty
	// or this (case-insensitively).
	Hostname string
	// Instances lists the analysis slots; nil means slot 0 only.
	Instances Instances
}

// Router is an http.Handler. Register every route before serving.
type Router struct {
	cfg  Config
	auth *auth.Service
	log  *slog.Logger
	root *node
}

// Route describes one entry of the table.
type Route struct {
	Method  string
	Pattern string
	Need    role.Set // roles the caller needs; none: any authenticated caller
	Public  bool     // answered without authentication (the login endpoint)
}

type route struct {
	Route
	handle Handler
	raw    RawHandler
}

type node struct {
	name     string           // segment, or ":name" for a parameter
	literals map[string]*node // children by segment
	order    []string         // literal children in registration order
	param    *node
	routes   map[string]*route // by method
}

// New returns an empty Router.
func New(cfg Config, a *auth.Service, log *slog.Logger) *Router {
	return &Router{cfg: cfg, auth: a, log: log, root: &node{}}
}

// Handle registers a route whose caller needs the roles in need (zero:
// any authenticated caller). It panics on a malformed or duplicate
// pattern, like http.ServeMux: routes are fixed at start-up.
func (rt *Router) Handle(method, pattern string, need role.Set, h Handler) {
	rt.add(&route{Route: Route{Method: method, Pattern: pattern, Need: need}, handle: h})
}

// HandleRaw registers a route whose handler writes its own response.
func (rt *Router) HandleRaw(method, pattern string, need role.Set, h RawHandler) {
	rt.add(&route{Route: Route{Method: method, Pattern: pattern, Need: need}, raw: h})
}

// HandlePublic registers a route answered without authentication. Only
// the login endpoint is one.
func (rt *Router) HandlePublic(method, pattern string, h Handler) {
	rt.add(&route{Route: Route{Method: method, Pattern: pattern, Public: true}, handle: h})
}

func (rt *Router) add(r *route) {
	segs, ok := strings.CutPrefix(r.Pattern, "/")
	if !ok || strings.HasSuffix(segs, "/") {
		panic(fmt.Sprintf("api: pattern %q must start and not end with /", r.Pattern))
	}
	n := rt.root
	for seg := range strings.SplitSeq(segs, "/") {
		n = n.child(seg, r.Pattern)
	}
	if n.routes == nil {
		n.routes = map[string]*route{}
	}
	if _, dup := n.routes[r.Method]; dup {
		panic(fmt.Sprintf("api: %s %s registered twice", r.Method, r.Pattern))
	}
	n.routes[r.Method] = r
}

func (n *node) child(seg, pattern string) *node {
	if seg == "" || seg == ":" {
		panic(fmt.Sprintf("api: empty segment in pattern %q", pattern))
	}
	if strings.HasPrefix(seg, ":") {
		if n.param == nil {
			n.param = &node{name: seg}
		} else if n.param.name != seg {
			panic(fmt.Sprintf("api: pattern %q names parameter %s where another route has %s", pattern, seg, n.param.name))
		}
		return n.param
	}
	if c, ok := n.literals[seg]; ok {
		return c
	}
	if n.literals == nil {
		n.literals = map[string]*node{}
	}
	c := &node{name: seg}
	n.literals[seg] = c
	n.order = append(n.order, seg)
	return c
}

// Routes lists the table, sorted by pattern and method.
func (rt *Router) Routes() []Route {
	var out []Route
	var walk func(*node)
	walk = func(n *node) {
		for _, r := range n.routes {
			out = append(out, r.Route)
		}
		for _, name := range n.order {
			walk(n.literals[name])
		}
		if n.param != nil {
			walk(n.param)
		}
	}
	walk(rt.root)
	slices.SortFunc(out, func(a, b Route) int {
		return strings.Compare(a.Pattern+" "+a.Method, b.Pattern+" "+b.Method)
	})
	return out
}

// lookup finds the node for a path and the values of its parameters.
// Literal children win over a parameter; if the literal branch dead-ends,
// the parameter branch is tried.
func (n *node) lookup(segs []string, params map[string]string) *node {
	if len(segs) == 0 {
		return n
	}
	if c, ok := n.literals[segs[0]]; ok {
		if found := c.lookup(segs[1:], params); found != nil {
			return found
		}
	}
	if n.param != nil {
		if found := n.param.lookup(segs[1:], params); found != nil {
			params[n.param.name[1:]] = segs[0]
			return found
		}
	}
	return nil
}

// reachable reports whether roles may call any route at or below n.
func (n *node) reachable(roles role.Set) bool {
	for _, r := range n.routes {
		if r.Public || roles.Allows(r.Need) {
			return true
		}
	}
	for _, c := range n.literals {
		if c.reachable(roles) {
			return true
		}
	}
	return n.param != nil && n.param.reachable(roles)
}

func (n *node) allow() string {
	methods := make([]string, 0, len(n.routes)+2)
	for m := range n.routes {
		methods = append(methods, m)
	}
	if n.routes[http.MethodGet] != nil && n.routes[http.MethodHead] == nil {
		methods = append(methods, http.MethodHead)
	}
	methods = append(methods, http.MethodOptions)
	slices.Sort(methods)
	return strings.Join(methods, ", ")
}

// splitPath splits an escaped URL path into unescaped segments, so that
// an escaped "/" stays inside its segment. A trailing slash is ignored.
func splitPath(escaped string) ([]string, bool) {
	rest, ok := strings.CutPrefix(escaped, "/")
	if !ok {
		return nil, false
	}
	rest = strings.TrimSuffix(rest, "/")
	if rest == "" {
		return nil, true
	}
	segs := strings.Split(rest, "/")
	for i, s := range segs {
		u, err := url.PathUnescape(s)
		if err != nil || u == "" {
			return nil, false
		}
		segs[i] = u
	}
	return segs, true
}

// ServeHTTP answers one API request.
func (rt *Router) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	h := w.Header()
	h.Set("Cache-Control", "no-store")
	h.Set("X-Content-Type-Options", "nosniff")
	defer drainEarlyAnswered(w, r)
	defer func() {
		if v := recover(); v != nil {
			if v == http.ErrAbortHandler {
				panic(v)
			}
			rt.log.Error("api handler panicked", "method", r.Method, "path", r.URL.Path, "panic", fmt.Sprint(v))
			apierr.Write(w, errors.New("panic"))
		}
	}()
	params := map[string]string{}
	var n *node
	if segs, ok := splitPath(r.URL.EscapedPath()); ok {
		n = rt.root.lookup(segs, params)
	}
	var rte *route
	if n != nil {
		rte = n.routes[r.Method]
		if rte == nil && r.Method == http.MethodHead {
			rte = n.routes[http.MethodGet]
		}
	}
	req := &Request{HTTP: r, params: params, w: w, Query: apiparam.Parse(r.URL.RawQuery)}
	if rte == nil || !rte.Public {
		p, err := rt.auth.Authenticate(r)
		if err != nil {
			apierr.Write(w, err)
			return
		}
		req.Principal = p
	}
	switch {
	case n == nil:
		apierr.Write(w, apierr.New(http.StatusNotFound, "no resource %s", r.URL.Path))
	case r.Method == http.MethodOptions && n.routes[http.MethodOptions] == nil:
		rt.options(w, n, req.Principal.Roles)
	case rte == nil:
		e := apierr.New(http.StatusMethodNotAllowed, "method %s not allowed on %s", r.Method, r.URL.Path)
		e.Header = http.Header{"Allow": {n.allow()}}
		apierr.Write(w, e)
	case !rte.Public && !req.Principal.Roles.Allows(rte.Need):
		apierr.Write(w, apierr.New(http.StatusForbidden, "user %s lacks the role needed here (%s)", req.Principal.User, rte.Need))
	default:
		rt.serve(w, req, rte)
	}
}

// How long, and how much, of a request body the router still reads after
// answering before the client finished sending it.
const (
	drainFor   = time.Second
	drainBytes = 64 << 20
)

// drainEarlyAnswered keeps reading, for a moment, the body of an HTTP/2
// request answered before it was read to the end (an upload refused for
// its size, its credentials or its slot). Returning at once makes the
// server reset the stream right after the answer, and curl before 8.x
// then throws the answer away ("transfer closed with 93 bytes remaining
// to read") in one upload of five, so the user never sees why. Read for
// a moment, the answer reaches the client first and it stops sending.
// HTTP/1.1 needs nothing: the server reads on or closes the connection
// gracefully itself.
func drainEarlyAnswered(w http.ResponseWriter, r *http.Request) {
	if r.ProtoMajor != 2 || r.ContentLength == 0 || r.Body == nil || r.Body == http.NoBody {
		return
	}
	rc := http.NewResponseController(w)
	if rc.Flush() != nil || rc.SetReadDeadline(time.Now().Add(drainFor)) != nil {
		return
	}
	io.CopyN(io.Discard, r.Body, drainBytes)
}

func (rt *Router) serve(w http.ResponseWriter, req *Request, rte *route) {
	var err error
	if req.Instance, err = rt.instance(req); err != nil {
		apierr.Write(w, err)
		return
	}
	if rte.raw != nil {
		rte.raw(w, req)
		return
	}
	wantCSV, err := apiparam.CSV(req.Query)
	if err != nil {
		apierr.Write(w, err)
		return
	}
	v, err := rte.handle(req)
	if err != nil {
		if apierr.Status(err) >= 500 {
			rt.log.Error("api request failed", "method", req.HTTP.Method, "path", req.HTTP.URL.Path, "err", err)
		}
		apierr.Write(w, err)
		return
	}
	status := http.StatusOK
	if s, ok := v.(statusValue); ok {
		status, v = s.status, s.value
	}
	if v == nil {
		w.WriteHeader(http.StatusNoContent)
		return
	}
	if wantCSV {
		c, ok := v.(CSVWriter)
		if !ok {
			apierr.Write(w, apierr.BadParam("csv", "%s has no CSV form", req.HTTP.URL.Path))
			return
		}
		w.Header().Set("Content-Type", "text/csv; charset=utf-8")
		w.WriteHeader(status)
		bw := bufio.NewWriterSize(w, 64<<10)
		if err := c.WriteCSV(bw); err == nil {
			bw.Flush()
		}
		return
	}
	// Compact: a history dataset indented is one number per line, eight
	// times the bytes and most of the encoding time; jq pretty-prints.
	body, err := json.Marshal(v)
	if err != nil {
		rt.log.Error("api encode failed", "path", req.HTTP.URL.Path, "err", err)
		apierr.Write(w, err)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	w.Write(append(body, '\n'))
}

// instance resolves mm-id or the instance header to a slot of this device.
func (rt *Router) instance(req *Request) (apiparam.Instance, error) {
	inst, err := apiparam.ParseInstance(req.Query, req.HTTP.Header.Get(apiparam.HeaderInstance))
	if err != nil {
		return inst, err
	}
	if inst.Device != "" && !strings.EqualFold(inst.Device, rt.cfg.Hostname) {
		return inst, apierr.New(http.StatusNotFound, "unknown device %q", inst.Device)
	}
	exists := inst.Slot == 0
	if rt.cfg.Instances != nil {
		exists = rt.cfg.Instances.HasSlot(inst.Slot)
	}
	if !exists {
		return inst, apierr.New(http.StatusNotFound, "no analysis instance in slot %d", inst.Slot)
	}
	return inst, nil
}

// options lists the children of n that roles can reach.
func (rt *Router) options(w http.ResponseWriter, n *node, roles role.Set) {
	if !n.reachable(roles) {
		apierr.Write(w, apierr.New(http.StatusForbidden, "nothing here is available to this user"))
		return
	}
	subs := []string{}
	for _, name := range n.order {
		if n.literals[name].reachable(roles) {
			subs = append(subs, name)
		}
	}
	if n.param != nil && n.param.reachable(roles) {
		subs = append(subs, n.param.name)
	}
	w.Header().Set("Allow", n.allow())
	w.Header().Set("Content-Type", "application/json")
	body, _ := json.MarshalIndent(map[string][]string{"subResources": subs}, "", "  ")
	w.Write(append(body, '\n'))
}
