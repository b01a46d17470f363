// Package auth decides who is calling the appliance and what they may do:
// users with roles kept in a JSON file on the data partition (passwords
// hashed with argon2id), per-user API tokens, browser sessions with a CSRF
// token, and rate limiting of failed logins.
//
//	svc, err := auth.New(auth.Config{UsersFile: "/perm/users.json", Console: serial}, log)
//	p, err := svc.Authenticate(r) // Basic, Bearer or session cookie
//	if !p.Roles.Allows(role.Stats) { ... 403 ... }
//
// A request proves itself with HTTP Basic (scripts: curl -u), an API token
// (Authorization: Bearer mmt_...), or the session cookie a login sets
// (browsers). Cookie requests that change state must also carry the
// session's CSRF token in the X-CSRF-Token header. Failures are 401s that
// never say whether the user exists; repeated failures from one client or
// against one user name are 429s.
//
// On first boot there is no users file: the admin's password is the one
// configured, or a random one written once to the console writer (the
// serial console in the image), never to the log.
package auth

import (
	"crypto/subtle"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/netip"
	"strings"
	"time"

	"github.com/multimeter-fw/multimeter/services/apierr"
	"github.com/multimeter-fw/multimeter/services/passhash"
	"github.com/multimeter-fw/multimeter/services/ratelimit"
	"github.com/multimeter-fw/multimeter/services/role"
)

// Names of the cookie and headers the browser UI uses.
const (
	// SessionCookie is the session cookie. The __Host- prefix makes
	// browsers insist on Secure, Path=/ and no Domain.
	SessionCookie = "__Host-mm_session"
	// CSRFHeader carries the session's CSRF token on state-changing
	// requests of cookie sessions.
	CSRFHeader = "X-CSRF-Token"
	// quietHeader: a request with it gets no WWW-Authenticate challenge
	// on a 401, so a browser app's fetch does not pop up a login dialog.
	quietHeader = "X-Requested-With"
)

// Config configures the Service. Zero fields mean the defaults.
type Config struct {
	UsersFile     string          // required: the users JSON file
	AdminPassword string          // admin's password when UsersFile does not exist yet
	Console       io.Writer       // where a generated first-boot password is shown
	HashParams    passhash.Params // argon2id cost of new hashes

	SessionIdle        time.Duration // default 30 minutes
	SessionLifetime    time.Duration // default 12 hours
	MaxSessions        int           // default 1024
	MaxSessionsPerUser int           // default 32

	ClientLimit ratelimit.Config // failed attempts per client address (default 10, one per 10 s)
	UserLimit   ratelimit.Config // failed attempts per user name (default 5, one per 30 s)

	Now func() time.Time // clock; time.Now by default
}

func (c *Config) fillDefaults() {
	if c.Console == nil {
		c.Console = io.Discard
	}
	if c.SessionIdle <= 0 {
		c.SessionIdle = 30 * time.Minute
	}
	if c.SessionLifetime <= 0 {
		c.SessionLifetime = 12 * time.Hour
	}
	if c.MaxSessions <= 0 {
		c.MaxSessions = 1024
	}
	if c.MaxSessionsPerUser <= 0 {
		c.MaxSessionsPerUser = 32
	}
	if c.ClientLimit.Burst == 0 && c.ClientLimit.Refill == 0 {
		c.ClientLimit.Burst, c.ClientLimit.Refill = 10, 10*time.Second
	}
	if c.UserLimit.Burst == 0 && c.UserLimit.Refill == 0 {
		c.UserLimit.Burst, c.UserLimit.Refill = 5, 30*time.Second
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	c.ClientLimit.Now, c.UserLimit.Now = c.Now, c.Now
}

// Service authenticates requests and manages users, tokens and sessions.
// It is safe for concurrent use.
type Service struct {
	log      *slog.Logger
	users    *store
	sessions *sessions
	clients  *ratelimit.Limiter
	names    *ratelimit.Limiter
}

// New opens the users file (creating it on first boot) and returns the
// Service.
func New(cfg Config, log *slog.Logger) (*Service, error) {
	cfg.fillDefaults()
	users, created, err := openStore(cfg.UsersFile, cfg.HashParams, cfg.AdminPassword, cfg.Console, cfg.Now)
	if err != nil {
		return nil, err
	}
	switch {
	case created:
		log.Info("users file created with the admin user", "file", cfg.UsersFile)
	case cfg.AdminPassword != "":
		log.Info("initial admin password ignored: the users file exists", "file", cfg.UsersFile)
	}
	return &Service{
		log:      log,
		users:    users,
		sessions: newSessions(cfg.SessionIdle, cfg.SessionLifetime, cfg.MaxSessions, cfg.MaxSessionsPerUser, cfg.Now),
		clients:  ratelimit.New(cfg.ClientLimit),
		names:    ratelimit.New(cfg.UserLimit),
	}, nil
}

// Method is how a request authenticated.
type Method uint8

// The ways to authenticate.
const (
	MethodSession Method = iota + 1 // session cookie from the login endpoint
	MethodBasic                     // HTTP Basic
	MethodToken                     // API token (Bearer)
)

func (m Method) String() string {
	switch m {
	case MethodSession:
		return "session"
	case MethodBasic:
		return "basic"
	case MethodToken:
		return "token"
	}
	return "none"
}

// Principal is an authenticated caller.
type Principal struct {
	User      string
	Roles     role.Set // effective: a token's roles are cut to its user's
	Method    Method
	TokenID   string // MethodToken only
	CSRFToken string // MethodSession only

	userID     string
	sessionKey [32]byte
	password   string // MethodBasic: the hash the password matched
}

// Authenticate identifies the caller of r from its Authorization header,
// or else its session cookie. The errors are *apierr.Error values: 401
// (with a Basic challenge unless the request says it comes from a script
// of the UI), 403 for a cookie request without its CSRF token, 429 while
// the client or user name is rate limited.
func (s *Service) Authenticate(r *http.Request) (Principal, error) {
	if h := r.Header.Get("Authorization"); h != "" {
		scheme, cred, _ := strings.Cut(h, " ")
		switch strings.ToLower(scheme) {
		case "basic":
			name, password, ok := r.BasicAuth()
			if !ok {
				return Principal{}, s.unauthorized(r, "malformed Basic credentials")
			}
			return s.checkPassword(r, name, password, MethodBasic)
		case "bearer":
			return s.checkToken(r, strings.TrimSpace(cred))
		}
		return Principal{}, s.unauthorized(r, "unsupported Authorization scheme")
	}
	c, err := r.Cookie(SessionCookie)
	if err != nil {
		return Principal{}, s.unauthorized(r, "authentication required")
	}
	return s.checkSession(r, c.Value)
}

func (s *Service) unauthorized(r *http.Request, msg string) *apierr.Error {
	e := apierr.New(http.StatusUnauthorized, "%s", msg)
	if r.Header.Get(quietHeader) == "" {
		e.Header = http.Header{"Www-Authenticate": {`Basic realm="Multimeter", charset="UTF-8"`}}
	}
	return e
}

// limited answers 429 while the client or the user name has no attempts
// left.
func (s *Service) limited(r *http.Request, name string) error {
	wait := max(s.clients.Wait(clientKey(r)), s.names.Wait(name))
	if wait == 0 {
		return nil
	}
	s.log.Warn("authentication rate limited", "client", clientKey(r), "user", logName(name))
	e := apierr.New(http.StatusTooManyRequests, "too many failed attempts; try again later")
	e.RetryAfter = wait
	return e
}

func (s *Service) failed(r *http.Request, method Method, name, reason string) error {
	s.clients.Fail(clientKey(r))
	if name != "" {
		s.names.Fail(name)
	}
	s.log.Warn("authentication failed", "method", method.String(), "user", logName(name), "client", clientKey(r), "reason", reason)
	e := s.unauthorized(r, "invalid user name or password")
	if method == MethodSession {
		e.Header = nil // the login form is no place for a Basic challenge
	}
	return e
}

func (s *Service) checkPassword(r *http.Request, name, password string, m Method) (Principal, error) {
	if err := s.limited(r, name); err != nil {
		return Principal{}, err
	}
	u, ok, err := s.users.checkPassword(r.Context(), name, password)
	if err != nil {
		return Principal{}, err
	}
	if !ok {
		return Principal{}, s.failed(r, m, name, "wrong user name or password")
	}
	s.names.Reset(name)
	return Principal{User: u.Name, Roles: u.Roles, Method: m, userID: u.id, password: u.password}, nil
}

func (s *Service) checkToken(r *http.Request, tok string) (Principal, error) {
	if err := s.limited(r, ""); err != nil {
		return Principal{}, err
	}
	u, t, ok := s.users.checkToken(tok)
	if !ok {
		return Principal{}, s.failed(r, MethodToken, "", "unknown or revoked token")
	}
	return Principal{User: u.Name, Roles: t.Roles, Method: MethodToken, TokenID: t.ID, userID: u.id}, nil
}

func (s *Service) checkSession(r *http.Request, cookie string) (Principal, error) {
	sess, ok := s.sessions.get(cookie)
	if !ok {
		return Principal{}, s.unauthorized(r, "session expired; log in again")
	}
	u, ok := s.users.userByID(sess.user, sess.userID)
	if !ok {
		s.sessions.delete(sess.key)
		return Principal{}, s.unauthorized(r, "session expired; log in again")
	}
	if changesState(r.Method) {
		if !SameOrigin(r) {
			return Principal{}, apierr.New(http.StatusForbidden, "cross-origin request refused")
		}
		got := r.Header.Get(CSRFHeader)
		if subtle.ConstantTimeCompare([]byte(got), []byte(sess.csrf)) != 1 {
			return Principal{}, apierr.New(http.StatusForbidden, "missing or wrong %s header", CSRFHeader)
		}
	}
	return Principal{User: u.Name, Roles: u.Roles, Method: MethodSession, CSRFToken: sess.csrf, userID: u.id, sessionKey: sess.key}, nil
}

// changesState reports whether a request method may change something.
func changesState(method string) bool {
	switch method {
	case http.MethodGet, http.MethodHead, http.MethodOptions:
		return false
	}
	return true
}

// SameOrigin reports whether r's Origin header, if any, names the host the
// request was sent to, over HTTPS. Clients without an Origin (scripts) pass;
// browsers on another site's page do not.
func SameOrigin(r *http.Request) bool {
	o := r.Header.Get("Origin")
	if o == "" {
		return true
	}
	rest, ok := strings.CutPrefix(o, "https://")
	return ok && strings.EqualFold(rest, r.Host)
}

// Login checks a user name and password from the login endpoint, starts a
// browser session and sets its cookie on w.
func (s *Service) Login(w http.ResponseWriter, r *http.Request, name, password string) (Principal, error) {
	if !SameOrigin(r) {
		return Principal{}, apierr.New(http.StatusForbidden, "cross-origin request refused")
	}
	p, err := s.checkPassword(r, name, password, MethodSession)
	if err != nil {
		return Principal{}, err
	}
	cookie, sess := s.sessions.create(p.User, p.userID)
	p.CSRFToken, p.sessionKey = sess.csrf, sess.key
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: cookie, Path: "/", Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
	s.log.Info("login", "user", p.User, "client", clientKey(r))
	return p, nil
}

// Logout ends p's session, if it has one, and clears the cookie.
func (s *Service) Logout(w http.ResponseWriter, p Principal) {
	if p.Method != MethodSession {
		return
	}
	s.sessions.delete(p.sessionKey)
	http.SetCookie(w, &http.Cookie{Name: SessionCookie, Value: "", Path: "/", MaxAge: -1, Secure: true, HttpOnly: true, SameSite: http.SameSiteStrictMode})
}

// Refresh re-checks a principal authenticated earlier, for connections
// that outlive their request (the websocket): it fails once the session
// has ended, the token was revoked, the password used has changed or the
// user was deleted, and returns the roles as they are now.
func (s *Service) Refresh(p Principal) (Principal, error) {
	u, ok := s.users.userByID(p.User, p.userID)
	gone := apierr.New(http.StatusUnauthorized, "credentials no longer valid")
	if !ok {
		return Principal{}, gone
	}
	switch p.Method {
	case MethodSession:
		if !s.sessions.alive(p.sessionKey) {
			return Principal{}, gone
		}
		p.Roles = u.Roles
	case MethodToken:
		t, ok := s.users.token(p.User, p.TokenID)
		if !ok {
			return Principal{}, gone
		}
		p.Roles = u.Roles.Grant(t.Roles)
	case MethodBasic:
		if u.password != p.password {
			return Principal{}, gone
		}
		p.Roles = u.Roles
	default:
		return Principal{}, gone
	}
	return p, nil
}

// clientKey is the rate-limiting key of r's client: its address, or its
// /64 for IPv6, where one host commonly owns the whole prefix.
func clientKey(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, err := netip.ParseAddr(host)
	if err != nil {
		return host
	}
	a = a.Unmap()
	if a.Is6() {
		p, _ := a.Prefix(64)
		return p.String()
	}
	return a.String()
}

// logName cuts a user name someone typed short for the log, so that a
// password typed into the name field by mistake is not logged whole.
func logName(name string) string {
	if len(name) > 32 {
		name = name[:32] + "..."
	}
	return name
}

// ChangePassword sets p's own password after checking the old one, which
// counts as a login attempt for rate limiting. The user's other sessions
// end; the current one stays.
func (s *Service) ChangePassword(r *http.Request, p Principal, old, password string) error {
	if p.Method == MethodToken {
		return apierr.New(http.StatusForbidden, "API tokens cannot change passwords")
	}
	if err := validPassword(password); err != nil {
		return apierr.BadParam("newPassword", "%v", err)
	}
	if err := s.limited(r, p.User); err != nil {
		return err
	}
	if _, ok, err := s.users.checkPassword(r.Context(), p.User, old); err != nil || !ok {
		if err == nil {
			s.failed(r, p.Method, p.User, "wrong old password on password change")
			err = apierr.BadParam("oldPassword", "wrong password")
		}
		return err
	}
	if _, err := s.users.setPassword(r.Context(), p.User, password); err != nil {
		return err
	}
	s.sessions.dropUser(p.userID, p.sessionKey)
	s.log.Info("password changed", "user", p.User)
	return nil
}
